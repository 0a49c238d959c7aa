//! Shared by the benches: the vendored data files (`scripts/fetch-data`)
//! and real browser user agents with their traffic weights.

#![allow(dead_code)]

use std::sync::Arc;

use tacit::model::clock::SystemClock;
use tacit::config::{Config, RawConfig};
use tacit::metrics::Metrics;
use tacit::sink::{SinkHandle, SinkTask};

#[path = "../../tests/support/mod.rs"]
mod support;
pub use support::{vendor, weighted_agents};


/// Point the enrichment at the vendored data files.
pub fn with_vendored_data(raw: &mut RawConfig) {
    raw.enrich.uap_regexes = vendor("regexes.yaml").display().to_string();
    raw.enrich.isbot_patterns = vendor("isbot.json").display().to_string();
    raw.enrich.crawler_patterns = vendor("crawlers.json").display().to_string();
    raw.enrich.referrers = vendor("referrers.json").display().to_string();
    raw.enrich.geoip = vec![vendor("dbip-country.mmdb").display().to_string()];
}


/// The real sink (spool under the config's data dir, wall clock), as `serve`
/// wires it.
pub fn spawn_sink(
    client: &clickhouse::Client,
    cfg: &Config,
    metrics: &Arc<Metrics>,
) -> (SinkHandle, SinkTask) {
    let spool =
        tacit::sink::spool::Spool::open(cfg.data_dir.join("spool"), cfg.sink.spool_max_bytes)
            .expect("spool directory");
    tacit::sink::spawn(
        client.clone(),
        cfg.sink.clone(),
        spool,
        metrics.clone(),
        Arc::new(SystemClock),
    )
}
