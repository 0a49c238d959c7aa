//! Configuration: `tacit.toml` parsed into a raw form ([`raw`], unknown keys
//! rejected), overlaid with `TACIT_<SECTION>_<KEY>` environment variables
//! ([`env`]), then validated purely ([`validate`]) into a [`Config`] that the
//! rest of tacit trusts. Every error names the key it is about. Partner
//! export definitions have their own module ([`exports`]) and error type.

pub mod api_keys;
pub mod bound;
pub mod dashboard;
mod env;
pub mod exports;
mod partners;
mod raw;
mod sites;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretSlice, SecretString};

pub use crate::model::net::Cidr;
pub use crate::model::policy::*;
pub use exports::{ExportSpec, RawExport, SpecError};
pub use raw::*;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    #[error("config: {0}")]
    Export(#[from] SpecError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// `clickhouse.compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum Compression {
    /// LZ4 unless the engine is on this machine (no network to save).
    Auto,
    Lz4,
    None,
}

crate::model::named::named!(LogFormat, Durability, Compression);

#[derive(Debug, Clone)]
pub struct EnrichConfig {
    pub uap_regexes: Option<PathBuf>,
    pub isbot_patterns: Option<PathBuf>,
    pub crawler_patterns: Option<PathBuf>,
    pub referrers: Option<PathBuf>,
    pub geoip: Vec<PathBuf>,
    pub ua_cache_size: usize,
    pub mail_networks: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub domain: String,
    /// Extra allowed CORS origins beyond the domain and its subdomains.
    pub origins: Vec<String>,
    /// Keep `#/route` fragments as part of the path (single-page apps).
    pub hash_routing: bool,
    /// Umami's id for the site (lower-case UUID), if hits come from Umami's tracker.
    pub umami_website_id: Option<String>,
    /// Signs email click links; email beacons are served only with one.
    pub email_key: Option<EmailKey>,
    /// Custom property keys that may be stored (and exported); `None`:
    /// every key (the default, as before the list existed).
    pub allowed_properties: Option<Vec<String>>,
}

/// A site's email link key: a `secrecy` secret (zeroed when dropped),
/// read only through [`EmailKey::expose`]; its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct EmailKey(SecretSlice<u8>);

impl EmailKey {
    pub fn new(key: Vec<u8>) -> Self {
        EmailKey(key.into())
    }

    /// The key's bytes, for signing and verifying links.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for EmailKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailKey(<secret>)")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub partner_listen: SocketAddr,
    pub max_body_bytes: usize,
    pub trusted_proxies: Vec<Cidr>,
    pub data_dir: PathBuf,
    pub shutdown_grace: Duration,
    pub io_threads: usize,
    pub body_timeout: Duration,
    /// Connections per I/O thread.
    pub max_connections: usize,
    /// Idle keep-alive (and request-head) timeout of every listener.
    pub idle_timeout: Duration,
    pub rate_limit: RateLimit,
    /// Lower-case header name, if configured.
    pub client_ip_header: Option<String>,
    pub clickhouse: ClickHouseConfig,
    pub sink: SinkConfig,
    pub log_format: LogFormat,
    pub log_level: String,
    pub policy: Policy,
    pub enrich: EnrichConfig,
    pub sites: Vec<Site>,
    /// Partner exports (`[[exports]]`).
    pub exports: Vec<ExportSpec>,
    /// Funnels rolled up per day (`[[funnels]]`).
    pub funnels: Vec<Funnel>,
    /// Query API keys per site (`[[sites]] api_keys_sha256`).
    pub api_keys: Vec<api_keys::SiteKeys>,
    /// Shared dashboard links (`[dashboard]`).
    pub dashboard: dashboard::DashboardConfig,
}

/// A configured funnel, for the sites it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funnel {
    pub name: String,
    pub steps: Vec<String>,
    pub sites: Vec<String>,
}

#[derive(Clone)]
pub struct ClickHouseConfig {
    pub url: String,
    pub database: String,
    pub user: String,
    /// A `secrecy` secret, exposed only to the client builder; `Debug`
    /// shows whether one is set. `None`: no password.
    pub password: Option<SecretString>,
    pub lz4: bool,
    /// The cluster tacit's tables live on (`None`: a single server).
    pub cluster: Option<String>,
}

impl std::fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseConfig")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_some() { "<set>" } else { "" },
            )
            .field("lz4", &self.lz4)
            .field("cluster", &self.cluster)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub durability: Durability,
    pub batch_rows: usize,
    pub batch_bytes: usize,
    pub flush_interval: Duration,
    /// The first wait before a failed range is sent again; it doubles
    /// (with jitter) on each failure in a row, up to `retry_max_interval`.
    pub retry_interval: Duration,
    pub retry_max_interval: Duration,
    /// Every ClickHouse call of the writer gives up after this.
    pub insert_timeout: Duration,
    /// `/readyz` fails when rows wait and nothing was written for this long.
    pub stall_timeout: Duration,
    pub wal_max_bytes: u64,
    pub wal_segment_bytes: u64,
    pub wal_buffer_max_bytes: usize,
    pub wal_commit_max_rows: usize,
    pub wal_commit_max_delay: Duration,
    /// With `Durability::Process`: the longest a written row waits for its sync.
    pub wal_sync_interval: Duration,
    /// Quarantined rows are deleted with their day's file after this many
    /// days: `policy.event_ttl_days`, as the same rows in `events`.
    pub quarantine_ttl_days: u32,
}

