//! Pure validation of a [`RawConfig`] into a [`Config`]: no I/O, and every
//! failure names the key it is about.

use std::net::SocketAddr;
use std::time::Duration;

use super::raw::*;
use super::*;
use crate::model::facts::{expand_country_list, CLICK_IDS};
use crate::model::net::Cidr;
use crate::model::Named;

pub(super) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// One of a closed set, by its name.
fn choice<T: Named>(key: &str, value: &str) -> Result<T, ConfigError> {
    T::parse(value).ok_or_else(|| {
        let names: Vec<String> = T::VARIANTS
            .iter()
            .map(|v| format!("{:?}", v.as_str()))
            .collect();
        invalid(
            key,
            format!("expected one of {}, got {value:?}", names.join(", ")),
        )
    })
}

/// `[policy]`.
fn policy(p: &RawPolicy) -> Result<Policy, ConfigError> {
    let ip = choice("policy.ip", &p.ip)?;
    let location = choice("policy.location", &p.location)?;
    let referrer = choice("policy.referrer", &p.referrer)?;
    query_params(&p.query_params)?;
    exclude_countries(&p.exclude_countries)?;
    let ttl = p.event_ttl_days;
    if !(3..=3650).contains(&ttl) {
        return Err(invalid(
            "policy.event_ttl_days",
            "must be between 3 and 3650 (a day is rolled up into the aggregates two days after it ends, from its events)",
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
        browser_version: choice("policy.browser_version", &p.browser_version)?,
        os_version: choice("policy.os_version", &p.os_version)?,
        referrer,
        query_params: p.query_params.clone(),
        redact_paths: p.redact_paths,
        dnt: choice("policy.dnt", &p.dnt)?,
        gpc: choice("policy.gpc", &p.gpc)?,
        opt_out: p.opt_out,
        exclude_countries: expand_country_list(&p.exclude_countries),
        event_ttl_days: ttl as u32,
        aggregate_ttl_months: agg as u32,
        rollup_delay_minutes: if p.rollup_delay_minutes <= 24 * 60 {
            p.rollup_delay_minutes as u32
        } else {
            return Err(invalid(
                "policy.rollup_delay_minutes",
                "must be at most 1440 (one day)",
            ));
        },
        email_burst_ms: if p.email_burst_ms <= 60_000 {
            p.email_burst_ms as u32
        } else {
            return Err(invalid(
                "policy.email_burst_ms",
                "must be at most 60000 (one minute)",
            ));
        },
    })
}

/// `policy.query_params`: parameter names, none read into its own column.
fn query_params(params: &[String]) -> Result<(), ConfigError> {
    for (i, q) in params.iter().enumerate() {
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
        if q.starts_with("utm_") || CLICK_IDS.contains(&q.as_str()) {
            return Err(invalid(
                format!("policy.query_params[{i}]"),
                format!("{q:?} is read into its own column; it need not be kept in the query"),
            ));
        }
    }
    Ok(())
}

/// `policy.exclude_countries`: ISO codes, `EU` or `EEA`.
fn exclude_countries(countries: &[String]) -> Result<(), ConfigError> {
    for (i, c) in countries.iter().enumerate() {
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
    Ok(())
}

/// `[[funnels]]`: a unique name, 2 to 8 steps, known sites.
fn funnels(raw: &[RawFunnel], sites: &[String]) -> Result<Vec<Funnel>, ConfigError> {
    let mut out: Vec<Funnel> = Vec::with_capacity(raw.len());
    for (i, f) in raw.iter().enumerate() {
        let name = f.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(invalid(
                format!("funnels[{i}].name"),
                "must be 1 to 100 characters",
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(invalid(
                format!("funnels[{i}].name"),
                format!("{name:?} is used by another funnel"),
            ));
        }
        if !(2..=8).contains(&f.steps.len()) {
            return Err(invalid(
                format!("funnels[{i}].steps"),
                "must list 2 to 8 steps",
            ));
        }
        if let Some((j, _)) = f
            .steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.trim().is_empty() || s.len() > 300)
        {
            return Err(invalid(
                format!("funnels[{i}].steps[{j}]"),
                "must be a /path or an event name of 1 to 300 characters",
            ));
        }
        for (j, s) in f.sites.iter().enumerate() {
            if !sites.contains(s) {
                return Err(invalid(
                    format!("funnels[{i}].sites[{j}]"),
                    format!("{s:?} is not a configured site"),
                ));
            }
        }
        out.push(Funnel {
            name: name.to_string(),
            steps: f.steps.iter().map(|s| s.trim().to_string()).collect(),
            sites: if f.sites.is_empty() {
                sites.to_vec()
            } else {
                f.sites.clone()
            },
        });
    }
    Ok(out)
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

fn valid_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

impl RawConfig {
    /// Pure validation: no I/O, every failure names its key. One section
    /// at a time, in the file's order; the exports and funnels last, as
    /// they name the sites.
    pub fn validate(self) -> Result<Config, ConfigError> {
        let server = server(&self.server)?;
        let clickhouse = clickhouse(&self.clickhouse)?;
        let mut sink = sink(&self.sink)?;
        let log_format = log(&self.log)?;
        let policy = policy(&self.policy)?;
        sink.quarantine_ttl_days = policy.event_ttl_days;
        let enrich = enrich(&self.enrich)?;
        let sites = super::sites::validate(&self.sites)?;
        let api_keys = super::api_keys::validate(&self.sites)?;
        let domains: Vec<String> = sites.iter().map(|s| s.domain.clone()).collect();
        let exports = exports(&self.exports, &sites, &domains, &sink)?;
        let funnels = funnels(&self.funnels, &domains)?;
        let dashboard = super::dashboard::validate(&self.dashboard)?;
        Ok(Config {
            listen: server.listen,
            admin_listen: server.admin_listen,
            partner_listen: server.partner_listen,
            max_body_bytes: server.max_body_bytes,
            trusted_proxies: server.trusted_proxies,
            data_dir: server.data_dir,
            shutdown_grace: server.shutdown_grace,
            io_threads: server.io_threads,
            body_timeout: server.body_timeout,
            max_connections: server.max_connections,
            idle_timeout: server.idle_timeout,
            rate_limit: server.rate_limit,
            client_ip_header: server.client_ip_header,
            clickhouse,
            sink,
            log_format,
            log_level: self.log.level.clone(),
            policy,
            enrich,
            sites,
            exports,
            funnels,
            api_keys,
            dashboard,
        })
    }
}

/// `[server]`, validated: the fields of [`Config`] it sets.
struct Server {
    listen: SocketAddr,
    admin_listen: SocketAddr,
    partner_listen: SocketAddr,
    max_body_bytes: usize,
    trusted_proxies: Vec<Cidr>,
    data_dir: PathBuf,
    shutdown_grace: Duration,
    io_threads: usize,
    body_timeout: Duration,
    max_connections: usize,
    idle_timeout: Duration,
    rate_limit: RateLimit,
    client_ip_header: Option<String>,
}

fn server(s: &RawServer) -> Result<Server, ConfigError> {
    let listen = addr("server.listen", &s.listen)?;
    let admin_listen = addr("server.admin_listen", &s.admin_listen)?;
    let partner_listen = addr("server.partner_listen", &s.partner_listen)?;
    if partner_listen.port() != 0 && (partner_listen == admin_listen || partner_listen == listen) {
        return Err(invalid(
            "server.partner_listen",
            "must differ from server.listen and server.admin_listen",
        ));
    }
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
                .map_err(|e| invalid(format!("server.trusted_proxies[{i}]"), e.to_string()))?,
        );
    }
    if s.io_threads > 256 {
        return Err(invalid("server.io_threads", "must be at most 256"));
    }
    if s.data_dir.trim().is_empty() {
        return Err(invalid("server.data_dir", "must not be empty"));
    }
    let ms = |key: &str, v: u64| positive(key, v).map(Duration::from_millis);
    Ok(Server {
        listen,
        admin_listen,
        partner_listen,
        max_body_bytes: max_body as usize,
        trusted_proxies: trusted,
        data_dir: PathBuf::from(&s.data_dir),
        shutdown_grace: Duration::from_millis(s.shutdown_grace_ms),
        io_threads: s.io_threads as usize,
        body_timeout: ms("server.body_timeout_ms", s.body_timeout_ms)?,
        max_connections: positive("server.max_connections", s.max_connections)? as usize,
        idle_timeout: ms("server.idle_timeout_ms", s.idle_timeout_ms)?,
        rate_limit: RateLimit {
            per_second: s.rate_limit_per_second.min(u32::MAX as u64) as u32,
            burst: positive("server.rate_limit_burst", s.rate_limit_burst)?.min(u32::MAX as u64)
                as u32,
            clients: positive("server.rate_limit_clients", s.rate_limit_clients)? as usize,
        },
        client_ip_header: client_ip_header(&s.client_ip_header)?,
    })
}

/// `server.client_ip_header`: a header name, lower-cased, or none.
fn client_ip_header(raw: &str) -> Result<Option<String>, ConfigError> {
    let h = raw.trim().to_ascii_lowercase();
    if !h.is_empty() && hyper::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
        return Err(invalid(
            "server.client_ip_header",
            format!("not a header name: {h:?}"),
        ));
    }
    Ok((!h.is_empty()).then_some(h))
}

