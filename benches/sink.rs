//! Sink throughput into the local engine: events made once by the real
//! pipeline, then pushed through `SinkHandle::submit` and the writer task
//! until ClickHouse has acknowledged every row, into the full schema. Since
//! the retention tiers there are no per-insert aggregate views (aggregates
//! are rolled up once a day closes); the one per-insert view left copies
//! each event into the sessionizer's working table `events_recent`.
//!
//! `make bench` runs it with 1,000,000 rows (TACIT_SINK_ROWS to change);
//! under `cargo test` it runs a small smoke version.

// Test and bench code: a panic is how a failed step reports itself.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tacit::config::RawConfig;
use tacit::enrich::Enrichers;
use tacit::ingest::{Hit, Outcome, Pipeline, RequestMeta};
use tacit::model::clock::ManualClock;
use tacit::privacy::{Event, RawIdentity, Salts};
use tacit::telemetry::metrics::Metrics;

fn events(n: usize, cfg: &tacit::config::Config) -> Vec<Event> {
    let pipeline = Pipeline::new(
        cfg,
        Arc::new(Enrichers::load(&cfg.enrich).unwrap()),
        Arc::new(Salts::new()),
        Arc::new(ManualClock::new(1_795_737_600_000)),
    );
    let agents: Vec<String> = common::weighted_agents().into_iter().map(|a| a.0).collect();
    let mut out = Vec::with_capacity(n);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let hit = Hit {
            name: Some("pageview".into()),
            url: Some(format!(
                "https://example.com/p/{}?utm_source=s{}",
                x % 500,
                x % 7
            )),
            domain: Some("example.com".into()),
            referrer: Some(
                ["", "https://www.google.com/", "https://t.co/x"][(x % 3) as usize].into(),
            ),
            screen_width: Some(360 + x % 1600),
            props: vec![],
            ..Hit::default()
        };
        let ip = IpAddr::from([
            (x % 200 + 11) as u8,
            (x >> 8) as u8,
            (x >> 16) as u8,
            (x >> 24) as u8,
        ]);
        let ua = &agents[(x >> 32) as usize % agents.len()];
        if let Ok(Outcome::Store(ev)) = pipeline.process(
            hit,
            &RequestMeta::default(),
            RawIdentity::new(ip, None, &[], ua),
        ) {
            out.push(ev);
        }
    }
    out
}

/// Rows per second of wall time, and this process's CPU microseconds per row.
async fn run(url: &str, database: &str, evs: &[Event], copies: usize) -> (f64, f64) {
    let mut raw = RawConfig::default();
    raw.sink.durability = "memory".into();
    raw.clickhouse.url = url.into();
    raw.clickhouse.database = database.into();
    if let Ok(c) = std::env::var("TACIT_SINK_BENCH_COMPRESSION") {
        raw.clickhouse.compression = c;
    }
    raw.server.data_dir = std::env::temp_dir()
        .join(format!("tacit-sink-bench-{database}"))
        .display()
        .to_string();
    let cfg = raw.validate().unwrap();
    common::fresh_database(&cfg).await;
    let client = tacit::store::client(&cfg.clickhouse);
    let metrics = Arc::new(Metrics::default());
    let (sink, task) = common::spawn_sink(&client, &cfg, &metrics).await;
    let total = evs.len() * copies;
    let cpu0 = common::cpu_seconds("self");
    let t = Instant::now();
    for _ in 0..copies {
        for ev in evs {
            while sink.submit(ev).await.is_err() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    task.shutdown().await;
    let secs = t.elapsed().as_secs_f64();
    let cpu = common::cpu_seconds("self") - cpu0;
    assert_eq!(
        metrics.rows_written.load(Ordering::Relaxed) as usize,
        total,
        "every row written"
    );
    let rows: u64 = client
        .query("SELECT count() FROM events")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(rows as usize, total, "every row in ClickHouse");
    common::drop_database(&cfg).await;
    (total as f64 / secs, cpu * 1e6 / total as f64)
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let url =
        std::env::var("TEST_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".into());
    let rows: usize = if full {
        std::env::var("TACIT_SINK_ROWS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000)
    } else {
        20_000
    };
    let raw = common::config_for(&["example.com"]);
    let cfg = raw.validate().unwrap();
    let unique = rows.min(100_000);
    let evs = events(unique, &cfg);
    let copies = rows.div_ceil(unique);
    let (bare, bare_cpu) = run(&url, "tacit_sink_bench", &evs, copies).await;
    println!(
        "sink: {} rows into {url}: {bare:.0} rows/s (target 300000 rows/s; one per-insert view: events_recent). \
         tacit's own CPU per row (submit, log, batch, Native block, compression if on, HTTP): {bare_cpu:.2} us, i.e. {:.0} rows/s per core; the rest of the time is the engine's.",
        unique * copies,
        1e6 / bare_cpu.max(1e-9)
    );
}
