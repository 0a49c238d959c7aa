//! What live visits cost, against storing the events alone, in one run:
//! a whole UTC day of hits (visitors arriving through the day, one to
//! eight hits each at gaps from 5 s to 40 minutes, so some visits split)
//! goes through the collector's pipeline (JSON decode, ingest, privacy)
//! and the real sink (write-ahead log, writer) into ClickHouse, as fast as
//! the pipeline takes them, under an injected clock set to each hit's
//! time. The day is run twice, each into a fresh database: `store`
//! (events stored with visit id 0) and `visits` (each event stamped with
//! its visit fragment's id, `visits::visit_id`). For each: the engine's CPU
//! (`/proc/<pid>/stat` of the local engine, `TACIT_ENGINE_PID` or
//! `.tacit/clickhouse-dev.pid`) from the first hit until its merges settle,
//! and this process's CPU (generation, pipeline, sink, visits) over the
//! load; then one read of the open day's visits (`live_visits`, built from
//! the events at query time) in each mode, and, once, the day-close rollup
//! that recomputes the day's visits from its events.
//!
//! `cargo bench --bench visits` (`make bench-visits`) runs 2,000,000 events
//! (`TACIT_VISITS_EVENTS`), modes `TACIT_VISITS_MODES` (default
//! `store,visits`, one after the other; the collector's CPU is also given
//! over the feeds alone, without the generator); `TACIT_VISITS_CLOSE=
//! recompute` stops after the visits' recomputation (the rollup tables'
//! cost is the same without live visits), `none` before the close.
//! `TACIT_VISITS_MODES=paired` feeds both modes in one pass over the day,
//! chunk by chunk in alternating order, so the machine's load weighs on
//! both alike: the collector's CPU per hit of each mode, per tenth of the
//! day and in all (the engine's CPU is then the two modes' together).
//! Under `cargo test` it runs a smoke version: 20,000 events.

// Test and bench code: a panic is how a failed step reports itself.
#![allow(clippy::unwrap_used)]

mod common;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tacit::enrich::Enrichers;
use tacit::ingest::{Outcome, Pipeline, RequestMeta};
use tacit::model::clock::{day_of, format_day, Clock, ManualClock, SharedClock, SystemClock};
use tacit::privacy::{RawIdentity, Salts};
use tacit::sink::VisitIds;
use tacit::telemetry::metrics::Metrics;

use common::Rng;

const DAY_MS: i64 = 86_400_000;
const SITE: &str = "example.com";

fn engine_pid() -> Option<u32> {
    std::env::var("TACIT_ENGINE_PID")
        .ok()
        .or_else(|| std::fs::read_to_string(".tacit/clickhouse-dev.pid").ok())
        .and_then(|p| p.trim().parse().ok())
}

fn engine_cpu(pid: Option<u32>) -> f64 {
    pid.map_or(0.0, |p| common::cpu_seconds(&p.to_string()))
}

/// Wait until the engine's CPU stops moving (its merges settled): less
/// than 0.05 s over 3 s, at most `limit`.
async fn settle(pid: Option<u32>, limit: Duration) {
    let t = Instant::now();
    let mut last = engine_cpu(pid);
    while t.elapsed() < limit {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let now = engine_cpu(pid);
        if now - last < 0.05 {
            return;
        }
        last = now;
    }
}

/// One visitor: its address and agent, how many hits are left and the
/// gap pattern it follows.
struct Visitor {
    ip: IpAddr,
    ua: usize,
    left: u32,
    seed: u64,
}

/// The gaps between a visitor's hits (s): some over 30 minutes.
const GAPS: [i64; 8] = [5, 40, 240, 600, 1900, 30, 2400, 90];

const PATHS: [&str; 6] = [
    "/",
    "/pricing",
    "/blog/rust-analytics",
    "/docs/getting-started",
    "/signup",
    "/about",
];

/// The day's hits in time order, generated as they are consumed: visitors
/// start evenly over the day; a heap holds the next hit of each visitor
/// still browsing, so memory follows the concurrent visitors only.
struct Day {
    rng: Rng,
    d0: i64,
    visitors: u64,
    started: u64,
    heap: BinaryHeap<Reverse<(i64, u64)>>,
    live: std::collections::HashMap<u64, Visitor>,
    agents: usize,
}

