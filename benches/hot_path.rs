//! The per-hit cost of tacit's hot path, warm caches, realistic inputs:
//! decode (JSON beacon body) → ingest steps → privacy (bot check, user-agent
//! parse through the cache, GeoIP lookup, visitor id) → the stored event.
//! User agents are drawn from npm `user-agents` by traffic weight; IPs,
//! paths, referrers and UTM tags vary. Run with `make bench`.

// Test and bench code: a panic is how a failed step reports itself.
#![allow(clippy::unwrap_used)]

mod common;

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tacit::enrich::Enrichers;
use tacit::ingest::{Pipeline, RequestMeta};
use tacit::model::clock::ManualClock;
use tacit::privacy::{RawIdentity, Salts};

struct Input {
    body: Vec<u8>,
    ip: IpAddr,
    ua: String,
}

use common::Rng;

fn inputs(n: usize) -> Vec<Input> {
    let agents = common::weighted_agents();
    let total: f64 = agents.iter().map(|a| a.1).sum();
    let paths = [
        "/",
        "/pricing",
        "/blog/rust-analytics",
        "/docs/getting-started",
        "/signup",
        "/about",
        "/blog/2024/05/privacy",
    ];
    let referrers = [
        "",
        "",
        "https://www.google.com/",
        "https://t.co/x",
        "https://news.ycombinator.com/item?id=1",
        "https://chatgpt.com/",
        "https://example.com/",
    ];
    let utm = [
        "",
        "",
        "",
        "?utm_source=newsletter&utm_medium=email&utm_campaign=launch",
        "?gclid=abc123",
    ];
    let mut rng = Rng(0x9e3779b97f4a7c15);
    (0..n)
        .map(|_| {
            let mut x = rng.unit() * total;
            let ua = agents.iter().find(|a| {
                x -= a.1;
                x <= 0.0
            });
            let ua = ua.unwrap_or(&agents[0]).0.clone();
            let ip = IpAddr::from([
                (rng.next() % 223 + 1) as u8,
                rng.next() as u8,
                rng.next() as u8,
                rng.next() as u8,
            ]);
            let body = serde_json::json!({
                "n": "pageview",
                "u": format!("https://example.com{}{}", rng.pick(&paths), rng.pick(&utm)),
                "r": rng.pick(&referrers),
                "w": 360 + rng.next() % 1600,
            })
            .to_string()
            .into_bytes();
            Input { body, ip, ua }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let raw = common::config_for(&["example.com"]);
    let cfg = raw.clone().validate().unwrap();
    let enrichers = Arc::new(Enrichers::load(&cfg.enrich).unwrap());
    let pipeline = Pipeline::new(
        &cfg,
        enrichers.clone(),
        Arc::new(Salts::new()),
        Arc::new(ManualClock::new(1_795_737_600_000)),
    );
    let hits = inputs(4096);
    let meta = RequestMeta {
        accept_language: Some("en-US,en;q=0.9".into()),
        ..Default::default()
    };
    let run = |h: &Input| {
        let hit = tacit::beacon::decode::json(&h.body).unwrap();
        let id = RawIdentity::new(h.ip, None, &[], &h.ua);
        pipeline.process(hit, &meta, id).unwrap()
    };
    for h in &hits {
        run(h); // warm the user-agent cache
    }
    let mut g = c.benchmark_group("hot_path");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("decode+ingest+privacy (warm)", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(run(&hits[i]))
        })
    });
    // Cold: a pipeline whose user-agent cache holds one entry, fed
    // rotating real agents, so every hit pays the full uap-core parse and
    // bot check.
    let mut cold_raw = raw.clone();
    cold_raw.enrich.ua_cache_size = 1;
    let cold_cfg = cold_raw.validate().unwrap();
    let cold = Pipeline::new(
        &cold_cfg,
        Arc::new(Enrichers::load(&cold_cfg.enrich).unwrap()),
        Arc::new(Salts::new()),
        Arc::new(ManualClock::new(1_795_737_600_000)),
    );
    let mut i = 0;
    g.bench_function("decode+ingest+privacy (cold user-agent cache)", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            let h = &hits[i];
            let hit = tacit::beacon::decode::json(&h.body).unwrap();
            let id = RawIdentity::new(h.ip, None, &[], &h.ua);
            black_box(cold.process(hit, &meta, id).unwrap())
        })
    });
    let mut i = 0;
    g.bench_function("decode (json)", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(tacit::beacon::decode::json(&hits[i].body).unwrap())
        })
    });
    let bots = enrichers.bots.as_ref().unwrap();
    let mut i = 0;
    g.bench_function("bot check (browser agent)", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(bots.is_bot(&hits[i].ua))
        })
    });
    let ua = enrichers.ua.as_ref().unwrap();
    let mut i = 0;
    g.bench_function("user agent (cache hit)", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(ua.parse(&hits[i].ua))
        })
    });
    let mut i = 0;
    g.bench_function("user agent (full parse, cold)", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(ua.parse_uncached(&hits[i].ua))
        })
    });
    // The device-class rules alone (they run with the full parse, once per
    // distinct agent), on the families uap-core gave each agent.
    let parsed: Vec<(String, String)> = hits
        .iter()
        .map(|h| {
            let (_, os, dev) = ua.extract_raw(&h.ua);
            (
                os.map_or_else(|| "Other".to_string(), |o| o.os),
                dev.map_or_else(|| "Other".to_string(), |d| d.device),
            )
        })
        .collect();
    let mut i = 0;
    g.bench_function("device class rules (per distinct agent)", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(tacit::enrich::ua::agent_device(
                &hits[i].ua,
                &parsed[i].0,
                &parsed[i].1,
            ))
        })
    });
    let geo = enrichers.geo.as_ref().unwrap();
    let mut i = 0;
    g.bench_function("geoip lookup", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(geo.lookup(hits[i].ip))
        })
    });
    let key = tacit::privacy::salt::SaltKey::from_bytes([7; 32]);
    let mut i = 0;
    g.bench_function("visitor id (hmac-sha256)", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(tacit::privacy::visitor_id(
                &key,
                "example.com",
                hits[i].ip,
                &hits[i].ua,
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
