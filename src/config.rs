//! Configuration: `tacit.toml` parsed into a raw form (unknown keys rejected),
//! overlaid with `TACIT_<SECTION>_<KEY>` environment variables, then validated
//! purely into a [`Config`] that the rest of tacit trusts. Every error names
//! the key it is about.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::privacy::ip::Cidr;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config: cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config: {0}")]
    Parse(String),
    #[error("config: {key}: {reason}")]
    Invalid { key: String, reason: String },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------- raw form

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub server: RawServer,
    pub clickhouse: RawClickHouse,
    pub sink: RawSink,
    pub log: RawLog,
    pub policy: RawPolicy,
    pub enrich: RawEnrich,
    pub sites: Vec<RawSite>,
    pub exports: Vec<crate::export::spec::RawExport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: String,
    pub admin_listen: String,
    pub max_body_bytes: u64,
    pub trusted_proxies: Vec<String>,
    pub data_dir: String,
    pub shutdown_grace_ms: u64,
    /// Threads serving hits, each with its own runtime and SO_REUSEPORT
    /// listener; 0 means one per CPU.
    pub io_threads: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawClickHouse {
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: String,
    pub compression: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSink {
    pub queue_capacity: u64,
    pub batch_rows: u64,
    pub flush_interval_ms: u64,
    pub retry_interval_ms: u64,
    pub spool_max_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    pub format: String,
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPolicy {
    pub ip: String,
    pub location: String,
    pub browser_version: String,
    pub os_version: String,
    pub referrer: String,
    pub query_params: Vec<String>,
    pub redact_paths: bool,
    pub dnt: String,
    pub gpc: String,
    pub opt_out: bool,
    pub exclude_countries: Vec<String>,
    pub event_ttl_days: u64,
    pub aggregate_ttl_months: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEnrich {
    pub uap_regexes: String,
    pub isbot_patterns: String,
    pub crawler_patterns: String,
    pub referrers: String,
    pub geoip: Vec<String>,
    pub ua_cache_size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RawSite {
    pub domain: String,
    pub origins: Vec<String>,
    pub hash_routing: bool,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            server: RawServer::default(),
            clickhouse: RawClickHouse::default(),
            sink: RawSink::default(),
            log: RawLog::default(),
            policy: RawPolicy::default(),
            enrich: RawEnrich::default(),
            sites: vec![],
            exports: vec![],
        }
    }
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            admin_listen: "127.0.0.1:8081".into(),
            max_body_bytes: 64 * 1024,
            trusted_proxies: vec![],
            data_dir: ".tacit/data".into(),
            shutdown_grace_ms: 10_000,
            io_threads: 0,
        }
    }
}

impl Default for RawClickHouse {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8123".into(),
            database: "tacit".into(),
            user: "default".into(),
            password: String::new(),
            compression: "lz4".into(),
        }
    }
}

impl Default for RawSink {
    fn default() -> Self {
        Self {
            queue_capacity: 100_000,
            batch_rows: 50_000,
            flush_interval_ms: 1_000,
            retry_interval_ms: 1_000,
            spool_max_bytes: 1 << 30,
        }
    }
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

impl Default for RawPolicy {
    fn default() -> Self {
        Self {
            ip: "drop".into(),
            location: "region".into(),
            browser_version: "major".into(),
            os_version: "major".into(),
            referrer: "host".into(),
            query_params: vec![],
            redact_paths: true,
            dnt: "drop".into(),
            gpc: "drop".into(),
            opt_out: true,
            exclude_countries: vec![],
            event_ttl_days: 30,
            aggregate_ttl_months: 25,
        }
    }
}

impl Default for RawEnrich {
    fn default() -> Self {
        Self {
            uap_regexes: ".tacit/vendor/regexes.yaml".into(),
            isbot_patterns: ".tacit/vendor/isbot.json".into(),
            crawler_patterns: ".tacit/vendor/crawlers.json".into(),
            referrers: ".tacit/vendor/referrers.json".into(),
            geoip: vec![".tacit/vendor/dbip-country.mmdb".into()],
            ua_cache_size: 20_000,
        }
    }
}

impl RawConfig {
    /// Parse TOML text; unknown keys are rejected with their name.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string().trim().to_string()))
    }

