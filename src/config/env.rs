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