impl Day {
    fn new(day: i32, events: u64, agents: usize) -> Day {
        // 4.5 hits per visitor on average.
        Day {
            rng: Rng(0x9e37_79b9_7f4a_7c15),
            d0: day as i64 * DAY_MS,
            visitors: (events * 2 / 9).max(1),
            started: 0,
            heap: BinaryHeap::new(),
            live: Default::default(),
            agents,
        }
    }

    fn start_of(&self, v: u64) -> i64 {
        // Before 23:00, so most visits end within the day.
        self.d0 + (v as i64 * (DAY_MS - 3_600_000)) / self.visitors as i64
    }

    /// The next hit: its time, visitor, address and agent.
    fn next(&mut self) -> Option<(i64, u64, IpAddr, usize)> {
        if self.started < self.visitors {
            let s = self.start_of(self.started);
            let due = self.heap.peek().map_or(i64::MAX, |r| r.0 .0);
            if s <= due {
                let v = self.started;
                self.started += 1;
                let seed = self.rng.next();
                self.live.insert(
                    v,
                    Visitor {
                        ip: IpAddr::from([10, (v >> 16) as u8, (v >> 8) as u8, v as u8]),
                        ua: (seed % self.agents as u64) as usize,
                        left: 1 + (seed >> 8) as u32 % 8,
                        seed,
                    },
                );
                self.heap.push(Reverse((s, v)));
            }
        }
        let Reverse((ts, v)) = self.heap.pop()?;
        let vis = self.live.get_mut(&v).unwrap();
        let (ip, ua) = (vis.ip, vis.ua);
        vis.left -= 1;
        if vis.left == 0 {
            self.live.remove(&v);
        } else {
            let gap = GAPS[((vis.seed >> 16) as usize + vis.left as usize) % GAPS.len()];
            self.heap
                .push(Reverse((ts + gap * 1000 + (v % 997) as i64, v)));
        }
        Some((ts, v, ip, ua))
    }
}

/// A generated hit: its time, visitor, address and agent.
type Hit = (i64, u64, IpAddr, usize);

/// Hits generated and fed per chunk (the collector's CPU is read around
/// each chunk's feed).
const CHUNK: usize = 50_000;

struct Run {
    events: u64,
    /// Wall seconds until the pipeline took the last hit.
    gen_s: f64,
    /// Distinct visit ids stamped (0 in `store`).
    visit_ids: u64,
    load_s: f64,
    engine_s: f64,
    /// This process's CPU from the first hit until the last row was
    /// written (generation included), and over the feeds alone.
    collector_s: f64,
    feed_s: f64,
    /// The open day's visits as `live_visits` builds them.
    visit_rows: u64,
    /// Wall and engine CPU seconds of that read.
    read_s: f64,
    read_engine_s: f64,
}

/// One collector (pipeline, sink) into its own database.
struct Rig {
    mode: String,
    store: tacit::store::Store,
    clock: ManualClock,
    pipeline: Pipeline,
    metrics: Arc<Metrics>,
    sink: tacit::sink::SinkHandle,
    task: tacit::sink::SinkTask,
    member: tacit::store::fence::Member,
    meta: RequestMeta,
    stored: u64,
    feed_s: f64,
}

fn url() -> String {
    std::env::var("TEST_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".into())
}

