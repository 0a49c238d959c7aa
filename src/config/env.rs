//! `TACIT_<SECTION>_<KEY>` environment overrides, applied to the parsed
//! TOML table before it becomes a [`RawConfig`](super::RawConfig), so an
//! unknown variable is refused by name like an unknown key.

use std::collections::BTreeMap;

use super::{ConfigError, RawConfig};

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// Environment variables that configure the process rather than a key.
const PROCESS_VARS: &[&str] = &["TACIT_CONFIG", "TACIT_LOG"];

/// `TACIT_PARTNER_TOKENS_<PARTNER>`: SHA-256 hashes (hex, separated by
/// commas or spaces) of bearer tokens that may fetch every export of the
/// partner, added to `token_sha256` (so they can come from a secret
/// store rather than the config file). `<PARTNER>` is the partner's id in
/// upper case with `-` as `_`.
const PARTNER_TOKENS: &str = "TACIT_PARTNER_TOKENS_";

/// `TACIT_EMAIL_KEY_<SITE>`: a site's `email_key` (the domain upper-cased,
/// `.` and `-` as `_`), so the key can come from a secret store.
const EMAIL_KEY: &str = "TACIT_EMAIL_KEY_";

fn add_email_key(table: &mut toml::Table, name: &str, value: &str) -> Result<(), ConfigError> {
    let wanted = &name[EMAIL_KEY.len()..];
    if let Some(toml::Value::Array(sites)) = table.get_mut("sites") {
        for s in sites.iter_mut() {
            let toml::Value::Table(s) = s else { continue };
            let domain = s.get("domain").and_then(|d| d.as_str()).unwrap_or("");
            if domain.to_uppercase().replace(['.', '-'], "_") == wanted {
                s.insert("email_key".into(), toml::Value::String(value.trim().into()));
                return Ok(());
            }
        }
    }
    Err(invalid(name, "no configured site has this domain"))
}

/// `TACIT_API_KEYS_<SITE>`: SHA-256 hashes (hex, separated by commas or
/// spaces) of query API keys, added to the site's `api_keys_sha256` (the
/// domain upper-cased, `.` and `-` as `_`), for secret stores.
const API_KEYS: &str = "TACIT_API_KEYS_";
/// `TACIT_IMPORT_KEYS_<SITE>`: the same for `import_keys_sha256`.
const IMPORT_KEYS: &str = "TACIT_IMPORT_KEYS_";

fn add_api_keys(
    table: &mut toml::Table,
    name: &str,
    value: &str,
    (prefix, list_name): (&str, &str),
) -> Result<(), ConfigError> {
    let wanted = &name[prefix.len()..];
    if let Some(toml::Value::Array(sites)) = table.get_mut("sites") {
        for s in sites.iter_mut() {
            let toml::Value::Table(s) = s else { continue };
            let domain = s.get("domain").and_then(|d| d.as_str()).unwrap_or("");
            if domain.to_uppercase().replace(['.', '-'], "_") != wanted {
                continue;
            }
            let keys = s
                .entry(list_name)
                .or_insert_with(|| toml::Value::Array(Vec::new()));
            let toml::Value::Array(list) = keys else {
                return Err(invalid(
                    name,
                    format!("{list_name} of the site is not a list"),
                ));
            };
            for h in value
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|h| !h.is_empty())
            {
                list.push(toml::Value::String(h.to_string()));
            }
            return Ok(());
        }
    }
    Err(invalid(name, "no configured site has this domain"))
}

fn add_partner_tokens(table: &mut toml::Table, name: &str, value: &str) -> Result<(), ConfigError> {
    let wanted = &name[PARTNER_TOKENS.len()..];
    let mut matched = false;
    if let Some(toml::Value::Array(exports)) = table.get_mut("exports") {
        for e in exports.iter_mut() {
            let toml::Value::Table(e) = e else { continue };
            let partner = e.get("partner").and_then(|p| p.as_str()).unwrap_or("");
            if partner.to_uppercase().replace('-', "_") != wanted {
                continue;
            }
            matched = true;
            let tokens = e
                .entry("token_sha256")
                .or_insert_with(|| toml::Value::Array(Vec::new()));
            let toml::Value::Array(list) = tokens else {
                return Err(invalid(
                    name,
                    "token_sha256 of the partner's export is not a list",
                ));
            };
            for h in value
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|h| !h.is_empty())
            {
                list.push(toml::Value::String(h.to_string()));
            }
        }
    }
    if matched {
        Ok(())
    } else {
        Err(invalid(name, "no [[exports]] entry has this partner"))
    }
}

/// Overlay `TACIT_<SECTION>_<KEY>=value` (and `TACIT_<KEY>` for top-level
/// keys such as `sites`). Values are read as TOML (`["a","b"]`, `5`, `true`)
/// and fall back to a plain string.
pub(super) fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let defaults = toml::Table::try_from(RawConfig::default()).expect("defaults serialize");
    let mut known: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    for (section, value) in &defaults {
        known.insert(
            format!("TACIT_{}", section.to_uppercase()),
            (section.clone(), None),
        );
        if let toml::Value::Table(inner) = value {
            for key in inner.keys() {
                known.insert(
                    format!("TACIT_{}_{}", section.to_uppercase(), key.to_uppercase()),
                    (section.clone(), Some(key.clone())),
                );
            }
        }
    }
    known.insert("TACIT_SITES".into(), ("sites".into(), None));
    for (name, raw_value) in env {
        if !name.starts_with("TACIT_") || PROCESS_VARS.contains(&name.as_str()) {
            continue;
        }
        if name.starts_with(EMAIL_KEY) {
            add_email_key(table, &name, &raw_value)?;
            continue;
        }
        if name.starts_with(API_KEYS) {
            add_api_keys(table, &name, &raw_value, (API_KEYS, "api_keys_sha256"))?;
            continue;
        }
        if name.starts_with(IMPORT_KEYS) {
            add_api_keys(
                table,
                &name,
                &raw_value,
                (IMPORT_KEYS, "import_keys_sha256"),
            )?;
            continue;
        }
        if name.starts_with(PARTNER_TOKENS) {
            add_partner_tokens(table, &name, &raw_value)?;
            continue;
        }
        let Some((section, key)) = known.get(&name) else {
            return Err(invalid(
                name,
                "unknown environment override (no such config key)",
            ));
        };
        let value = parse_env_value(&raw_value);
        match key {
            None => {
                table.insert(section.clone(), value);
            }
            Some(key) => {
                let entry = table
                    .entry(section.clone())
                    .or_insert_with(|| toml::Value::Table(Default::default()));
                match entry {
                    toml::Value::Table(t) => {
                        // Keep the type the key expects: strings stay strings.
                        let expects_string = defaults
                            .get(section)
                            .and_then(|s| s.get(key))
                            .is_some_and(|v| v.is_str());
                        let v = if expects_string {
                            toml::Value::String(raw_value.clone())
                        } else {
                            value
                        };
                        t.insert(key.clone(), v);
                    }
                    _ => return Err(invalid(section.clone(), "expected a table")),
                }
            }
        }
    }
    Ok(())
}

fn parse_env_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.into()),
    }
}
