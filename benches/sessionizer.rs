//! The engine's cost per stored event over a whole day, aggregates
//! included: a synthetic day of visits is inserted into `events` in 5-minute
//! steps (as the writer would, minus tacit's own work), the live sessionizer
//! runs after each step, and the day is rolled up at the end. The engine's
//! CPU is read from `/proc/<pid>/stat` of the local engine
//! (`.tacit/clickhouse-dev.pid`, or `TACIT_ENGINE_PID`) around each call.
//!
//! `cargo bench --bench sessionizer` runs 2,000,000 events
//! (`TACIT_SESSIONIZER_EVENTS`) in 288 steps (`TACIT_SESSIONIZER_STEPS`)
//! with the incremental sessionizer; `TACIT_SESSIONIZER_MODES` lists the
//! runs to make: `store` (inserts only, no `events_recent`), `recent`
//! (inserts only), `incremental`, `before` (the former sessionizer: the
//! whole day recomputed every step). Under `cargo test` it runs a smoke
//! version: 20,000 events in 24 steps.

// Test and bench code: a panic is how a failed step reports itself.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Instant;

use tacit::analytics::sessions::{Margins, Sessionizer};
use tacit::model::clock::{day_of, format_day, Clock, SystemClock};

const DAY_MS: i64 = 86_400_000;

fn engine_pid() -> Option<u32> {
    std::env::var("TACIT_ENGINE_PID")
        .ok()
        .or_else(|| std::fs::read_to_string(".tacit/clickhouse-dev.pid").ok())
        .and_then(|p| p.trim().parse().ok())
}

/// CPU seconds the engine used so far, or 0 if it cannot be read.
fn engine_cpu(pid: Option<u32>) -> f64 {
    pid.map_or(0.0, |p| common::cpu_seconds(&p.to_string()))
}

async fn exec(client: &clickhouse::Client, sql: &str) {
    client
        .query(sql)
        .execute()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A day of visits in a staging table: `visitors` visitors, each with one
/// to eight hits from a random start, at gaps from 5 s to 40 minutes (so
/// some visits split), 20% of them with a custom event; two sites.
async fn stage(client: &clickhouse::Client, day: i32, visitors: u64) {
    exec(client, "DROP TABLE IF EXISTS staged").await;
    exec(
        client,
        "CREATE TABLE staged AS events ENGINE = MergeTree ORDER BY ts",
    )
    .await;
    let d0 = day as i64 * DAY_MS;
    exec(
        client,
        &format!(
            "INSERT INTO staged (site, ts, visitor_id, name, pathname, hostname, referrer_source, channel, country, device, browser, os, language)
             SELECT if(v % 4 = 0, 'b.example', 'a.example'),
                    fromUnixTimestamp64Milli(toInt64({d0} + (base + off) * 1000 + v % 1000), 'UTC'),
                    1 + v,
                    if(j > 0 AND (v + j) % 5 = 0, 'signup', 'pageview'),
                    concat('/page/', toString((v * 31 + j * 7) % 200)),
                    'a.example',
                    if(j = 0, ['Google', 'Facebook', '', 'news.example'][1 + v % 4], ''),
                    if(j = 0, ['search', 'social', 'direct', 'referral'][1 + v % 4], 'direct'),
                    ['DE', 'FR', 'US', 'GB', 'BR'][1 + v % 5], ['desktop', 'mobile', 'tablet'][1 + v % 3],
                    'Chrome', 'Windows', 'en'
             FROM
             (
                 SELECT number AS v, range(1 + number % 8) AS hits,
                        arrayCumSum(arrayMap(k -> if(k = 0, 0, [5, 40, 90, 240, 600, 1900, 2400, 30][1 + (number * 7 + k) % 8]), hits)) AS offs,
                        (number * 2654435761) % 79000 AS base
                 FROM numbers({visitors})
             )
             ARRAY JOIN hits AS j, offs AS off"
        ),
    )
    .await;
}

/// What runs after each step.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Inserts only, `events_recent` dropped: the cost of storing.
    Store,
    /// Inserts only, with `events_recent` filled.
    Recent,
    /// Inserts and the incremental sessionizer.
    Incremental,
    /// Inserts and the former sessionizer: the whole day every step.
    Before,
}

impl Mode {
    fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "store" => Mode::Store,
            "recent" => Mode::Recent,
            "incremental" => Mode::Incremental,
            "before" => Mode::Before,
            _ => return None,
        })
    }
}

struct Measured {
    events: u64,
    /// Engine CPU over the whole replay and a settling pause after it
    /// (background merges included).
    total_cpu: f64,
    /// Engine CPU inside the sessionizer's calls.
    sessionize_cpu: f64,
    full_runs: u32,
    wall: f64,
}

