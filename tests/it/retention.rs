//! Retention tiers against the real engine: after the event TTL nothing per
//! visitor is left, and every analyst view still answers exactly as it did
//! from the events; every stored column is classified in one place.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tacit::model::clock::{day_of, format_day, Clock, ManualClock, SystemClock};
use tacit::store::tiers::{self, Tier};

use crate::analytics::*;
use crate::common::*;

/// (table, column, type) of every table that stores rows.
async fn stored_columns(db: &TestDb) -> Vec<(String, String, String)> {
    db.client()
        .query(
            "SELECT table, name, type FROM system.columns
             WHERE database = ? AND table IN (SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View')
             ORDER BY table, position",
        )
        .bind(&db.name)
        .bind(&db.name)
        .fetch_all()
        .await
        .unwrap()
}

/// Why a column may not be in a table of `tier`, if it may not. Only the
/// event tier may hold visitor ids or sketches of them; the aggregate tier
/// holds counts (no per-visit lists, no sub-second times). Operations and
/// the ledger record tacit's own actions (when a release was made, which
/// sites it covered), never visitors.
fn forbidden(tier: Tier, name: &str, ty: &str) -> Option<&'static str> {
    if tier == Tier::Event {
        return None;
    }
    if name == "visitor_id" {
        Some("a visitor id")
    } else if ty.contains("AggregateFunction") {
        Some("a sketch state")
    } else if tier == Tier::Aggregate && ty.starts_with("Array") {
        Some("a per-visit list")
    } else if tier == Tier::Aggregate && ty.contains("DateTime64") {
        Some("a time finer than a second")
    } else {
        None
    }
}

#[tokio::test]
async fn every_stored_column_is_classified_and_the_aggregate_tier_holds_counts_only() {
    let db = TestDb::new("tiers");
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let live = stored_columns(&db).await;
    let mut by_table: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (t, c, ty) in &live {
        by_table.entry(t).or_default().insert(c);
        let class = tiers::table(t)
            .unwrap_or_else(|| panic!("table {t} is not classified in src/store/tiers.rs"));
        assert!(
            class.columns.contains(&c.as_str()),
            "column {t}.{c} is not classified in src/store/tiers.rs"
        );
        if let Some(why) = forbidden(class.tier, c, ty) {
            panic!("{t}.{c} ({ty}) is {why}, outside the event tier");
        }
        if class.tier == Tier::Aggregate && ty.starts_with("DateTime") {
            assert_eq!(
                c, "hour",
                "{t}.{c}: the aggregate tier keeps times to the hour"
            );
        }
    }
    // `tacit policy` lists them from the engine, each with its tier, TTL
    // and what it holds.
    let listed = tiers::live(&db.client(), &db.name).await.unwrap();
    assert_eq!(listed.len(), by_table.len());
    for t in &listed {
        assert_ne!(t.tier, "unclassified", "{}", t.table);
        assert!(!t.holds.trim().is_empty(), "{} has no comment", t.table);
        let class = tiers::table(&t.table).unwrap();
        if !matches!(class.lifetime, tiers::Lifetime::Fixed) {
            assert!(t.ttl.contains("toInterval"), "{}: {}", t.table, t.ttl);
        }
    }
    for t in tiers::TABLES {
        let have = by_table
            .get(t.name)
            .unwrap_or_else(|| panic!("classified table {} does not exist", t.name));
        for c in t.columns {
            assert!(
                have.contains(c),
                "classified column {}.{c} does not exist",
                t.name
            );
        }
    }
}

