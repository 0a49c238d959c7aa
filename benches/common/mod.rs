//! Shared by the benches: the vendored data files (`scripts/fetch-data`)
//! and real browser user agents with their traffic weights.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use std::sync::Arc;

use tacit::model::clock::SystemClock;
use tacit::config::{Config, RawConfig};
use tacit::metrics::Metrics;
use tacit::sink::{SinkHandle, SinkTask};

pub fn vendor(f: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tacit/vendor")
        .join(f)
}

/// Point the enrichment at the vendored data files.
pub fn with_vendored_data(raw: &mut RawConfig) {
    raw.enrich.uap_regexes = vendor("regexes.yaml").display().to_string();
    raw.enrich.isbot_patterns = vendor("isbot.json").display().to_string();
    raw.enrich.crawler_patterns = vendor("crawlers.json").display().to_string();
    raw.enrich.referrers = vendor("referrers.json").display().to_string();
    raw.enrich.geoip = vec![vendor("dbip-country.mmdb").display().to_string()];
}

/// npm `user-agents`: (user agent, share of traffic).
pub fn weighted_agents() -> Vec<(String, f64)> {
    let agents: serde_json::Value = serde_json::from_slice(
        &std::fs::read(vendor("user-agents.json")).expect("run scripts/fetch-data"),
    )
    .expect("user-agents.json is JSON");
    agents
        .as_array()
        .expect("a list of agents")
        .iter()
        .map(|a| {
            (
                a["userAgent"].as_str().unwrap_or_default().to_string(),
                a["weight"].as_f64().unwrap_or(0.0),
            )
        })
        .collect()
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