/// The per-client-network rate limit.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// 0: off.
    pub per_second: u32,
    pub burst: u32,
    pub clients: usize,
}

/// When a hit is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum Durability {
    /// After its row is synced to the write-ahead log: survives a crash of
    /// tacit and of the machine (power loss).
    Wal,
    /// After its row is written to the write-ahead log: survives a crash or
    /// kill of tacit; a power loss or kernel crash can lose the rows written
    /// in the last `wal_sync_interval`.
    Process,
    /// As soon as its row is buffered: a crash loses what was not yet synced
    /// (at most one group commit, bounded by `wal_buffer_max_bytes`).
    Memory,
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
    fn compression_auto_is_off_on_loopback_only() {
        let lz4 = |url: &str, c: &str| {
            let text = format!("[clickhouse]\nurl = {url:?}\ncompression = {c:?}");
            RawConfig::from_toml(&text)
                .unwrap()
                .validate()
                .unwrap()
                .clickhouse
                .lz4
        };
        assert!(!lz4("http://127.0.0.1:8123", "auto"));
        assert!(!lz4("http://localhost:8123", "auto"));
        assert!(!lz4("http://[::1]:8123", "auto"));
        assert!(lz4("http://clickhouse.internal:8123", "auto"));
        assert!(lz4("http://10.0.0.7:8123", "auto"));
        assert!(lz4("http://127.0.0.1:8123", "lz4"));
        assert!(!lz4("http://10.0.0.7:8123", "none"));
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
            ("[sink]\ndurability = \"fsync\"", "sink.durability"),
            (
                "[sink]\ndurability = \"process\"\nwal_sync_interval_ms = 90000",
                "sink.wal_sync_interval_ms",
            ),
            // Removed: the collector keeps no visit state to bound.
            ("[sink]\nvisits_max_bytes = 268435456", "sink.visits_max_bytes"),
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
            (
                "[[sites]]\ndomain = \"example.com\"\n[[exports]]\nname = \"m\"\npartner = \"p\"\nsites = [\"example.com\"]\ndimensions = [\"country\"]\nmetrics = [\"visitors\"]\nsettle_seconds = 10\n",
                "exports[0] (m).settle_seconds",
            ),
        ];
        for (text, key) in cases {
            let err = RawConfig::from_toml(text).unwrap().validate().unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn env_overrides_keys_and_rejects_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tacit.toml");
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
        let cfg = raw.clone().validate().expect("valid");
        let shown = format!("{:?}", cfg.clickhouse);
        assert!(
            !shown.contains("\"123\"") && shown.contains("<set>"),
            "{shown}"
        );
        assert_eq!(raw.sites[0].domain, "example.com");
        let err = RawConfig::load(&path, true, env(&[("TACIT_SERVER_LISTN", "x")])).unwrap_err();
        assert!(err.to_string().contains("TACIT_SERVER_LISTN"), "{err}");
    }

    #[test]
    fn api_keys_come_from_the_environment() {
        let dir = std::env::temp_dir().join(format!("tacit-apikey-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tacit.toml");
        std::fs::write(&path, "[[sites]]\ndomain = \"shop-1.example.com\"\n").unwrap();
        let a = "c".repeat(64);
        let raw = RawConfig::load(
            &path,
            true,
            env(&[("TACIT_API_KEYS_SHOP_1_EXAMPLE_COM", &a)]),
        )
        .unwrap();
        let cfg = raw.validate().unwrap();
        assert_eq!(cfg.api_keys[0].sha256, vec![[0xcc; 32]]);
        let err =
            RawConfig::load(&path, true, env(&[("TACIT_API_KEYS_NOPE_ORG", &a)])).unwrap_err();
        assert!(err.to_string().contains("TACIT_API_KEYS_NOPE_ORG"), "{err}");
    }

    #[test]
    fn partner_tokens_come_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tacit.toml");
        std::fs::write(
            &path,
            "[[sites]]\ndomain = \"example.com\"\n[[exports]]\nname = \"m\"\npartner = \"acme-co\"\nsites = [\"example.com\"]\ndimensions = [\"country\"]\nmetrics = [\"visitors\"]\n",
        )
        .unwrap();
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let raw = RawConfig::load(
            &path,
            true,
            env(&[("TACIT_PARTNER_TOKENS_ACME_CO", &format!("{a}, {b}"))]),
        )
        .unwrap();
        assert_eq!(raw.exports[0].token_sha256, vec![a.clone(), b]);
        let cfg = raw.validate().unwrap();
        assert_eq!(cfg.exports[0].token_sha256.len(), 2);
        // A partner no export names, or a hash that is not one, is refused
        // by name.
        let err =
            RawConfig::load(&path, true, env(&[("TACIT_PARTNER_TOKENS_ZETA", &a)])).unwrap_err();
        assert!(
            err.to_string().contains("TACIT_PARTNER_TOKENS_ZETA"),
            "{err}"
        );
        let raw =
            RawConfig::load(&path, true, env(&[("TACIT_PARTNER_TOKENS_ACME_CO", "xyz")])).unwrap();
        let err = raw.validate().unwrap_err();
        assert!(err.to_string().contains("token_sha256"), "{err}");
    }
}
