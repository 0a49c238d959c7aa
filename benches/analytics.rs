//! The analysts' queries at scale. Generates realistic traffic (default 10
//! million events over 90 days for 3 sites; TACIT_BENCH_EVENTS to change),
//! runs every hit through tacit's own pipeline (decode → enrich → privacy)
//! and sink into ClickHouse, sessionizes every day, then times each cookbook
//! query over the last 30 days (p50 of 5 runs) and checks the overview and
//! top pages against the raw events. Writes benches/results/<date>-analytics.md.
//!
//! `make bench-analytics` runs it against the local ClickHouse (or
//! $CLICKHOUSE_URL). Under `cargo test` it runs a small smoke version.

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tacit::enrich::Enrichers;
use tacit::ingest::{Hit, Outcome, Pipeline, RequestMeta};
use tacit::metrics::Metrics;
use tacit::model::clock::{day_of, format_day, Clock, ManualClock, SystemClock};
use tacit::privacy::{RawIdentity, Salts};

use common::Rng;

fn cookbook() -> Vec<(u32, String)> {
    tacit::admin::dashboard::cookbook().into_iter().collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let target: usize = std::env::var("TACIT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000_000 } else { 5_000 });
    let days_back: i32 = if full { 90 } else { 3 };
    let url = std::env::var("TEST_CLICKHOUSE_URL")
        .or_else(|_| std::env::var("CLICKHOUSE_URL"))
        .unwrap_or_else(|_| "http://127.0.0.1:8123".into());
    let database = if full {
        "tacit_bench".to_string()
    } else {
        format!("tacit_bench_smoke_{}", std::process::id())
    };

    let sites = ["shop.example", "blog.example", "docs.example"];
    let mut raw = common::config_for(&sites);
    raw.clickhouse.url = url.clone();
    raw.clickhouse.database = database.clone();
    raw.sink.batch_rows = 200_000;
    // Bulk loading: acknowledge at once (the log still syncs behind).
    raw.sink.durability = "memory".into();
    raw.server.data_dir = std::env::temp_dir()
        .join(format!("tacit-bench-{}", std::process::id()))
        .display()
        .to_string();
    let cfg = raw.validate().unwrap();
    let client = tacit::store::client(&cfg.clickhouse);
    // TACIT_BENCH_REUSE=1: time the queries on data loaded by an earlier run.
    let reuse = full && std::env::var("TACIT_BENCH_REUSE").is_ok_and(|v| v == "1");
    let today = day_of(SystemClock.now_ms());
    let mut summary = String::new();
    if !reuse {
        common::fresh_database(&cfg).await;

        // Inputs: real browser agents by traffic weight, random public IPs,
        // Zipf-distributed paths, a realistic mix of sources and campaigns.
        let agents = common::weighted_agents();
        let total_w: f64 = agents.iter().map(|a| a.1).sum();
        let paths: Vec<String> = (0..400)
            .map(|i| match i {
                0 => "/".to_string(),
                1 => "/pricing".into(),
                2 => "/signup".into(),
                i if i % 3 == 0 => format!("/blog/post-{i}"),
                i if i % 3 == 1 => format!("/docs/topic-{i}"),
                i => format!("/products/item-{i}"),
            })
            .collect();
        let referrers = [
            "",
            "",
            "",
            "https://www.google.com/",
            "https://www.google.com/",
            "https://www.bing.com/",
            "https://t.co/x",
            "https://www.facebook.com/",
            "https://news.ycombinator.com/item?id=1",
            "https://chatgpt.com/",
            "https://www.reddit.com/r/rust/",
        ];
        let tags = [
            "",
            "",
            "",
            "",
            "?utm_source=newsletter&utm_medium=email&utm_campaign=november",
            "?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=x",
            "?utm_campaign=launch&utm_source=partner",
        ];
        let languages = [
            "en-US,en;q=0.9",
            "de-DE,de;q=0.9",
            "fr-FR",
            "es-ES",
            "en-GB",
        ];

        let enrichers = Arc::new(Enrichers::load(&cfg.enrich).unwrap());
        let clock = ManualClock::new(0);
        let pipeline = Pipeline::new(
            &cfg,
            enrichers,
            Arc::new(Salts::new()),
            Arc::new(clock.clone()),
        );
        let metrics = Arc::new(Metrics::default());
        let (sink, task) = common::spawn_sink(&client, &cfg, &metrics);

        let first_day = today - days_back;
        let mut rng = Rng(0x853c49e6748fea9b);
        let started = Instant::now();
        let per_day = target / days_back as usize;
        let mut stored = 0usize;
        let mut dropped = 0usize;
        for day in first_day..today {
            let day_ms = day as i64 * 86_400_000;
            let mut made = 0;
            while made < per_day {
                let site = sites[rng.zipf(3)];
                let mut x = rng.unit() * total_w;
                let ua = &agents
                    .iter()
                    .find(|a| {
                        x -= a.1;
                        x <= 0.0
                    })
                    .unwrap_or(&agents[0])
                    .0;
                let ip = IpAddr::from([
                    (rng.next() % 212 + 11) as u8,
                    rng.next() as u8,
                    rng.next() as u8,
                    rng.next() as u8,
                ]);
                let lang = languages[rng.zipf(languages.len())];
                let visits = 1 + rng.zipf(3);
                for v in 0..visits {
                    let mut t = day_ms
                        + (v as i64) * 6 * 3_600_000
                        + (rng.unit() * 5.0 * 3_600_000.0) as i64;
                    let referrer = referrers[rng.zipf(referrers.len())];
                    let tag = tags[rng.zipf(tags.len())];
                    let hits = 1 + rng.zipf(8);
                    for h in 0..hits {
                        let path = &paths[rng.zipf(paths.len())];
                        let name = if path == "/signup" && rng.unit() < 0.3 {
                            "signup"
                        } else {
                            "pageview"
                        };
                        clock.set(t);
                        let hit = Hit {
                            name: Some(name.into()),
                            url: Some(format!(
                                "https://{site}{path}{}",
                                if h == 0 { tag } else { "" }
                            )),
                            domain: Some(site.into()),
                            referrer: Some(if h == 0 {
                                referrer.to_string()
                            } else {
                                format!("https://{site}/")
                            }),
                            screen_width: Some(360 + rng.next() % 1600),
                            props: if name == "signup" {
                                vec![("plan".into(), ["pro", "team", "free"][rng.zipf(3)].into())]
                            } else {
                                vec![]
                            },
                            ..Hit::default()
                        };
                        let meta = RequestMeta {
                            accept_language: Some(lang.into()),
                            ..Default::default()
                        };
                        match pipeline
                            .process(hit, &meta, RawIdentity::new(ip, None, &[], ua))
                            .unwrap()
                        {
                            Outcome::Store(ev) => {
                                while sink.submit(&ev).await.is_err() {
                                    tokio::time::sleep(Duration::from_millis(5)).await;
                                }
                                stored += 1;
                            }
                            Outcome::Drop { .. } => dropped += 1,
                        }
                        made += 1;
                        t += 5_000 + (rng.unit() * 600_000.0) as i64;
                    }
                }
            }
        }
        task.shutdown().await;
        let load = started.elapsed();
        let written = metrics
            .rows_written
            .load(std::sync::atomic::Ordering::Relaxed) as usize;
        assert_eq!(written, stored, "every stored event written");
        eprintln!(
            "loaded {stored} events ({dropped} dropped by policy) in {:.1}s = {:.0} events/s",
            load.as_secs_f64(),
            stored as f64 / load.as_secs_f64()
        );

        let s0 = Instant::now();
        for day in first_day..today {
            tacit::sessions::sessionize_day(&client, day, 1)
                .await
                .unwrap();
        }
        let sessionize = s0.elapsed();
        eprintln!(
            "sessionized {days_back} days in {:.1}s",
            sessionize.as_secs_f64()
        );
        let _ = client
            .query("OPTIMIZE TABLE agg_daily FINAL")
            .execute()
            .await;
        let _ = client
            .query("OPTIMIZE TABLE agg_hourly FINAL")
            .execute()
            .await;
        summary = format!(
        "{stored} events ({dropped} dropped by policy) over {days_back} days, 3 sites, loaded through the pipeline and sink in {:.1} s ({:.0} events/s); sessionized in {:.1} s.",
        load.as_secs_f64(), stored as f64 / load.as_secs_f64(), sessionize.as_secs_f64()
    );
    } else {
        // Newer migrations (views) apply to the loaded data.
        tacit::store::migrate::migrate(&cfg.clickhouse, 0)
            .await
            .unwrap();
        summary.push_str("Data loaded by an earlier run (TACIT_BENCH_REUSE=1).");
    }

    let (from, to) = (format_day(today - 30), format_day(today - 1));
    let site = sites[0];
    let run = |sql: String, from: String| {
        let client = client.clone();
        let (site, to) = (site.to_string(), to.clone());
        async move {
            let t = Instant::now();
            let bytes = client
                .query(&sql)
                .param("site", &site)
                .param("from", &from)
                .param("to", &to)
                .fetch_bytes("JSONCompact")
                .unwrap()
                .collect()
                .await
                .unwrap();
            let data = serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["data"].clone();
            (t.elapsed(), data)
        }
    };
    let mut table = String::new();
    let mut slow = Vec::new();
    for (n, sql) in cookbook() {
        let mut times = Vec::new();
        for _ in 0..5 {
            times.push(run(sql.clone(), from.clone()).await.0);
        }
        times.sort();
        let p50 = times[2].as_secs_f64() * 1000.0;
        table.push_str(&format!("| {n} | {p50:.1} |\n"));
        if [1, 4, 7, 8, 10, 11, 12].contains(&n) && p50 > 100.0 {
            slow.push(n);
        }
    }
    // The aggregate path agrees with the raw path, over the days whose raw
    // events the 30-day TTL has not begun to remove.
    let intact = format_day(today - 29);
    let (_, agg) = run(
        cookbook().into_iter().find(|q| q.0 == 1).unwrap().1,
        intact.clone(),
    )
    .await;
    let (_, rawv) = run("SELECT uniqExactIf(visitor_id, visitor_id != 0), countIf(name = 'pageview'), count() FROM events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date}".into(), intact).await;
    let a = agg[0][0]
        .as_f64()
        .unwrap_or_else(|| agg[0][0].as_str().unwrap().parse().unwrap());
    let r = rawv[0][0]
        .as_f64()
        .unwrap_or_else(|| rawv[0][0].as_str().unwrap().parse().unwrap());
    let err = (a - r).abs() / r.max(1.0);
    assert_eq!(agg[0][1], rawv[0][1], "page views: aggregates vs raw");
    assert!(err < 0.02, "visitors: aggregates {a} vs raw {r}");
    // Storage: compressed bytes on disk per stored event, for the event
    // rows and for each long-lived table (active parts only).
    let parts: Vec<(String, u64, u64)> = client
        .query("SELECT table, sum(bytes_on_disk), sum(rows) FROM system.parts WHERE database = currentDatabase() AND active AND table IN ('events', 'agg_hourly', 'agg_daily', 'sessions') GROUP BY table ORDER BY table")
        .fetch_all()
        .await
        .unwrap();
    let event_rows = parts
        .iter()
        .find(|p| p.0 == "events")
        .map_or(0, |p| p.2)
        .max(1);
    // Every event ever loaded is counted in the hourly aggregate.
    let loaded: u64 = client
        .query("SELECT toUInt64(sum(events)) FROM agg_hourly")
        .fetch_one()
        .await
        .unwrap();
    let loaded = loaded.max(1);
    let mut storage = format!(
        "\nStorage on disk (active parts). `events` holds the last 30 days ({event_rows} rows); the other tables cover all {loaded} events loaded:\n\n| table | bytes on disk | rows | bytes per event |\n|---|---|---|---|\n"
    );
    for (t, bytes, rows) in &parts {
        let per = if t == "events" { event_rows } else { loaded };
        storage.push_str(&format!(
            "| {t} | {bytes} | {rows} | {:.2} |\n",
            *bytes as f64 / per as f64
        ));
    }
    let report = format!(
        "# Analytics at scale ({})\n\n{summary}\nQueries over 30 days ({from} to {to}) for `{site}`, p50 of 5 runs, on {url} (clickhouse-dev: chDB behind a Python HTTP server).\n\nAggregates vs raw events over the last 29 days: visitors {a} vs exact {r} ({:.3}% apart); page views equal.\n\n| cookbook query | p50 ms |\n|---|---|\n{table}{storage}",
        format_day(today), err * 100.0
    );
    println!("{report}");
    if full {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/results");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{}-analytics.md", format_day(today))),
            &report,
        )
        .unwrap();
        if !slow.is_empty() {
            eprintln!("over 100 ms p50: queries {slow:?}");
        }
    } else {
        common::drop_database(&cfg).await;
    }
}