    /// Read a file (absent file = all defaults when `required` is false),
    /// then apply `TACIT_*` overrides from `env`.
    pub fn load(
        path: &Path,
        required: bool,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => String::new(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| ConfigError::Parse(e.to_string().trim().into()))?;
        apply_env(&mut table, env)?;
        let raw: RawConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string().trim().into()))?;
        Ok(raw)
    }
}

/// Environment variables that configure the process rather than a key.
const PROCESS_VARS: &[&str] = &["TACIT_CONFIG", "TACIT_LOG"];

/// Overlay `TACIT_<SECTION>_<KEY>=value` (and `TACIT_<KEY>` for top-level
/// keys such as `sites`). Values are read as TOML (`["a","b"]`, `5`, `true`)
/// and fall back to a plain string.
fn apply_env(
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

// ---------------------------------------------------------- validated form

fn choice<T: Copy>(key: &str, value: &str, options: &[(&str, T)]) -> Result<T, ConfigError> {
    options
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
            invalid(
                key,
                format!("expected one of {}, got {value:?}", names.join(", ")),
            )
        })
}

fn validate_policy(p: &RawPolicy) -> Result<Policy, ConfigError> {
    let ip = choice(
        "policy.ip",
        &p.ip,
        &[("drop", IpRule::Drop), ("truncate", IpRule::Truncate)],
    )?;
    let location = choice(
        "policy.location",
        &p.location,
        &[
            ("none", LocationRule::None),
            ("country", LocationRule::Country),
            ("region", LocationRule::Region),
            ("city", LocationRule::City),
        ],
    )?;
    let version = |key: &str, v: &str| {
        choice(
            key,
            v,
            &[("major", VersionRule::Major), ("none", VersionRule::None)],
        )
    };
    let consent = |key: &str, v: &str| {
        choice(
            key,
            v,
            &[
                ("drop", ConsentRule::Drop),
                ("anonymous", ConsentRule::Anonymous),
                ("ignore", ConsentRule::Ignore),
            ],
        )
    };
    let referrer = choice(
        "policy.referrer",
        &p.referrer,
        &[("host", ReferrerRule::Host), ("drop", ReferrerRule::Drop)],
    )?;
    for (i, q) in p.query_params.iter().enumerate() {
        if q.is_empty()
            || !q
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            return Err(invalid(
                format!("policy.query_params[{i}]"),
                format!("not a parameter name: {q:?}"),
            ));
        }
        if q.starts_with("utm_") || crate::ingest::referrer::CLICK_IDS.contains(&q.as_str()) {
            return Err(invalid(
                format!("policy.query_params[{i}]"),
                format!("{q:?} is read into its own column; it need not be kept in the query"),
            ));
        }
    }
    for (i, c) in p.exclude_countries.iter().enumerate() {
        let up = c.to_ascii_uppercase();
        if !(up == "EU"
            || up == "EEA"
            || (up.len() == 2 && up.bytes().all(|b| b.is_ascii_uppercase())))
        {
            return Err(invalid(
                format!("policy.exclude_countries[{i}]"),
                format!("expected an ISO 3166-1 alpha-2 code, EU or EEA, got {c:?}"),
            ));
        }
    }
    let ttl = p.event_ttl_days;
    if !(1..=3650).contains(&ttl) {
        return Err(invalid(
            "policy.event_ttl_days",
            "must be between 1 and 3650",
        ));
    }
    let agg = p.aggregate_ttl_months;
    if !(1..=240).contains(&agg) {
        return Err(invalid(
            "policy.aggregate_ttl_months",
            "must be between 1 and 240",
        ));
    }
    Ok(Policy {
        ip,
        location,
        browser_version: version("policy.browser_version", &p.browser_version)?,
        os_version: version("policy.os_version", &p.os_version)?,
        referrer,
        query_params: p.query_params.clone(),
        redact_paths: p.redact_paths,
        dnt: consent("policy.dnt", &p.dnt)?,
        gpc: consent("policy.gpc", &p.gpc)?,
        opt_out: p.opt_out,
        exclude_countries: crate::ingest::geo::expand_country_list(&p.exclude_countries),
        event_ttl_days: ttl as u32,
        aggregate_ttl_months: agg as u32,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// What happens to the client IP after it has been used in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpRule {
    /// Store the network prefix only: IPv4 /24, IPv6 /48.
    Truncate,
    /// Store nothing of the IP.
    Drop,
}

/// How much of the location is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationRule {
    None,
    Country,
    Region,
    City,
}