fn clickhouse(ch: &RawClickHouse) -> Result<ClickHouseConfig, ConfigError> {
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
    let lz4 = match choice("clickhouse.compression", &ch.compression)? {
        Compression::Lz4 => true,
        Compression::None => false,
        // Compression trades CPU for network bytes: none on loopback,
        // where there is no network to save.
        Compression::Auto => !is_loopback(&url),
    };
    let cluster = match ch.cluster.trim() {
        "" => None,
        c if c.len() <= 64
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Some(c.to_string())
        }
        c => {
            return Err(invalid(
                "clickhouse.cluster",
                format!("not a cluster name (letters, digits, '_', '-'): {c:?}"),
            ))
        }
    };
    Ok(ClickHouseConfig {
        url: ch.url.trim_end_matches('/').to_string(),
        database: ch.database.clone(),
        user: ch.user.clone(),
        password: (!ch.password.is_empty()).then(|| SecretString::from(ch.password.clone())),
        lz4,
        cluster,
    })
}

/// `[sink]`; `quarantine_ttl_days` is left 0 for the policy to set.
fn sink(k: &RawSink) -> Result<SinkConfig, ConfigError> {
    if k.retry_max_interval_ms < k.retry_interval_ms {
        return Err(invalid(
            "sink.retry_max_interval_ms",
            "must be at least sink.retry_interval_ms",
        ));
    }
    let ms = |key: &str, v: u64| positive(key, v).map(Duration::from_millis);
    let sink = SinkConfig {
        durability: choice("sink.durability", &k.durability)?,
        batch_rows: positive("sink.batch_rows", k.batch_rows)? as usize,
        batch_bytes: positive("sink.batch_bytes", k.batch_bytes)? as usize,
        flush_interval: ms("sink.flush_interval_ms", k.flush_interval_ms)?,
        retry_interval: ms("sink.retry_interval_ms", k.retry_interval_ms)?,
        retry_max_interval: ms("sink.retry_max_interval_ms", k.retry_max_interval_ms)?,
        insert_timeout: ms("sink.insert_timeout_ms", k.insert_timeout_ms)?,
        stall_timeout: ms("sink.stall_timeout_ms", k.stall_timeout_ms)?,
        wal_max_bytes: positive("sink.wal_max_bytes", k.wal_max_bytes)?,
        wal_segment_bytes: positive("sink.wal_segment_bytes", k.wal_segment_bytes)?,
        wal_buffer_max_bytes: positive("sink.wal_buffer_max_bytes", k.wal_buffer_max_bytes)?
            as usize,
        wal_commit_max_rows: positive("sink.wal_commit_max_rows", k.wal_commit_max_rows)? as usize,
        wal_commit_max_delay: Duration::from_micros(k.wal_commit_max_delay_us),
        wal_sync_interval: ms("sink.wal_sync_interval_ms", k.wal_sync_interval_ms)?,
        quarantine_ttl_days: 0,
    };
    if k.visits_max_bytes.is_some() {
        return Err(invalid(
            "sink.visits_max_bytes",
            "is no longer a setting: live visits take no memory in the collector (a visit's fragment id is a hash of the visitor id and the half hour); remove the key",
        ));
    }
    if sink.wal_sync_interval > Duration::from_secs(60) {
        return Err(invalid(
            "sink.wal_sync_interval_ms",
            "must be at most 60000 (a power loss loses up to this much)",
        ));
    }
    if sink.wal_segment_bytes > sink.wal_max_bytes {
        return Err(invalid(
            "sink.wal_segment_bytes",
            "must not exceed sink.wal_max_bytes",
        ));
    }
    if sink.batch_bytes < 2 << 20 {
        return Err(invalid(
            "sink.batch_bytes",
            "must be at least 2 MiB (a row may be up to 1 MiB)",
        ));
    }
    Ok(sink)
}

