//! Shared by the benches: the vendored data files (`scripts/fetch-data`)
//! and real browser user agents with their traffic weights.

#![allow(dead_code, unused_imports)]

use std::sync::Arc;

use tacit::config::{Config, RawConfig, RawSite};
use tacit::model::clock::SystemClock;
use tacit::sink::{SinkHandle, SinkTask};
use tacit::telemetry::metrics::Metrics;

#[path = "../../tests/support/mod.rs"]
mod support;
pub use support::{vendor, weighted_agents, Rng};

/// Point the enrichment at the vendored data files.
pub fn with_vendored_data(raw: &mut RawConfig) {
    raw.enrich.uap_regexes = vendor("regexes.yaml").display().to_string();
    raw.enrich.isbot_patterns = vendor("isbot.json").display().to_string();
    raw.enrich.crawler_patterns = vendor("crawlers.json").display().to_string();
    raw.enrich.referrers = vendor("referrers.json").display().to_string();
    raw.enrich.geoip = vec![vendor("dbip-country.mmdb").display().to_string()];
}

/// The real sink (write-ahead log under the config's data dir, wall clock),
/// as `serve` wires it, with its purge-fence member (kept for the process).
pub async fn spawn_sink(
    client: &clickhouse::Client,
    cfg: &Config,
    metrics: &Arc<Metrics>,
) -> (SinkHandle, SinkTask) {
    let dir = cfg.data_dir.join("wal");
    let _ = std::fs::remove_dir_all(&dir);
    let (fences, member) = tacit::store::fence::start(
        client.clone(),
        &cfg.clickhouse.database,
        Arc::new(SystemClock),
        None,
    )
    .await
    .expect("read the purge fences");
    // The member lives as long as the bench process.
    std::mem::forget(member);
    tacit::sink::spawn(
        client.clone(),
        cfg.sink.clone(),
        &dir,
        metrics.clone(),
        Arc::new(SystemClock),
        fences,
        tacit::sink::VisitIds::Stamped,
    )
    .expect("open the write-ahead log")
}

/// A default configuration serving the given sites, with the vendored data.
pub fn config_for(sites: &[&str]) -> RawConfig {
    let mut raw = RawConfig {
        sites: sites
            .iter()
            .map(|d| RawSite {
                domain: d.to_string(),
                origins: vec![],
                hash_routing: false,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    with_vendored_data(&mut raw);
    // The benches replay many hits per address; the limiter is not what
    // they measure.
    raw.server.rate_limit_per_second = 0;
    raw
}

/// Drop the bench's database.
pub async fn drop_database(cfg: &Config) {
    tacit::store::base_client(&cfg.clickhouse)
        .query(&format!(
            "DROP DATABASE IF EXISTS `{}` SYNC",
            cfg.clickhouse.database
        ))
        .execute()
        .await
        .expect("drop the bench database");
}

/// A new, empty, migrated database for the bench.
pub async fn fresh_database(cfg: &Config) {
    drop_database(cfg).await;
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .expect("migrate the bench database");
}

/// CPU seconds (user + system) a process has used so far, from its
/// `/proc/<pid>/stat` (`"self"` for this process); 0 if it cannot be read.
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