/// Versions: the major number, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionRule {
    Major,
    None,
}

/// Referrers: the host, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferrerRule {
    Host,
    Drop,
}

/// What a consent signal (DNT, GPC) does to a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentRule {
    /// Not stored at all (counted as dropped).
    Drop,
    /// Stored without a visitor id: counts, never a visitor.
    Anonymous,
    /// The signal is not acted on.
    Ignore,
}

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub ip: IpRule,
    pub location: LocationRule,
    pub browser_version: VersionRule,
    pub os_version: VersionRule,
    pub referrer: ReferrerRule,
    pub query_params: Vec<String>,
    pub redact_paths: bool,
    pub dnt: ConsentRule,
    pub gpc: ConsentRule,
    pub opt_out: bool,
    /// ISO codes, `EU`/`EEA` expanded.
    pub exclude_countries: Vec<String>,
    pub event_ttl_days: u32,
    pub aggregate_ttl_months: u32,
}

#[derive(Debug, Clone)]
pub struct EnrichConfig {
    pub uap_regexes: Option<PathBuf>,
    pub isbot_patterns: Option<PathBuf>,
    pub crawler_patterns: Option<PathBuf>,
    pub referrers: Option<PathBuf>,
    pub geoip: Vec<PathBuf>,
    pub ua_cache_size: usize,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub domain: String,
    /// Extra allowed CORS origins beyond the domain and its subdomains.
    pub origins: Vec<String>,
    /// Keep `#/route` fragments as part of the path (single-page apps).
    pub hash_routing: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub max_body_bytes: usize,
    pub trusted_proxies: Vec<Cidr>,
    pub data_dir: PathBuf,
    pub shutdown_grace: Duration,
    pub io_threads: usize,
    pub clickhouse: ClickHouseConfig,
    pub sink: SinkConfig,
    pub log_format: LogFormat,
    pub log_level: String,
    pub policy: Policy,
    pub enrich: EnrichConfig,
    pub sites: Vec<Site>,
    /// Partner exports (`[[exports]]`).
    pub exports: Vec<crate::export::spec::ExportSpec>,
}

#[derive(Debug, Clone)]
pub struct ClickHouseConfig {
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: String,
    pub lz4: bool,
}

#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub queue_capacity: usize,
    pub batch_rows: usize,
    pub flush_interval: Duration,
    pub retry_interval: Duration,
    pub spool_max_bytes: u64,
}

fn addr(key: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse()
        .map_err(|_| invalid(key, format!("not a socket address (host:port): {v:?}")))
}

fn positive(key: &str, v: u64) -> Result<u64, ConfigError> {
    if v == 0 {
        Err(invalid(key, "must be greater than 0"))
    } else {
        Ok(v)
    }
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
        })
}

fn valid_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