/// Every cookbook query's rows, by number (18, the ad-hoc funnel, reads
/// the event tier only and is checked on its own).
async fn answers(db: &TestDb, params: &[(&str, &str)]) -> BTreeMap<u32, Vec<Vec<Value>>> {
    let mut out = BTreeMap::new();
    for (n, sql) in cookbook() {
        if n != 18 {
            out.insert(n, run(db, &sql, params).await);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_event_ttl_nothing_per_visitor_remains_and_every_view_answers_the_same() {
    let db = TestDb::new("retention");
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let client = db.client();
    let store = db.store();
    let now = settled_now(&db).await;
    let today = day_of(now);
    // Two closed days whose events a 3-day TTL has expired.
    let days = [today - 5, today - 4];
    let visits = load_generated(&db, &days).await;
    raw_query(
        &db.url,
        &format!(
            "INSERT INTO `{}`.dropped_hits VALUES ('{}', '{SITE}', 'bot', 12), ('{}', '{SITE}', 'do_not_track', 2)",
            db.name,
            format_day(days[0]),
            format_day(days[1])
        ),
    )
    .await;
    signup_funnel(&store).await;
    let (from, to) = (format_day(days[0]), format_day(days[1]));
    let params = [("site", SITE), ("from", from.as_str()), ("to", to.as_str())];
    let before = answers(&db, &params).await;
    assert!(before.values().all(|rows| !rows.is_empty()));
    assert!(!visits.is_empty());

    // Days close two days after they end, plus the delay (injected clock):
    // ten minutes into the day after next, the second day is still open.
    let clock = ManualClock::new((days[1] as i64 + 2) * 86_400_000 + 600_000);
    let schedule = tacit::analytics::rollup::Schedule {
        event_ttl_days: 30,
        delay: std::time::Duration::from_secs(1800),
    };
    let rolled = tacit::analytics::rollup::run_once(&store, schedule, clock.now_ms())
        .await
        .unwrap();
    assert_eq!(rolled, vec![days[0]]);
    assert_eq!(
        answers(&db, &params).await,
        before,
        "the seam changed an answer"
    );
    clock.advance(1_800_000);
    let rolled = tacit::analytics::rollup::run_once(&store, schedule, clock.now_ms())
        .await
        .unwrap();
    assert_eq!(rolled, vec![days[1]]);
    assert!(
        tacit::analytics::rollup::run_once(&store, schedule, clock.now_ms())
            .await
            .unwrap()
            .is_empty()
    );
    // A day rolled up before the per-visit landing counts existed
    // (migration 0028) is rolled up again while the event tier holds it.
    store
        .client()
        .query("ALTER TABLE rollup_landing_daily DELETE WHERE day = {d:Date} SETTINGS mutations_sync = 1")
        .param("d", format_day(days[0]))
        .execute()
        .await
        .unwrap();
    let rolled = tacit::analytics::rollup::run_once(&store, schedule, clock.now_ms())
        .await
        .unwrap();
    assert_eq!(rolled, vec![days[0]]);
    assert!(
        tacit::analytics::rollup::run_once(&store, schedule, clock.now_ms())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        answers(&db, &params).await,
        before,
        "the rollup changed an answer"
    );

    // The policy shortens the event tier to 3 days: the engine expires the
    // events and visits of both days.
    let mut raw = db.config();
    raw.policy.event_ttl_days = 3;
    let short = raw.validate().unwrap();
    let changed = tacit::store::apply_retention(&store, &short.policy)
        .await
        .unwrap();
    assert!(
        changed.contains(&"events") && changed.contains(&"sessions"),
        "{changed:?}"
    );
    for t in ["events", "sessions"] {
        raw_query(&db.url, &format!("OPTIMIZE TABLE `{}`.{t} FINAL", db.name)).await;
    }
    let mut left = u64::MAX;
    for _ in 0..100 {
        left = db.count("events").await + db.count("sessions").await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(left, 0, "the event tier still holds rows after its TTL");

    // Nothing per visitor is left anywhere: every table that still has rows
    // is outside the event tier and holds no visitor id, sketch, per-visit
    // list or time finer than an hour.
    for (t, c, ty) in stored_columns(&db).await {
        let class = tiers::table(&t).unwrap();
        let rows = db.count(&t).await;
        if class.tier == Tier::Event {
            assert_eq!(rows, 0, "{t}");
            continue;
        }
        if rows == 0 {
            continue;
        }
        assert!(forbidden(class.tier, &c, &ty).is_none(), "{t}.{c} ({ty})");
        if class.tier == Tier::Aggregate && ty.starts_with("DateTime") {
            let finer: u64 = client
                .query(&format!(
                    "SELECT count() FROM {t} WHERE {c} != toStartOfHour({c})"
                ))
                .fetch_one()
                .await
                .unwrap();
            assert_eq!(finer, 0, "{t}.{c} holds times finer than an hour");
        }
    }

    // Every view still answers, exactly as before the rollup.
    assert_eq!(
        answers(&db, &params).await,
        before,
        "an answer changed after the TTL"
    );
    // The ad-hoc funnel reads visits, now gone: refused with a reason, not
    // answered with zeros.
    let sql = cookbook().into_iter().find(|(n, _)| *n == 18).unwrap().1;
    let mut url = format!("{}/?database={}", db.url, db.name);
    for (k, v) in params {
        url.push_str(&format!("&param_{k}={v}"));
    }
    let (status, _, body) = http(hyper::Method::POST, &url, &[], sql.into_bytes()).await;
    let text = String::from_utf8_lossy(&body);
    assert_ne!(status, 200, "{text}");
    assert!(text.contains("ad-hoc funnels read visits"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_sketches_and_old_visits_become_counts_on_upgrade() {
    let db = TestDb::new("upgrade");
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate_to(&cfg.clickhouse, 0, 12)
        .await
        .unwrap();
    let client = db.client();
    let store = db.store();
    let today = today(&db).await;
    // A day past the event TTL (its sketches and visits are all that is
    // left of it) and a closed day still within it.
    let (old, recent) = (today - 40, today - 5);
    load_generated(&db, &[old, recent]).await;
    // What the old schema answered, per day: visitors from the sketches,
    // page views, visits from `sessions`.
    let old_answers = |d: i32| {
        let db = &db;
        async move {
            run(
                db,
                "SELECT (SELECT uniqMerge(visitors) FROM agg_hourly WHERE toDate(hour) = {d:Date}),
                        (SELECT sum(pageviews) FROM agg_daily WHERE day = {d:Date} AND dimension = 'pathname'),
                        (SELECT count() FROM analytics_visits WHERE day = {d:Date})",
                &[("d", &format_day(d))],
            )
            .await
        }
    };
    let want_old = old_answers(old).await;
    let want_recent = old_answers(recent).await;

    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let gone: u64 = client
        .query("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name IN ('agg_hourly', 'agg_daily', 'agg_hourly_mv', 'agg_daily_mv')")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(gone, 0, "the sketch tables are dropped");
    let new_answers = |d: i32| {
        let db = &db;
        async move {
            run(
                db,
                "SELECT visitors, pageviews, visits FROM analytics_overview_daily WHERE site = {site:String} AND day = {d:Date}",
                &[("site", SITE), ("d", &format_day(d))],
            )
            .await
        }
    };
    assert_eq!(
        new_answers(old).await,
        want_old,
        "finalized sketches and rolled-up visits"
    );
    assert_eq!(new_answers(recent).await, want_recent);
    // The old day's visits expire with the event tier (the TTL the upgrade
    // gave `sessions`); its counts stay.
    raw_query(
        &db.url,
        &format!("OPTIMIZE TABLE `{}`.sessions FINAL", db.name),
    )
    .await;
    let old_visits: u64 = client
        .query("SELECT count() FROM sessions WHERE day = toDate(?)")
        .bind(format_day(old))
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(old_visits, 0);
    assert_eq!(new_answers(old).await, want_old);
    // The closed day still within the event TTL is recomputed exactly from
    // its events by the next rollup; the old one stays as finalized.
    let schedule = tacit::analytics::rollup::Schedule {
        event_ttl_days: 30,
        delay: std::time::Duration::from_secs(1800),
    };
    let rolled = tacit::analytics::rollup::run_once(&store, schedule, SystemClock.now_ms())
        .await
        .unwrap();
    assert_eq!(rolled, vec![recent]);
    assert_eq!(new_answers(recent).await, want_recent);
}

/// Every file under a running collector's data directory, relative to it.
fn files_under(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_and_store_outside_the_database_is_classified() {
    let db = TestDb::new("outside");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    let app = start(raw.clone()).await;
    for i in 0..5 {
        beacon(app.beacon_addr, &format!("/p/{i}")).await;
    }
    db.wait_rows("events", 5, 20).await;
    // Rows waiting in the log while the database is away.
    proxy.down();
    for i in 0..5 {
        beacon(app.beacon_addr, &format!("/q/{i}")).await;
    }
    let root = std::path::PathBuf::from(&raw.server.data_dir);
    let mut seen = files_under(&root);
    proxy.up();
    db.wait_rows("events", 10, 30).await;
    app.shutdown().await;
    seen.extend(files_under(&root));
    assert!(seen.iter().any(|f| f.ends_with(".wal")), "{seen:?}");
    for f in &seen {
        let class = tiers::file(f).unwrap_or_else(|| {
            panic!("{f} under the data directory is not classified in src/store/tiers.rs FILES")
        });
        assert!(!class.lifetime.is_empty() && !class.purge.is_empty(), "{f}");
    }
    // In-memory stores are named with a lifetime, and `tacit policy`
    // states the lifetime of every table from the same source.
    for m in tiers::MEMORY {
        assert!(!m.lifetime.is_empty() && !m.purge.is_empty(), "{}", m.name);
    }
    let cfg = raw.validate().unwrap();
    let notice = tacit::commands::notice::notice(&cfg);
    for r in &notice.retention {
        for t in r.table.split(", ") {
            if let Some(k) = tiers::kept_for(t, &cfg.policy) {
                assert!(r.kept_for.starts_with(&k), "{t}: {} vs {k}", r.kept_for);
            }
        }
    }
}