async fn rig(mode: &str, day: i32) -> Rig {
    let mut raw = common::config_for(&[SITE]);
    raw.clickhouse.url = url();
    raw.clickhouse.database = format!("tacit_bench_visits_{mode}");
    raw.server.data_dir = std::env::temp_dir()
        .join(format!("tacit-bench-visits-{mode}"))
        .to_string_lossy()
        .into_owned();
    // Answer at once: the bench measures CPU, not the disk's sync.
    raw.sink.durability = "memory".into();
    let cfg = raw.validate().unwrap();
    common::fresh_database(&cfg).await;
    let store = tacit::store::Store::new(&cfg.clickhouse);
    let clock = ManualClock::new(day as i64 * DAY_MS);
    let shared: SharedClock = Arc::new(clock.clone());
    let enrichers = Arc::new(Enrichers::load(&cfg.enrich).unwrap());
    let salts = Arc::new(Salts::new());
    let pipeline = Pipeline::new(&cfg, enrichers, salts, shared.clone());
    let metrics = Arc::new(Metrics::default());
    let dir = cfg.data_dir.join("wal");
    let _ = std::fs::remove_dir_all(&cfg.data_dir);
    let (fences, member) = tacit::store::fence::start(
        store.client().clone(),
        &cfg.clickhouse.database,
        shared.clone(),
        None,
    )
    .await
    .unwrap();
    let visits = match mode {
        "visits" => VisitIds::Stamped,
        "store" => VisitIds::Unstamped,
        other => panic!("TACIT_VISITS_MODES: no mode {other:?} (store, visits)"),
    };
    let (sink, task) = tacit::sink::spawn(
        store.client().clone(),
        cfg.sink.clone(),
        &dir,
        metrics.clone(),
        shared,
        fences,
        visits,
    )
    .unwrap();
    Rig {
        mode: mode.to_string(),
        store,
        clock,
        pipeline,
        metrics,
        sink,
        task,
        member,
        meta: RequestMeta {
            accept_language: Some("en-US,en;q=0.9".into()),
            ..Default::default()
        },
        stored: 0,
        feed_s: 0.0,
    }
}

