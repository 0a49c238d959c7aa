//! `make bench-import`: a generated access log (combined format, real
//! browser agents from npm `user-agents` weighted by traffic, 6% crawler
//! agents, assets, posts and errors among the requests) of 1,000,000 lines
//! (`TACIT_IMPORT_LINES`) over fourteen past days (half still in the event
//! tier, half past it), then:
//!
//! 1. the pipeline alone, on one thread: each line parsed and run through
//!    the import's rules and the live pipeline (bot rules, enrichment,
//!    anonymization), nothing sent: lines/s;
//! 2. `tacit import` end to end into the engine (`TEST_CLICKHOUSE_URL`),
//!    staging, moving and rollups included: lines/s, this process's CPU
//!    and the engine's (`/proc/<pid>/stat` of `.tacit/clickhouse-dev.pid`
//!    or `TACIT_ENGINE_PID`);
//! 3. this process's peak resident memory (`VmHWM`).
//!
//! Under `cargo test` it runs a smoke version of 20,000 lines. No timing is
//! asserted anywhere.
// A bench: a failed setup step should stop it loudly.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Instant;

use tacit::commands::import::{self as imp, rules::Rules, Format, Options, Overlap, Parser};
use tacit::model::clock::{day_of, Clock, SystemClock};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn engine_pid() -> Option<String> {
    std::env::var("TACIT_ENGINE_PID")
        .ok()
        .or_else(|| std::fs::read_to_string(".tacit/clickhouse-dev.pid").ok())
        .map(|p| p.trim().to_string())
}