/// `[log]`: the format (the level is kept as written, once it parses).
fn log(l: &RawLog) -> Result<LogFormat, ConfigError> {
    let format = choice("log.format", &l.format)?;
    if tracing_subscriber::EnvFilter::try_new(&l.level).is_err() {
        return Err(invalid(
            "log.level",
            format!("not a log filter: {:?}", l.level),
        ));
    }
    Ok(format)
}

fn enrich(e: &RawEnrich) -> Result<EnrichConfig, ConfigError> {
    let opt_path = |s: &String| (!s.trim().is_empty()).then(|| PathBuf::from(s));
    Ok(EnrichConfig {
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
        mail_networks: opt_path(&e.mail_networks),
    })
}

/// `[[exports]]` (with the sites' own properties), and the one rule they
/// share with the sink: a period settles only after the log could have
/// delivered it.
fn exports(
    raw: &[RawExport],
    sites: &[Site],
    domains: &[String],
    sink: &SinkConfig,
) -> Result<Vec<ExportSpec>, ConfigError> {
    let raw_exports = super::exports::with_site_properties(raw, sites)?;
    let exports = super::exports::validate_all(&raw_exports, domains)?;
    let least = 2 * sink.flush_interval.as_millis() as i64 + 30_000;
    if let Some((i, e)) = exports
        .iter()
        .enumerate()
        .find(|(_, e)| e.settle_ms < least)
    {
        return Err(super::exports::SpecError {
            index: i,
            name: e.name.clone(),
            field: "settle_seconds".into(),
            reason: format!(
                "must be at least twice sink.flush_interval_ms plus 30 s ({} s), got {} s",
                least / 1000,
                e.settle_ms / 1000
            ),
        }
        .into());
    }
    Ok(exports)
}

/// Whether the URL names this machine (`localhost`, 127.0.0.0/8, `::1`).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}