impl RawConfig {
    /// Pure validation: no I/O, every failure names its key.
    pub fn validate(self) -> Result<Config, ConfigError> {
        let s = &self.server;
        let listen = addr("server.listen", &s.listen)?;
        let admin_listen = addr("server.admin_listen", &s.admin_listen)?;
        if listen == admin_listen && listen.port() != 0 {
            return Err(invalid(
                "server.admin_listen",
                "must differ from server.listen",
            ));
        }
        let max_body = positive("server.max_body_bytes", s.max_body_bytes)?;
        if max_body > 16 << 20 {
            return Err(invalid("server.max_body_bytes", "must be at most 16 MiB"));
        }
        let mut trusted = Vec::new();
        for (i, p) in s.trusted_proxies.iter().enumerate() {
            trusted.push(
                p.parse::<Cidr>()
                    .map_err(|e| invalid(format!("server.trusted_proxies[{i}]"), e))?,
            );
        }
        if s.io_threads > 256 {
            return Err(invalid("server.io_threads", "must be at most 256"));
        }
        if s.data_dir.trim().is_empty() {
            return Err(invalid("server.data_dir", "must not be empty"));
        }

        let ch = &self.clickhouse;
        let url = url::Url::parse(&ch.url)
            .map_err(|e| invalid("clickhouse.url", format!("{e}: {:?}", ch.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("clickhouse.url", "scheme must be http or https"));
        }
        if url.scheme() == "https" {
            return Err(invalid(
                "clickhouse.url",
                "https needs a TLS-terminating proxy in this build; use http on a private network",
            ));
        }
        if !valid_identifier(&ch.database) {
            return Err(invalid(
                "clickhouse.database",
                "must be letters, digits and underscores, not starting with a digit",
            ));
        }
        let lz4 = match ch.compression.as_str() {
            "lz4" => true,
            "none" => false,
            other => {
                return Err(invalid(
                    "clickhouse.compression",
                    format!("expected \"lz4\" or \"none\", got {other:?}"),
                ))
            }
        };

        let k = &self.sink;
        let sink = SinkConfig {
            queue_capacity: positive("sink.queue_capacity", k.queue_capacity)? as usize,
            batch_rows: positive("sink.batch_rows", k.batch_rows)? as usize,
            flush_interval: Duration::from_millis(positive(
                "sink.flush_interval_ms",
                k.flush_interval_ms,
            )?),
            retry_interval: Duration::from_millis(positive(
                "sink.retry_interval_ms",
                k.retry_interval_ms,
            )?),
            spool_max_bytes: positive("sink.spool_max_bytes", k.spool_max_bytes)?,
        };

        let log_format = match self.log.format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "log.format",
                    format!("expected \"text\" or \"json\", got {other:?}"),
                ))
            }
        };
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                format!("not a log filter: {:?}", self.log.level),
            ));
        }

        let policy = validate_policy(&self.policy)?;
        let e = &self.enrich;
        let opt_path = |s: &String| (!s.trim().is_empty()).then(|| PathBuf::from(s));
        let enrich = EnrichConfig {
            uap_regexes: opt_path(&e.uap_regexes),
            isbot_patterns: opt_path(&e.isbot_patterns),
            crawler_patterns: opt_path(&e.crawler_patterns),
            referrers: opt_path(&e.referrers),
            geoip: e
                .geoip
                .iter()
                .filter(|g| !g.trim().is_empty())
                .map(PathBuf::from)
                .collect(),
            ua_cache_size: positive("enrich.ua_cache_size", e.ua_cache_size)? as usize,
        };

        let mut sites: Vec<Site> = Vec::new();
        for (i, site) in self.sites.iter().enumerate() {
            let d = site.domain.trim().to_ascii_lowercase();
            if !valid_domain(&d) {
                return Err(invalid(
                    format!("sites[{i}].domain"),
                    format!("not a hostname: {:?}", site.domain),
                ));
            }
            if sites.iter().any(|s| s.domain == d) {
                return Err(invalid(
                    format!("sites[{i}].domain"),
                    format!("duplicate site {d:?}"),
                ));
            }
            let mut origins = Vec::new();
            for (j, o) in site.origins.iter().enumerate() {
                let u = url::Url::parse(o).map_err(|e| {
                    invalid(format!("sites[{i}].origins[{j}]"), format!("{e}: {o:?}"))
                })?;
                origins.push(u.origin().ascii_serialization());
            }
            sites.push(Site {
                domain: d,
                origins,
                hash_routing: site.hash_routing,
            });
        }

        let domains: Vec<String> = sites.iter().map(|s| s.domain.clone()).collect();
        let exports = crate::export::spec::validate_all(&self.exports, &domains)?;

        Ok(Config {
            listen,
            admin_listen,
            max_body_bytes: max_body as usize,
            trusted_proxies: trusted,
            data_dir: PathBuf::from(&s.data_dir),
            shutdown_grace: Duration::from_millis(s.shutdown_grace_ms),
            io_threads: s.io_threads as usize,
            clickhouse: ClickHouseConfig {
                url: ch.url.trim_end_matches('/').to_string(),
                database: ch.database.clone(),
                user: ch.user.clone(),
                password: ch.password.clone(),
                lz4,
            },
            sink,
            log_format,
            log_level: self.log.level.clone(),
            policy,
            enrich,
            sites,
            exports,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_validate() {
        let c = RawConfig::default().validate().unwrap();
        assert_eq!(c.listen.port(), 8080);
        assert_eq!(c.admin_listen.port(), 8081);
        assert_eq!(c.max_body_bytes, 65536);
        assert_eq!(c.policy.ip, IpRule::Drop);
        assert_eq!(c.policy.dnt, ConsentRule::Drop);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = RawConfig::from_toml("[server]\nlisten_addr = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("listen_addr"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("[server]\nlisten = \"nope\"", "server.listen"),
            (
                "[server]\ntrusted_proxies = [\"10.0.0.0/99\"]",
                "server.trusted_proxies[0]",
            ),
            ("[clickhouse]\nurl = \"ftp://x\"", "clickhouse.url"),
            ("[clickhouse]\ndatabase = \"a-b\"", "clickhouse.database"),
            ("[sink]\nbatch_rows = 0", "sink.batch_rows"),
            ("[log]\nformat = \"xml\"", "log.format"),
            ("[policy]\nip = \"keep\"", "policy.ip"),
            ("[policy]\nlocation = \"street\"", "policy.location"),
            ("[policy]\ndnt = \"maybe\"", "policy.dnt"),
            (
                "[policy]\nquery_params = [\"a b\"]",
                "policy.query_params[0]",
            ),
            (
                "[policy]\nexclude_countries = [\"Germany\"]",
                "policy.exclude_countries[0]",
            ),
            ("[policy]\nevent_ttl_days = 0", "policy.event_ttl_days"),
            ("[[sites]]\ndomain = \"bad domain\"", "sites[0].domain"),
        ];
        for (text, key) in cases {
            let err = RawConfig::from_toml(text).unwrap().validate().unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn env_overrides_keys_and_rejects_unknown() {
        let dir = std::env::temp_dir().join(format!("tacit-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tacit.toml");
        std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:1\"\n").unwrap();
        let raw = RawConfig::load(
            &path,
            true,
            env(&[
                ("TACIT_SERVER_LISTEN", "127.0.0.1:9999"),
                ("TACIT_SINK_BATCH_ROWS", "7"),
                ("TACIT_CLICKHOUSE_PASSWORD", "123"),
                ("TACIT_SITES", "[{domain = \"example.com\"}]"),
                ("TACIT_CONFIG", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(raw.server.listen, "127.0.0.1:9999");
        assert_eq!(raw.sink.batch_rows, 7);
        assert_eq!(raw.clickhouse.password, "123");
        assert_eq!(raw.sites[0].domain, "example.com");
        let err = RawConfig::load(&path, true, env(&[("TACIT_SERVER_LISTN", "x")])).unwrap_err();
        assert!(err.to_string().contains("TACIT_SERVER_LISTN"), "{err}");
    }
}