fn generate(path: &std::path::Path, lines: u64, now: i64) {
    let agents = common::weighted_agents();
    let total: f64 = agents.iter().map(|(_, w)| w).sum();
    let crawlers: Vec<String> = serde_json::from_slice::<serde_json::Value>(
        &std::fs::read(common::vendor("crawlers.json")).unwrap(),
    )
    .unwrap()
    .as_array()
    .unwrap()
    .iter()
    .flat_map(|c| c["instances"].as_array().cloned().unwrap_or_default())
    .filter_map(|v| v.as_str().map(str::to_string))
    .filter(|ua| !ua.contains('"'))
    .collect();
    let mut rng = common::Rng(0x1a2b_3c4d);
    let pick_agent = |rng: &mut common::Rng| {
        let mut x = rng.unit() * total;
        for (a, w) in &agents {
            if x < *w {
                return a.clone();
            }
            x -= w;
        }
        agents[0].0.clone()
    };
    let visitors: Vec<(String, String)> = (0..50_000)
        .map(|_| {
            let ip = format!(
                "{}.{}.{}.{}",
                11 + rng.below(180),
                rng.below(256),
                rng.below(256),
                1 + rng.below(254)
            );
            (ip, pick_agent(&mut rng).replace('"', ""))
        })
        .collect();
    let today = day_of(now);
    let days: Vec<i32> = (today - 9..=today - 3)
        .chain(today - 50..=today - 44)
        .collect();
    let paths = [
        "/",
        "/pricing",
        "/docs/",
        "/docs/install",
        "/blog/",
        "/about",
        "/contact",
    ];
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for (k, &day) in days.iter().enumerate() {
        let n = lines / days.len() as u64 + u64::from((k as u64) < lines % days.len() as u64);
        let mut secs: Vec<u64> = (0..n).map(|_| rng.below(86_400)).collect();
        secs.sort_unstable();
        for s in secs {
            let t = jiff::Timestamp::from_second(day as i64 * 86_400 + s as i64)
                .unwrap()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .strftime("%d/%b/%Y:%H:%M:%S %z")
                .to_string();
            let (ip, ua) = &visitors[rng.zipf(visitors.len())];
            let roll = rng.below(100);
            let (ip, ua, method, target, status) = match roll {
                0..=69 => (
                    ip.as_str(),
                    ua.as_str(),
                    "GET",
                    rng.pick(&paths).to_string(),
                    200,
                ),
                70..=81 => (
                    ip.as_str(),
                    ua.as_str(),
                    "GET",
                    "/static/app.js".into(),
                    200,
                ),
                82..=85 => (ip.as_str(), ua.as_str(), "POST", "/contact".into(), 302),
                86..=93 => (ip.as_str(), ua.as_str(), "GET", "/nope".into(), 404),
                _ => (
                    "66.249.66.1",
                    rng.pick::<String>(&crawlers).as_str(),
                    "GET",
                    "/".into(),
                    200,
                ),
            };
            writeln!(
                out,
                "{ip} - - [{t}] \"{method} {target} HTTP/1.1\" {status} 512 \"https://www.google.com/\" \"{ua}\""
            )
            .unwrap();
        }
    }
    out.flush().unwrap();
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let lines: u64 = if full {
        std::env::var("TACIT_IMPORT_LINES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000)
    } else {
        20_000
    };
    let url =
        std::env::var("TEST_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".into());
    let mut raw = common::config_for(&["example.com"]);
    raw.clickhouse.url = url;
    raw.clickhouse.database = "tacit_import_bench".into();
    let cfg = raw.validate().unwrap();
    let now = SystemClock.now_ms();
    let dir = std::env::temp_dir().join(format!("tacit-import-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("access.log");
    let t = Instant::now();
    generate(&path, lines, now);
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "import bench: {lines} lines, {:.0} MiB, generated in {:.1} s",
        bytes as f64 / 1048576.0,
        t.elapsed().as_secs_f64()
    );
    let enrichers = Arc::new(tacit::enrich::Enrichers::load(&cfg.enrich).unwrap());

    // 1. The pipeline alone.
    let rules = Rules::new(&cfg, enrichers.clone(), "example.com", now).unwrap();
    let mut parser = Parser::new(Format::Nginx, None).unwrap();
    let input = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path).unwrap());
    let (mut stored, mut n) = (0u64, 0u64);
    let (cpu0, t) = (common::cpu_seconds("self"), Instant::now());
    for line in input.lines() {
        let line = line.unwrap();
        n += 1;
        if let Ok(imp::access::Parsed::Request(r)) = parser.line(&line) {
            if let imp::rules::LineOutcome::Store(_) = rules.apply(r) {
                stored += 1;
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "pipeline alone (parse, rules, bots, enrichment, anonymization; one thread): {n} lines in {secs:.2} s = {:.0} lines/s ({stored} kept), CPU {:.2} s",
        n as f64 / secs,
        common::cpu_seconds("self") - cpu0
    );
    drop(rules);

    // 2. End to end into the engine.
    common::fresh_database(&cfg).await;
    let store = tacit::store::Store::new(&cfg.clickhouse);
    let pid = engine_pid();
    let engine_cpu = || pid.as_deref().map_or(0.0, common::cpu_seconds);
    let (e0, c0, t) = (engine_cpu(), common::cpu_seconds("self"), Instant::now());
    let opts = Options {
        site: "example.com".into(),
        format: Format::Nginx,
        log_format: None,
        max_bad_lines: 0,
        overlap: Overlap::Refuse,
    };
    let s = imp::import_file(&cfg, &store, enrichers, &path, &opts, now, &mut |_| {})
        .await
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let (engine, own) = (engine_cpu() - e0, common::cpu_seconds("self") - c0);
    println!(
        "end to end (stage, move, rollups): {} lines in {secs:.2} s = {:.0} lines/s; {} imported, skipped {:?}",
        s.rows_read,
        s.rows_read as f64 / secs,
        s.imported,
        s.skipped
    );
    println!(
        "  CPU: tacit {own:.1} s, engine {engine:.1} s ({:.0}% of the CPU time spent; engine pid {})",
        100.0 * engine / (engine + own).max(1e-9),
        pid.as_deref().unwrap_or("unknown")
    );
    println!("peak RSS of this process: {:.0} MiB", peak_rss_mib());
    common::drop_database(&cfg).await;
    let _ = std::fs::remove_dir_all(&dir);
}