/// Insert the staged day step by step, running the mode's sessionizer
/// after each step.
async fn replay(
    store: &tacit::store::Store,
    day: i32,
    pid: Option<u32>,
    mode: Mode,
    steps: i64,
) -> Measured {
    let client = store.client();
    let d0 = day as i64 * DAY_MS;
    let step_ms = DAY_MS / steps;
    let mut s = Sessionizer::new(Margins {
        event_ms: 0,
        insert_ms: 0,
    });
    let (mut sessionize_cpu, mut full_runs) = (0.0, 0);
    let t = Instant::now();
    let start = engine_cpu(pid);
    let stop: i64 = std::env::var("TACIT_SESSIONIZER_STOP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(steps);
    for step in 0..stop {
        let (a, b) = (d0 + step * step_ms, d0 + (step + 1) * step_ms);
        exec(
            client,
            &format!(
                "INSERT INTO events SELECT * FROM staged
                 WHERE ts >= fromUnixTimestamp64Milli({a}, 'UTC') AND ts < fromUnixTimestamp64Milli({b}, 'UTC')"
            ),
        )
        .await;
        let c1 = engine_cpu(pid);
        match mode {
            Mode::Incremental => {
                let full = s.run(store, b - 1).await.unwrap();
                full_runs += u32::from(!full.is_empty());
            }
            Mode::Before => tacit::analytics::sessions::sessionize_day(store, day, b as u64)
                .await
                .unwrap(),
            Mode::Store | Mode::Recent => {}
        }
        sessionize_cpu += engine_cpu(pid) - c1;
        if step % 12 == 11 {
            expire_working_tables(client, b - 6 * 3_600_000).await;
        }
    }
    let wall = t.elapsed().as_secs_f64();
    // Let background merges of the last steps run, and count them.
    tokio::time::sleep(std::time::Duration::from_secs(if steps >= 288 {
        10
    } else {
        1
    }))
    .await;
    let total_cpu = engine_cpu(pid) - start;
    let events: u64 = client
        .query("SELECT count() FROM events")
        .fetch_one()
        .await
        .unwrap();
    Measured {
        events,
        total_cpu,
        sessionize_cpu,
        full_runs,
        wall,
    }
}

/// The working tables keep six hours of rows by their TTL, in real time;
/// the day here passes in minutes, so their hourly partitions older than six
/// hours of the simulated clock are dropped as the TTL would drop them.
async fn expire_working_tables(client: &clickhouse::Client, before_ms: i64) {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Part {
        table: String,
        partition_id: String,
    }
    let parts: Vec<Part> = client
        .query(
            "SELECT DISTINCT table, partition_id FROM system.parts
             WHERE database = currentDatabase() AND active AND table IN ('events_recent', 'sessions_tail')
               AND toDateTime(partition) < fromUnixTimestamp64Milli(?, 'UTC')",
        )
        .bind(before_ms)
        .fetch_all()
        .await
        .unwrap();
    for p in parts {
        exec(
            client,
            &format!(
                "ALTER TABLE {} DROP PARTITION ID '{}'",
                p.table, p.partition_id
            ),
        )
        .await;
    }
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let url =
        std::env::var("TEST_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".into());
    let events: u64 = if full {
        std::env::var("TACIT_SESSIONIZER_EVENTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2_000_000)
    } else {
        20_000
    };
    let modes: Vec<Mode> = std::env::var("TACIT_SESSIONIZER_MODES")
        .unwrap_or_else(|_| "incremental".into())
        .split(',')
        .map(|m| Mode::parse(m.trim()).unwrap_or_else(|| panic!("TACIT_SESSIONIZER_MODES: unknown mode {m:?} (store, recent, incremental, before)")))
        .collect();
    let steps: i64 = std::env::var("TACIT_SESSIONIZER_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 288 } else { 24 });
    let pid = engine_pid();
    // The live days are the engine's today and yesterday: the synthetic day
    // is today, played from midnight whatever the time.
    let day = day_of(SystemClock.now_ms());
    for mode in modes {
        let mut raw = common::config_for(&["a.example", "b.example"]);
        raw.clickhouse.url = url.clone();
        raw.clickhouse.database = "tacit_sessionizer_bench".into();
        let cfg = raw.validate().unwrap();
        common::fresh_database(&cfg).await;
        let store = tacit::store::Store::new(&cfg.clickhouse);
        let client = store.client().clone();
        if matches!(mode, Mode::Store | Mode::Before) {
            exec(&client, "DROP VIEW events_recent_mv").await;
        }
        // 4.5 hits per visitor on average.
        stage(&client, day, events * 2 / 9).await;
        let m = replay(&store, day, pid, mode, steps).await;
        let per = |cpu: f64| cpu * 1e6 / m.events as f64;
        let mut line = format!(
            "sessionizer bench, {mode:?}: {} events in {steps} steps of {} min, {:.1} s. Engine CPU per event over the day \
             (background merges included): {:.2} us, of which inside the sessionizer's calls {:.2} us ({} full runs)",
            m.events,
            DAY_MS / steps / 60_000,
            m.wall,
            per(m.total_cpu),
            per(m.sessionize_cpu),
            m.full_runs,
        );
        if matches!(mode, Mode::Incremental | Mode::Before) {
            // The day closes and is rolled up (recomputed first only if its
            // visits do not hold exactly its events).
            let complete = tacit::analytics::sessions::complete(&store, day)
                .await
                .unwrap();
            let c0 = engine_cpu(pid);
            tacit::analytics::rollup::rollup_day(&store, day, u64::MAX / 2)
                .await
                .unwrap();
            let c1 = engine_cpu(pid);
            let visits: u64 = client
                .query("SELECT count() FROM analytics_visits WHERE day = toDate(?)")
                .bind(format_day(day))
                .fetch_one()
                .await
                .unwrap();
            line.push_str(&format!(
                "; at close, {visits} visits, {}: rollup {:.2} us",
                if complete {
                    "complete, not recomputed"
                } else {
                    "recomputed"
                },
                per(c1 - c0)
            ));
        }
        if pid.is_none() {
            line.push_str(" (engine pid unknown: CPU not measured)");
        }
        println!("{line}");
        if std::env::var("TACIT_SESSIONIZER_KEEP").is_err() {
            common::drop_database(&cfg).await;
        }
    }
}
