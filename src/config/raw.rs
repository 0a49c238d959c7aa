//! The raw form of `tacit.toml`: every section as written, with defaults;
//! unknown keys are refused with their name. Nothing here is trusted until
//! [`RawConfig::validate`](super::RawConfig::validate) has run.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::env::apply_env;
use super::exports::RawExport;
use super::ConfigError;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub server: RawServer,
    pub clickhouse: RawClickHouse,
    pub sink: RawSink,
    pub log: RawLog,
    pub policy: RawPolicy,
    pub enrich: RawEnrich,
    pub sites: Vec<RawSite>,
    pub exports: Vec<RawExport>,
    pub funnels: Vec<RawFunnel>,
    pub dashboard: RawDashboard,
}

/// `[dashboard]`: shared read-only links (see `config::dashboard`).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RawDashboard {
    /// Hex, at least 32 bytes: the key that signs shared links. Empty: no
    /// shared links. Also `TACIT_DASHBOARD_SHARE_SECRET`.
    pub share_secret: String,
    /// Ids of shared links that no longer open.
    pub revoked_shares: Vec<String>,
}

/// A funnel rolled up per day (`[[funnels]]`), so it can be read over any
/// range; ad-hoc funnels only reach back as far as the event tier.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RawFunnel {
    pub name: String,
    /// `/path` for a page view, otherwise a custom event name.
    pub steps: Vec<String>,
    /// Sites it applies to; empty: every configured site.
    pub sites: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: String,
    pub admin_listen: String,
    /// The partner export API's own listener (`/v1/exports/…`): partners
    /// reach it; the admin listener (dashboard, metrics) stays private.
    pub partner_listen: String,
    pub max_body_bytes: u64,
    pub trusted_proxies: Vec<String>,
    pub data_dir: String,
    pub shutdown_grace_ms: u64,
    /// Threads serving hits, each with its own runtime and SO_REUSEPORT
    /// listener; 0 means one per CPU.
    pub io_threads: u64,
    /// A beacon body must arrive within this long (slow senders are cut).
    pub body_timeout_ms: u64,
    /// Connections each I/O thread serves at once; more get a short 503.
    pub max_connections: u64,
    /// A connection with no request in progress (idle keep-alive, or still
    /// sending its headers) is closed after this long.
    pub idle_timeout_ms: u64,
    /// A header a trusted proxy sets to the client address alone (e.g.
    /// `cf-connecting-ip`); empty: read `Forwarded` / `X-Forwarded-For`.
    pub client_ip_header: String,
    /// Hits per second one client network (IPv4 /24, IPv6 /48) may send,
    /// sustained; 0 turns the limit off.
    pub rate_limit_per_second: u64,
    /// Hits one client network may send at once.
    pub rate_limit_burst: u64,
    /// Client networks tracked at a time (bounds the limiter's memory).
    pub rate_limit_clients: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawClickHouse {
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: String,
    pub compression: String,
    /// A ClickHouse cluster name (`remote_servers`): tables are created
    /// `ON CLUSTER`, replicated, and sharded behind `Distributed` tables.
    /// Empty: one server.
    pub cluster: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSink {
    /// "wal" (answer after the row is synced to disk), "process" (after it
    /// is written to the log) or "memory".
    pub durability: String,
    pub batch_rows: u64,
    pub batch_bytes: u64,
    pub flush_interval_ms: u64,
    pub retry_interval_ms: u64,
    pub retry_max_interval_ms: u64,
    pub insert_timeout_ms: u64,
    pub stall_timeout_ms: u64,
    pub wal_max_bytes: u64,
    pub wal_segment_bytes: u64,
    pub wal_buffer_max_bytes: u64,
    pub wal_commit_max_rows: u64,
    pub wal_commit_max_delay_us: u64,
    /// With durability "process": sync the log at most this long after a write.
    pub wal_sync_interval_ms: u64,
    /// Removed (the collector keeps no per-visitor state): an error naming
    /// the key if set.
    pub visits_max_bytes: Option<u64>,
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
    /// A UTC day is rolled up this long after its salt is destroyed (the
    /// start of the day after next).
    pub rollup_delay_minutes: u64,
    /// An email click this soon (ms) after the same recipient-day's first
    /// open or click of the campaign is counted as a machine's.
    pub email_burst_ms: u64,
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
    /// Ranges of email proxies and scanners (`scripts/fetch-data`).
    pub mail_networks: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RawSite {
    pub domain: String,
    pub origins: Vec<String>,
    pub hash_routing: bool,
    /// The site's id in Umami's tracker (`data-website-id`), for `/api/send`.
    pub umami_website_id: String,
    /// The key (hex, at least 32 bytes) that signs this site's email click
    /// links; email beacons are served only for sites that have one. Also
    /// `TACIT_EMAIL_KEY_<SITE>` (the domain upper-cased, `.` and `-` as `_`).
    pub email_key: String,
    /// Custom property keys that may be stored at all (and exported); a
    /// site that lists none keeps every key (values scrubbed either way).
    pub allowed_properties: Option<Vec<String>>,
    /// SHA-256 (hex) of the keys that may read this site's statistics
    /// through the query API (`POST /api/v2/query`); never the keys.
    pub api_keys_sha256: Vec<String>,
    /// SHA-256 (hex) of the keys that may upload history into this site
    /// (`POST /api/import`): a read key never writes.
    pub import_keys_sha256: Vec<String>,
    /// Query API requests each key may make per hour (default 600).
    pub api_rate_limit_per_hour: Option<u64>,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            admin_listen: "127.0.0.1:8081".into(),
            partner_listen: "127.0.0.1:8082".into(),
            max_body_bytes: 64 * 1024,
            trusted_proxies: vec![],
            data_dir: ".tacit/data".into(),
            shutdown_grace_ms: 10_000,
            io_threads: 0,
            body_timeout_ms: 10_000,
            max_connections: 10_000,
            idle_timeout_ms: 10_000,
            client_ip_header: String::new(),
            rate_limit_per_second: 200,
            rate_limit_burst: 2_000,
            rate_limit_clients: 100_000,
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
            compression: "auto".into(),
            cluster: String::new(),
        }
    }
}

impl Default for RawSink {
    fn default() -> Self {
        Self {
            durability: "wal".into(),
            batch_rows: 50_000,
            batch_bytes: 32 << 20,
            flush_interval_ms: 1_000,
            retry_interval_ms: 1_000,
            retry_max_interval_ms: 30_000,
            insert_timeout_ms: 30_000,
            stall_timeout_ms: 60_000,
            wal_max_bytes: 4 << 30,
            wal_segment_bytes: 64 << 20,
            wal_buffer_max_bytes: 64 << 20,
            wal_commit_max_rows: 20_000,
            wal_commit_max_delay_us: 0,
            wal_sync_interval_ms: 1000,
            visits_max_bytes: None,
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
            rollup_delay_minutes: 30,
            email_burst_ms: 2_000,
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
            mail_networks: ".tacit/vendor/mail-networks.csv".into(),
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