impl Rig {
    /// Each hit through the pipeline and into the sink, under the clock
    /// set to its time; this process's CPU over the feed is added to
    /// `feed_s`.
    async fn feed(&mut self, hits: &[Hit], agents: &[String]) {
        let c0 = common::cpu_seconds("self");
        for &(ts, v, ip, ua) in hits {
            self.clock.set(ts);
            let path = PATHS[((ts / 1000) as usize + v as usize) % PATHS.len()];
            let name = if ts % 5 == 0 { "signup" } else { "pageview" };
            let body = format!(
                r#"{{"n":"{name}","u":"https://{SITE}{path}","r":"{}","w":1280}}"#,
                if v % 3 == 0 {
                    "https://www.google.com/"
                } else {
                    ""
                }
            );
            let hit = tacit::beacon::decode::json(body.as_bytes()).unwrap();
            let id = RawIdentity::new(ip, None, &[], &agents[ua]);
            let Ok(Outcome::Store(ev)) = self.pipeline.process(hit, &self.meta, id) else {
                continue;
            };
            loop {
                match self.sink.submit(&ev).await {
                    Ok(()) => break,
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
            self.stored += 1;
        }
        self.feed_s += common::cpu_seconds("self") - c0;
    }

    /// The day ends: wait until every row is written, stop the sink.
    async fn drain(&self, d0: i64) {
        self.clock.set(d0 + DAY_MS + 3_600_000);
        let t = Instant::now();
        while self.metrics.rows_written.load(Ordering::Relaxed) < self.stored
            && t.elapsed().as_secs() < 600
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stop the sink; read the open day's visits once (what a
    /// dashboard's visit figures cost the engine until the day is rolled
    /// up) and check every event was stored.
    async fn finish(self, pid: Option<u32>) -> (u64, f64, f64, u64, Rig2) {
        self.task.shutdown().await;
        self.member.leave().await;
        let r0 = engine_cpu(pid);
        let t = Instant::now();
        let visit_rows: u64 = self
            .store
            .client()
            .query("SELECT count() FROM live_visits")
            .fetch_one()
            .await
            .unwrap();
        let read_s = t.elapsed().as_secs_f64();
        settle(pid, Duration::from_secs(60)).await;
        let read_engine_s = engine_cpu(pid) - r0;
        let visit_ids: u64 = self
            .store
            .client()
            .query("SELECT uniqExactIf((visitor_id, visit_id), visit_id != 0) FROM events")
            .fetch_one()
            .await
            .unwrap();
        let in_events: u64 = self
            .store
            .client()
            .query("SELECT count() FROM events")
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(in_events, self.stored, "{}: every event stored", self.mode);
        (
            visit_rows,
            read_s,
            read_engine_s,
            visit_ids,
            Rig2 {
                stored: self.stored,
                feed_s: self.feed_s,
            },
        )
    }
}

/// What is left of a rig after [`Rig::finish`].
struct Rig2 {
    stored: u64,
    feed_s: f64,
}

/// The next chunk of the day's hits (empty at the day's end), until
/// `events` hits were generated.
fn chunk(gen: &mut Day, made: &mut u64, events: u64) -> Vec<Hit> {
    let mut out = Vec::with_capacity(CHUNK);
    while out.len() < CHUNK && *made < events {
        let Some(h) = gen.next() else { break };
        out.push(h);
        *made += 1;
    }
    out
}

fn agents() -> Vec<String> {
    common::weighted_agents()
        .into_iter()
        .map(|a| a.0)
        .filter(|a| a.contains("Mozilla"))
        .take(40)
        .collect()
}

/// One mode alone over the whole day (the engine's CPU is this mode's).
async fn run_mode(mode: &str, events: u64, day: i32, pid: Option<u32>) -> Run {
    let mut r = rig(mode, day).await;
    let agents = agents();
    let mut gen = Day::new(day, events, agents.len());
    let d0 = day as i64 * DAY_MS;
    let e0 = engine_cpu(pid);
    let c0 = common::cpu_seconds("self");
    let t0 = Instant::now();
    let mut made = 0;
    loop {
        let hits = chunk(&mut gen, &mut made, events);
        if hits.is_empty() {
            break;
        }
        r.feed(&hits, &agents).await;
        if made.is_multiple_of(500_000) {
            eprintln!(
                "{mode}: {made} events, hour {} of the day ({:.0} s)",
                (hits[hits.len() - 1].0 - d0) / 3_600_000,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    let gen_s = t0.elapsed().as_secs_f64();
    r.drain(d0).await;
    let load_s = t0.elapsed().as_secs_f64();
    let collector_s = common::cpu_seconds("self") - c0;
    settle(pid, Duration::from_secs(300)).await;
    let engine_s = engine_cpu(pid) - e0;
    let (visit_rows, read_s, read_engine_s, visit_ids, r) = r.finish(pid).await;
    Run {
        events: r.stored,
        gen_s,
        visit_ids,
        load_s,
        engine_s,
        collector_s,
        feed_s: r.feed_s,
        visit_rows,
        read_s,
        read_engine_s,
    }
}

/// Several modes in one pass over the day, chunk by chunk: each chunk of
/// hits is generated once and fed to each mode's collector in turn (the
/// order rotating from chunk to chunk), this process's CPU read around each
/// feed. The load of the machine then weighs on every mode alike; the
/// sinks' writers run in the background of all. Prints the collector CPU
/// per hit of each mode over the feeds, against `store` (the first), in
/// all and per tenth of the day.
async fn run_paired(modes: &[&str], events: u64, day: i32, pid: Option<u32>) {
    let mut rigs = Vec::new();
    for m in modes {
        rigs.push(rig(m, day).await);
    }
    let agents = agents();
    let mut gen = Day::new(day, events, agents.len());
    let d0 = day as i64 * DAY_MS;
    let e0 = engine_cpu(pid);
    let c0 = common::cpu_seconds("self");
    let t0 = Instant::now();
    let (mut made, mut n, mut gen_cpu) = (0u64, 0usize, 0.0);
    // Per stretch: each mode's CPU, and the hits.
    let mut stretches: Vec<(Vec<f64>, u64)> = Vec::new();
    let per_stretch = ((events as usize / CHUNK) / 10).max(1);
    loop {
        let g0 = common::cpu_seconds("self");
        let hits = chunk(&mut gen, &mut made, events);
        gen_cpu += common::cpu_seconds("self") - g0;
        if hits.is_empty() {
            break;
        }
        let before: Vec<f64> = rigs.iter().map(|r| r.feed_s).collect();
        for k in 0..rigs.len() {
            let i = (n + k) % rigs.len();
            rigs[i].feed(&hits, &agents).await;
        }
        if n % per_stretch == 0 {
            stretches.push((vec![0.0; rigs.len()], 0));
        }
        let last = stretches.last_mut().unwrap();
        for (i, r) in rigs.iter().enumerate() {
            last.0[i] += r.feed_s - before[i];
        }
        last.1 += hits.len() as u64;
        n += 1;
        if made.is_multiple_of(500_000) {
            eprintln!(
                "paired: {made} events, hour {} of the day ({:.0} s)",
                (hits[hits.len() - 1].0 - d0) / 3_600_000,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    let gen_s = t0.elapsed().as_secs_f64();
    for r in &rigs {
        r.drain(d0).await;
    }
    let collector_s = common::cpu_seconds("self") - c0;
    settle(pid, Duration::from_secs(300)).await;
    let engine_s = engine_cpu(pid) - e0;
    let mut done = Vec::new();
    for r in rigs {
        let mode = r.mode.clone();
        let (rows, _, _, ids, r) = r.finish(pid).await;
        done.push((mode, rows, ids, r));
    }
    let us = |cpu: f64, hits: u64| cpu * 1e6 / hits as f64;
    let stored = done[0].3.stored;
    println!(
        "visits bench: paired {}, {stored} events of {} in one pass, {n} chunks of {CHUNK} hits in {gen_s:.1} s; generation {gen_cpu:.1} s CPU ({:.2} µs/hit, in no mode); \
         process {collector_s:.1} s CPU in all; engine {engine_s:.1} s CPU for all modes ({:.2} µs/event)",
        modes.join(","),
        format_day(day),
        us(gen_cpu, stored),
        us(engine_s, stored * done.len() as u64),
    );
    for (mode, rows, ids, r) in &done {
        println!(
            "visits bench: paired mode {mode}: {} events, {:.2} µs/hit over the feeds; {ids} visit fragment ids, {rows} live visits",
            r.stored,
            us(r.feed_s, r.stored),
        );
    }
    for (i, (cpu, h)) in stretches.iter().enumerate() {
        let per: Vec<String> = modes
            .iter()
            .zip(cpu)
            .map(|(m, c)| {
                format!(
                    "{m} {:.2} µs/hit ({:+.1} %)",
                    us(*c, *h),
                    (c / cpu[0] - 1.0) * 100.0
                )
            })
            .collect();
        println!(
            "visits bench: paired stretch {i}: {h} hits: {}",
            per.join(", ")
        );
    }
    for (k, (mode, _, _, r)) in done.iter().enumerate().skip(1) {
        let mut ratios: Vec<f64> = stretches
            .iter()
            .map(|(c, _)| (c[k] / c[0] - 1.0) * 100.0)
            .collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "visits bench: paired: {mode} adds {:+.1} % collector CPU per hit over store (target for visits ≤ +10 %); median of the {} stretches {:+.1} %, range {:+.1} to {:+.1} %",
            (r.feed_s / done[0].3.feed_s - 1.0) * 100.0,
            ratios.len(),
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let events: u64 = std::env::var("TACIT_VISITS_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 2_000_000 } else { 20_000 });
    let modes = std::env::var("TACIT_VISITS_MODES").unwrap_or_else(|_| "store,visits".into());
    let pid = engine_pid();
    if pid.is_none() {
        eprintln!("engine pid unknown (TACIT_ENGINE_PID): engine CPU reads as 0");
    }
    // A day the rollup may close: three days ago by the wall clock.
    let day = day_of(SystemClock.now_ms()) - 3;
    if let Some(rest) = modes.strip_prefix("paired") {
        // `paired` (store, visits) or `paired:` and a list.
        let list: Vec<&str> = match rest.strip_prefix(':') {
            Some(l) => l.split(',').map(str::trim).collect(),
            None => vec!["store", "visits"],
        };
        run_paired(&list, events, day, pid).await;
        return drop_all(&list).await;
    }
    let mut runs = Vec::new();
    for mode in modes.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let r = run_mode(mode, events, day, pid).await;
        println!(
            "visits bench: mode {mode}: {} events of {} taken in {:.1} s ({:.0} events/s), stored in {:.1} s; engine {:.1} s CPU ({:.2} µs/event); \
             collector process {:.1} s CPU ({:.2} µs/hit; the feeds alone {:.2} µs/hit); {} visit fragment ids stamped; {} live visits read in {:.1} s ({:.1} s engine CPU)",
            r.events,
            format_day(day),
            r.gen_s,
            r.events as f64 / r.gen_s,
            r.load_s,
            r.engine_s,
            r.engine_s * 1e6 / r.events as f64,
            r.collector_s,
            r.collector_s * 1e6 / r.events as f64,
            r.feed_s * 1e6 / r.events as f64,
            r.visit_ids,
            r.visit_rows,
            r.read_s,
            r.read_engine_s,
        );
        runs.push((mode.to_string(), r));
    }
    let get = |m: &str| runs.iter().find(|(n, _)| n == m).map(|(_, r)| r);
    if let (Some(s), Some(v)) = (get("store"), get("visits")) {
        let per = |r: &Run, x: f64| x / r.events as f64;
        println!(
            "visits bench: live visits add {:+.1} % engine CPU per event (target ≤ +25 %) and {:+.1} % collector CPU per hit (target ≤ +10 %; the feeds alone {:+.1} %)",
            (per(v, v.engine_s) / per(s, s.engine_s) - 1.0) * 100.0,
            (per(v, v.collector_s) / per(s, s.collector_s) - 1.0) * 100.0,
            (per(v, v.feed_s) / per(s, s.feed_s) - 1.0) * 100.0
        );
    }
    let names: Vec<&str> = runs.iter().map(|(n, _)| n.as_str()).collect();
    let close = std::env::var("TACIT_VISITS_CLOSE").unwrap_or_default();
    if close == "none" {
        return drop_all(&names).await;
    }
    // The day's close, once: its visits recomputed from its events and
    // every rollup written (the same in both modes).
    if let Some((mode, r)) = runs.last() {
        let mut raw = common::config_for(&[SITE]);
        raw.clickhouse.url = url();
        raw.clickhouse.database = format!("tacit_bench_visits_{mode}");
        let cfg = raw.validate().unwrap();
        let store = tacit::store::Store::new(&cfg.clickhouse);
        // The visits' recomputation alone first (the rollup then finds them
        // complete and goes on to the rollup tables).
        let e0 = engine_cpu(pid);
        let t = Instant::now();
        tacit::analytics::sessions::sessionize_day(&store, day, 1)
            .await
            .unwrap();
        let recompute_wall = t.elapsed().as_secs_f64();
        settle(pid, Duration::from_secs(120)).await;
        let recompute = engine_cpu(pid) - e0;
        println!(
            "visits bench: the day's visits recomputed from its events at close: {recompute_wall:.1} s, engine {recompute:.1} s CPU ({:.2} µs/event)",
            recompute * 1e6 / r.events as f64
        );
        if close == "recompute" {
            return drop_all(&names).await;
        }
        let e0 = engine_cpu(pid);
        let t = Instant::now();
        tacit::analytics::rollup::rollup_day(&store, day, 1)
            .await
            .unwrap();
        let wall = t.elapsed().as_secs_f64();
        settle(pid, Duration::from_secs(120)).await;
        let e = engine_cpu(pid) - e0;
        let (visits, fragments): (u64, u64) = store
            .client()
            .query(
                "SELECT toUInt64(ifNull((SELECT count() FROM sessions FINAL WHERE day = toDate({d:String})), 0)),
                        toUInt64(ifNull((SELECT uniqExactIf((visitor_id, visit_id), visit_id != 0) FROM events
                         WHERE toDate(ts) = toDate({d:String})), 0))",
            )
            .param("d", format_day(day))
            .fetch_one()
            .await
            .unwrap();
        println!(
            "visits bench: the day's rollup (every rollup table, the visits already recomputed): {wall:.1} s, engine {e:.1} s CPU ({:.2} µs/event); the day's {visits} visits recomputed, {fragments} fragment ids stamped ({:.3} a visit)",
            e * 1e6 / r.events as f64,
            fragments as f64 / visits.max(1) as f64
        );
    }
    drop_all(&names).await;
}

/// Drop the bench's databases.
async fn drop_all(modes: &[&str]) {
    for mode in modes {
        let mut raw = common::config_for(&[SITE]);
        raw.clickhouse.url = url();
        raw.clickhouse.database = format!("tacit_bench_visits_{mode}");
        common::drop_database(&raw.validate().unwrap()).await;
    }
}
