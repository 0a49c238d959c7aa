//! The analysts' queries at scale. Generates realistic traffic (default 10
//! million events over 90 days for 3 sites; TACIT_BENCH_EVENTS to change),
//! runs every hit through tacit's own pipeline (decode → enrich → privacy)
//! and sink into ClickHouse, rolls up every closed day into the aggregate
//! tier (the event tier is kept long enough for it), measures the bytes per
//! event of each tier, extends the rolled-up days to a full year by copying
//! them back in time (the same volume per day), then times each cookbook
//! query over the last 30 and the last 365 days (p50 of 5 runs) and checks
//! the overview against the raw events. Writes
//! benches/results/<date>-analytics.md.
//!
//! `make bench-analytics` runs it against the local ClickHouse (or
//! $CLICKHOUSE_URL). Under `cargo test` it runs a small smoke version.

// Test and bench code: a panic is how a failed step reports itself.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tacit::enrich::Enrichers;
use tacit::ingest::{Hit, Outcome, Pipeline, RequestMeta};
use tacit::model::clock::{day_of, format_day, Clock, ManualClock, SystemClock};
use tacit::privacy::{RawIdentity, Salts};
use tacit::telemetry::metrics::Metrics;

use common::Rng;

fn cookbook() -> Vec<(u32, String)> {
    tacit::analytics::cookbook::queries().into_iter().collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let target: usize = std::env::var("TACIT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000_000 } else { 5_000 });
    let days_back: i32 = if full { 90 } else { 3 };
    // Events already in today (the busy afternoon), TACIT_BENCH_TODAY.
    let busy: usize = std::env::var("TACIT_BENCH_TODAY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 5_000_000 } else { 2_000 });
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
    // Keep every loaded day's events until its rollup has run.
    raw.policy.event_ttl_days = 120;
    // Bulk loading: acknowledge at once (the log still syncs behind).
    raw.sink.durability = "memory".into();
    raw.server.data_dir = std::env::temp_dir()
        .join(format!("tacit-bench-{}", std::process::id()))
        .display()
        .to_string();
    let cfg = raw.validate().unwrap();
    let store = tacit::store::Store::new(&cfg.clickhouse);
    let client = store.client().clone();
    // TACIT_BENCH_REUSE=1: time the queries on data loaded by an earlier run.
    let reuse = full && std::env::var("TACIT_BENCH_REUSE").is_ok_and(|v| v == "1");
    let today = day_of(SystemClock.now_ms());
    let mut summary = String::new();
    if !reuse {
        common::fresh_database(&cfg).await;
        tacit::store::apply_retention(&store, &cfg.policy)
            .await
            .unwrap();

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
        let (sink, task) = common::spawn_sink(&client, &cfg, &metrics).await;

        let first_day = today - days_back;
        let mut rng = Rng(0x853c49e6748fea9b);
        let started = Instant::now();
        let per_day = target / days_back as usize;
        let mut stored = 0usize;
        let mut dropped = 0usize;
        // The busy afternoon: today holds `busy` events so far, spread
        // from midnight to now (hits never come from the future).
        let now_ms = SystemClock.now_ms();
        let day_of_now = now_ms.rem_euclid(86_400_000) as f64;
        for day in first_day..=today {
            let day_ms = day as i64 * 86_400_000;
            let quota = if day == today { busy } else { per_day };
            // Today's visits fit between midnight and now.
            let hours = if day == today {
                day_of_now / 3_600_000.0
            } else {
                24.0
            };
            let mut made = 0;
            while made < quota {
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
                    let at = if day == today {
                        rng.unit()
                    } else {
                        v as f64 * 0.25 + rng.unit() * 0.2
                    };
                    let mut t = day_ms + (at * hours * 3_600_000.0) as i64;
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
                        t = (t + 5_000 + (rng.unit() * 600_000.0) as i64).min(now_ms);
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

        // Every closed day rolled up, as `tacit serve` would once each
        // closes. Today stays open: its visits are built from its events
        // at query time (`live_visits`), as `tacit serve` reads them.
        let s0 = Instant::now();
        let schedule = tacit::analytics::rollup::Schedule {
            event_ttl_days: cfg.policy.event_ttl_days,
            delay: Duration::from_secs(0),
        };
        let rolled = tacit::analytics::rollup::run_once(&store, schedule, SystemClock.now_ms())
            .await
            .unwrap();
        let rollup = s0.elapsed();
        eprintln!(
            "rolled up {} days in {:.1}s",
            rolled.len(),
            rollup.as_secs_f64()
        );
        for t in tacit::analytics::rollup::tables().chain(["events", "sessions"]) {
            let _ = client
                .query(&format!("OPTIMIZE TABLE {t} FINAL"))
                .execute()
                .await;
        }
        summary = format!(
        "{stored} events ({dropped} dropped by policy) over {days_back} days, 3 sites, loaded through the pipeline and sink in {:.1} s ({:.0} events/s); {} closed days rolled up (each re-sessionized first) in {:.1} s ({:.2} s per day).",
        load.as_secs_f64(), stored as f64 / load.as_secs_f64(), rolled.len(), rollup.as_secs_f64(), rollup.as_secs_f64() / rolled.len().max(1) as f64
    );
    } else {
        // Newer migrations (views) apply to the loaded data.
        tacit::store::migrate::migrate(&cfg.clickhouse, 0)
            .await
            .unwrap();
        summary.push_str("Data loaded by an earlier run (TACIT_BENCH_REUSE=1).");
        // TACIT_BENCH_SCREENS=today: time today's and the realtime screens
        // only (printed, no report written).
        if std::env::var("TACIT_BENCH_SCREENS").is_ok_and(|v| v == "today") {
            println!("{}", api_today_screens(&store, &cfg, sites[0], today).await);
            return;
        }
    }

    // Storage: compressed bytes on disk (active parts) per stored event,
    // per table and per tier, before the year is filled in.
    let parts: Vec<(String, u64, u64)> = client
        .query("SELECT table, sum(bytes_on_disk), sum(rows) FROM system.parts WHERE database = currentDatabase() AND active GROUP BY table ORDER BY table")
        .fetch_all()
        .await
        .unwrap();
    let loaded: u64 = client
        .query("SELECT count() FROM events")
        .fetch_one()
        .await
        .unwrap();
    let loaded = loaded.max(1);
    let mut storage = format!(
        "\nStorage on disk (active parts), for the {loaded} events loaded ({days_back} days):\n\n| table | tier | bytes on disk | rows | bytes per event |\n|---|---|---|---|---|\n"
    );
    let mut per_tier: std::collections::BTreeMap<&str, u64> = Default::default();
    for (t, bytes, rows) in &parts {
        let tier = tacit::store::tiers::table(t).map_or("unclassified", |c| c.tier.name());
        *per_tier.entry(tier).or_default() += bytes;
        storage.push_str(&format!(
            "| {t} | {tier} | {bytes} | {rows} | {:.2} |\n",
            *bytes as f64 / loaded as f64
        ));
    }
    for (tier, bytes) in &per_tier {
        storage.push_str(&format!(
            "| **{tier} tier** | | {bytes} | | **{:.2}** |\n",
            *bytes as f64 / loaded as f64
        ));
    }

    // A year of rolled-up days: the loaded days' rollups copied back in
    // time until 365 days are covered (the same rows per day).
    let span = days_back - 2;
    let mut k = 1;
    while full && !reuse && span * k < 366 {
        let shift = span * k;
        for (t, cols) in [
            (
                "rollup_daily",
                "site, day - {s}, dimension, value, pageviews, events, visitors, version",
            ),
            (
                "rollup_landing_daily",
                "site, day - {s}, dimension, value, pageviews, events, visitors, version",
            ),
            (
                "rollup_visits_daily",
                "site, day - {s}, kind, value, visits, bounces, duration_s, pageviews, version",
            ),
            (
                "rollup_goals_daily",
                "site, day - {s}, goal_kind, goal, converted_visits, version",
            ),
            (
                "rollup_funnels_daily",
                "site, day - {s}, funnel, step, name, visits, version",
            ),
            ("rollup_days", "day - {s}, version, computed_at"),
        ] {
            let cols = cols.replace("{s}", &shift.to_string());
            client
                .query(&format!("INSERT INTO {t} SELECT {cols} FROM {t} WHERE day BETWEEN toDate(?) AND toDate(?) AND day > today() - 366 + {shift}"))
                .bind(format_day(first_day_of(today, days_back)))
                .bind(format_day(today - 2))
                .execute()
                .await
                .unwrap();
        }
        client
            .query(&format!("INSERT INTO rollup_hourly (site, hour, pageviews, events, visitors, version) SELECT site, hour - INTERVAL {shift} DAY, pageviews, events, visitors, version FROM rollup_hourly WHERE toDate(hour) BETWEEN toDate(?) AND toDate(?) AND toDate(hour) > today() - 366 + {shift}"))
            .bind(format_day(first_day_of(today, days_back)))
            .bind(format_day(today - 2))
            .execute()
            .await
            .unwrap();
        k += 1;
    }

    let to = format_day(today - 1);
    let site = sites[0];
    let run = |sql: String, from: String| {
        let client = client.clone();
        let (site, to) = (site.to_string(), to.clone());
        async move {
            let t = Instant::now();
            let result = client
                .query(&sql)
                .param("site", &site)
                .param("from", &from)
                .param("to", &to)
                .fetch_bytes("JSONCompact")
                .unwrap()
                .collect()
                .await;
            let data = match result {
                Ok(bytes) => {
                    serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["data"].clone()
                }
                Err(_) => serde_json::Value::Null,
            };
            (t.elapsed(), data)
        }
    };
    let mut table = String::new();
    let mut slow = Vec::new();
    for (n, sql) in cookbook() {
        let mut cells = Vec::new();
        for days in [30, 365] {
            let from = format_day(today - days);
            let mut times = Vec::new();
            let mut refused = false;
            for _ in 0..5 {
                let (t, data) = run(sql.clone(), from.clone()).await;
                refused |= data.is_null();
                times.push(t);
            }
            times.sort();
            let p50 = times[2].as_secs_f64() * 1000.0;
            if refused {
                cells.push("refused (event tier only)".to_string());
                continue;
            }
            cells.push(format!("{p50:.1}"));
            if [1, 4, 7, 8, 10, 11, 12].contains(&n) && p50 > 100.0 {
                slow.push((n, days));
            }
        }
        table.push_str(&format!("| {n} | {} |\n", cells.join(" | ")));
    }
    // The overview agrees exactly with the raw events over 30 days (the
    // rolled-up days and yesterday from the event tier).
    let from30 = format_day(today - 30);
    let (_, agg) = run(
        cookbook().into_iter().find(|q| q.0 == 1).unwrap().1,
        from30.clone(),
    )
    .await;
    let (_, rawv) = run("SELECT uniqExactIf((toDate(ts), visitor_id), visitor_id != 0), countIf(name = 'pageview'), count() FROM events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date}".into(), from30).await;
    assert_eq!(agg, rawv, "overview: aggregate tier vs raw events");
    let (a, r) = (agg[0][0].clone(), rawv[0][0].clone());
    let err = 0.0;
    let screen = api_first_screen(&store, &cfg, site, today).await;
    let screen = screen + &api_today_screens(&store, &cfg, site, today).await;
    let report = format!(
        "# Analytics at scale ({})\n\n{summary}\nQueries for `{site}` ending {to}, p50 of 5 runs, on {url} (clickhouse-dev: chDB behind a Python HTTP server). The 365-day range reads the loaded days' rollups copied back in time to fill the year.\n\nOverview vs raw events over 30 days: visitors {a} vs exact {r} ({err:.3}% apart); page views equal.\n\n| cookbook query | p50 ms, 30 days | p50 ms, 365 days |\n|---|---|---|\n{table}{screen}{storage}",
        format_day(today)
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
            eprintln!("over 100 ms p50: (query, days) {slow:?}");
        }
    } else {
        common::drop_database(&cfg).await;
    }
}

/// The first loaded day.
fn first_day_of(today: i32, days_back: i32) -> i32 {
    today - days_back
}

/// A dashboard's first screen through the query API's core (parse,
/// compile, run; no HTTP): top stats, the graph and eight top lists, each
/// query timed alone (p50 of 5) and the screen's queries sent at once as a
/// dashboard sends them (p50 of 5), over 30 days with and without one
/// filter, and over 365 days without (the filtered rollups live as long as
/// the event tier).
async fn api_first_screen(
    store: &tacit::store::Store,
    cfg: &tacit::config::Config,
    site: &str,
    today: i32,
) -> String {
    use serde_json::json;
    let ctx = tacit::query::Context {
        today,
        now_ms: SystemClock.now_ms(),
        event_ttl_days: cfg.policy.event_ttl_days,
        aggregate_ttl_months: cfg.policy.aggregate_ttl_months,
        keeps_region: false,
        keeps_city: false,
    };
    let lists = [
        ("sources", "visit:source", "visitors"),
        ("pages", "event:page", "visitors"),
        ("entry pages", "visit:entry_page", "visits"),
        ("exit pages", "visit:exit_page", "visits"),
        ("countries", "visit:country", "visitors"),
        ("devices", "visit:device", "visitors"),
        ("browsers", "visit:browser", "visitors"),
        ("operating systems", "visit:os", "visitors"),
    ];
    let screen = |range: serde_json::Value, filter: bool| {
        let filters = if filter {
            json!([["is", "visit:country", ["DE"]]])
        } else {
            json!([])
        };
        let mut out = vec![
            (
                "top stats".to_string(),
                json!({"site_id": site, "date_range": range, "filters": filters,
                "metrics": ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"]}),
            ),
            (
                "graph".to_string(),
                json!({"site_id": site, "date_range": range, "filters": filters,
                "metrics": ["visitors"], "dimensions": ["time:day"]}),
            ),
        ];
        for (name, dim, metric) in lists {
            out.push((
                name.to_string(),
                json!({"site_id": site, "date_range": range, "filters": filters,
                "metrics": [metric], "dimensions": [dim], "pagination": {"limit": 9}}),
            ));
        }
        out
    };
    let last = |days: i32| json!([format_day(today - days), format_day(today - 1)]);
    let mut table = String::from("\nThe query API (`POST /api/v2/query`'s parse, compile and run; no HTTP), a dashboard's first screen for `");
    table.push_str(site);
    table.push_str("`: p50 ms of 5 runs of each query alone, and of the whole screen with its ten queries sent at once.\n\n| query | 30 days | 30 days, one filter (country) | 365 days |\n|---|---|---|---|\n");
    let variants = [
        screen(last(30), false),
        screen(last(30), true),
        screen(last(365), false),
    ];
    table + &timed(store, ctx, &variants).await
}

/// Each query of each variant alone (p50 of 5), and each variant's
/// queries sent at once (p50 of 5): the table's rows.
async fn timed(
    store: &tacit::store::Store,
    ctx: tacit::query::Context,
    variants: &[Vec<(String, serde_json::Value)>],
) -> String {
    let one = move |body: serde_json::Value| {
        let store = store.clone();
        async move {
            let t = Instant::now();
            let q = tacit::query::parse(body.to_string().as_bytes(), &ctx);
            let r = match q {
                Ok(q) => tacit::query::run::run(&store, &q, &ctx).await.map(|_| ()),
                Err(e) => Err(e),
            };
            (t.elapsed(), r.map_err(|e| e.to_string()))
        }
    };
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); variants[0].len() + 1];
    for v in variants {
        for (i, (_, body)) in v.iter().enumerate() {
            let mut times = Vec::new();
            let mut failed = None;
            for _ in 0..5 {
                let (t, r) = one(body.clone()).await;
                failed = failed.or(r.err());
                times.push(t);
            }
            times.sort();
            cells[i].push(match failed {
                Some(e) => format!("refused: {}", e.chars().take(60).collect::<String>()),
                None => format!("{:.1}", times[2].as_secs_f64() * 1000.0),
            });
        }
        let mut walls = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let all: Vec<_> = v
                .iter()
                .map(|(_, b)| tokio::spawn(one(b.clone())))
                .collect();
            for h in all {
                let _ = h.await.unwrap().1;
            }
            walls.push(t.elapsed());
        }
        walls.sort();
        cells[v.len()].push(format!("**{:.1}**", walls[2].as_secs_f64() * 1000.0));
    }
    let mut table = String::new();
    for (i, (name, _)) in variants[0].iter().enumerate() {
        table.push_str(&format!("| {name} | {} |\n", cells[i].join(" | ")));
    }
    table.push_str(&format!(
        "| **whole screen, in parallel** | {} |\n",
        cells[variants[0].len()].join(" | ")
    ));
    table
}

/// The busy afternoon: today's screen (top stats, the graph by hour and
/// the eight top lists over `day`) and the realtime screen (current
/// visitors, the last 30 minutes by minute, the top lists over `30m`),
/// with millions of events already in today, all from the event tier.
async fn api_today_screens(
    store: &tacit::store::Store,
    cfg: &tacit::config::Config,
    site: &str,
    today: i32,
) -> String {
    use serde_json::json;
    // "Now" is when today's hits stopped arriving (the injected clock), so
    // the realtime screen reads a live half hour even when the queries run
    // long after the load.
    let last_hit: i64 = store
        .client()
        .query("SELECT toUnixTimestamp64Milli(max(ts)) FROM events WHERE site = ? AND toDate(ts) = today()")
        .bind(site)
        .fetch_one()
        .await
        .unwrap_or(0);
    let ctx = tacit::query::Context {
        today,
        now_ms: last_hit.max(today as i64 * 86_400_000),
        event_ttl_days: cfg.policy.event_ttl_days,
        aggregate_ttl_months: cfg.policy.aggregate_ttl_months,
        keeps_region: false,
        keeps_city: false,
    };
    let live_n: u64 = store
        .client()
        .query("SELECT count() FROM events WHERE site = ? AND ts > fromUnixTimestamp64Milli(?, 'UTC') - INTERVAL 30 MINUTE")
        .bind(site)
        .bind(last_hit)
        .fetch_one()
        .await
        .unwrap_or(0);
    let today_n: u64 = store
        .client()
        .query("SELECT count() FROM events WHERE site = ? AND toDate(ts) = today()")
        .bind(site)
        .fetch_one()
        .await
        .unwrap_or(0);
    let q = |range: &str, metrics: serde_json::Value, dims: serde_json::Value, limit: u64| {
        json!({"site_id": site, "date_range": range, "metrics": metrics, "dimensions": dims,
            "pagination": {"limit": limit}})
    };
    let lists = [
        ("sources", "visit:source", "visitors"),
        ("pages", "event:page", "visitors"),
        ("entry pages", "visit:entry_page", "visits"),
        ("exit pages", "visit:exit_page", "visits"),
        ("countries", "visit:country", "visitors"),
        ("devices", "visit:device", "visitors"),
        ("browsers", "visit:browser", "visitors"),
        ("operating systems", "visit:os", "visitors"),
    ];
    let mut day = vec![
        (
            "top stats".to_string(),
            q(
                "day",
                json!([
                    "visitors",
                    "visits",
                    "pageviews",
                    "views_per_visit",
                    "bounce_rate",
                    "visit_duration"
                ]),
                json!([]),
                1,
            ),
        ),
        (
            "graph (by hour)".to_string(),
            q(
                "day",
                json!(["visitors", "pageviews"]),
                json!(["time:hour"]),
                24,
            ),
        ),
    ];
    let mut live = vec![
        (
            "current visitors".to_string(),
            q("realtime", json!(["visitors"]), json!([]), 1),
        ),
        (
            "graph (30 min by minute)".to_string(),
            q(
                "30m",
                json!(["visitors", "pageviews"]),
                json!(["time:minute"]),
                30,
            ),
        ),
    ];
    for (name, dim, metric) in lists {
        day.push((name.to_string(), q("day", json!([metric]), json!([dim]), 9)));
        live.push((name.to_string(), q("30m", json!([metric]), json!([dim]), 9)));
    }
    let mut table = format!("\nThe busy afternoon: {today_n} events of `{site}` already in today ({live_n} in its last 30 minutes), its visits live (`live_visits`, from its events); p50 ms of 5 runs of each query alone, and of each screen with its queries sent at once (all from the event tier).\n\n| query | today | realtime |\n|---|---|---|\n");
    // The two screens side by side: the same rows, by position.
    let rows = timed(store, ctx, &[day.clone()]).await;
    let rows_live = timed(store, ctx, &[live.clone()]).await;
    for ((a, b), i) in rows.lines().zip(rows_live.lines()).zip(0..) {
        let name_a = a.split(" | ").next().unwrap_or("").trim_start_matches("| ");
        let name_b = b.split(" | ").next().unwrap_or("").trim_start_matches("| ");
        let cell = |l: &str| {
            l.rsplit(" | ")
                .next()
                .unwrap_or("")
                .trim_end_matches(" |")
                .to_string()
        };
        let name = if i < 2 {
            format!("{name_a} / {name_b}")
        } else {
            name_a.to_string()
        };
        table.push_str(&format!("| {name} | {} | {} |\n", cell(a), cell(b)));
    }
    table
}
