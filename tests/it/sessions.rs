//! The live sessionizer works incrementally: run after run, it extends the
//! open visits by the events that came after them, and what it leaves is
//! exactly what a full recomputation of the day gives. A late row sends its
//! day back to a full run.

use tacit::analytics::sessions::{Margins, Sessionizer};
use tacit::model::clock::format_day;

use crate::common::*;

const HOUR: i64 = 3_600_000;

/// Every visit of `day`, newest version of each, without the version.
async fn snapshot(db: &TestDb, day: i32) -> Vec<String> {
    db.client()
        .query(
            "SELECT toString(tuple(site, visitor_id, start, end, pageviews, events, entry_page, exit_page,
                                   referrer_source, channel, utm_campaign, country, device, event_names, pages, steps))
             FROM sessions FINAL WHERE day = toDate(?) ORDER BY site, visitor_id, start",
        )
        .bind(format_day(day))
        .fetch_all()
        .await
        .unwrap()
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Hit {
    site: String,
    visitor_id: u64,
    ms: i64,
    name: String,
    pathname: String,
}

/// The visits of `day` computed here from the raw events, independently of
/// the SQL: (site, visitor, first ms, last ms, page views, events, entry,
/// exit, event names, pages).
type Visit = (
    String,
    u64,
    i64,
    i64,
    u32,
    u32,
    String,
    String,
    Vec<String>,
    Vec<String>,
);

async fn oracle(db: &TestDb, day: i32) -> Vec<Visit> {
    let hits: Vec<Hit> = db
        .client()
        .query(
            "SELECT site, visitor_id, toUnixTimestamp64Milli(ts) AS ms, toString(name) AS name, pathname FROM events
             WHERE toDate(ts) = toDate(?) AND visitor_id != 0 ORDER BY site, visitor_id, ts",
        )
        .bind(format_day(day))
        .fetch_all()
        .await
        .unwrap();
    let mut out: Vec<Visit> = Vec::new();
    let mut prev: Option<(String, u64, i64)> = None;
    for h in hits {
        let same = matches!(&prev, Some((s, v, last)) if *s == h.site && *v == h.visitor_id
            && h.ms.div_euclid(1000) - last.div_euclid(1000) <= 1800);
        if !same {
            out.push((
                h.site.clone(),
                h.visitor_id,
                h.ms,
                h.ms,
                0,
                0,
                String::new(),
                String::new(),
                vec![],
                vec![],
            ));
        }
        let v = out.last_mut().unwrap();
        v.3 = h.ms;
        v.5 += 1;
        if h.name == "pageview" {
            if v.4 == 0 {
                v.6 = h.pathname.clone();
            }
            v.4 += 1;
            v.7 = h.pathname.clone();
            v.9.push(h.pathname.clone());
        }
        v.8.push(h.name.clone());
        prev = Some((h.site, h.visitor_id, h.ms));
    }
    out
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Stored {
    site: String,
    visitor_id: u64,
    first: i64,
    last: i64,
    pageviews: u32,
    events: u32,
    entry_page: String,
    exit_page: String,
    event_names: Vec<String>,
    pages: Vec<String>,
}

async fn stored(db: &TestDb, day: i32) -> Vec<Visit> {
    let rows: Vec<Stored> = db
        .client()
        .query(
            "SELECT site, visitor_id, toUnixTimestamp64Milli(start) AS first, toUnixTimestamp64Milli(end) AS last, pageviews, events,
                    entry_page, exit_page, arrayMap(x -> toString(x), event_names) AS event_names, pages
             FROM sessions FINAL WHERE day = toDate(?) ORDER BY site, visitor_id, start",
        )
        .bind(format_day(day))
        .fetch_all()
        .await
        .unwrap();
    rows.into_iter()
        .map(|r| {
            (
                r.site,
                r.visitor_id,
                r.first,
                r.last,
                r.pageviews,
                r.events,
                r.entry_page,
                r.exit_page,
                r.event_names,
                r.pages,
            )
        })
        .collect()
}

async fn count(db: &TestDb, sql: &str) -> u64 {
    db.client().query(sql).fetch_one().await.unwrap()
}

/// Hits of `day` whose time falls in [from, to) (ms): 300 visitors with
/// eight hits each at mixed gaps (some over 30 minutes, so visits split),
/// and 20 visitors browsing every 10 minutes for three hours, so their
/// visits stay open across many runs.
async fn insert_hits(db: &TestDb, day: i32, from: i64, to: i64) {
    let d0 = day as i64 * 86_400_000;
    raw_query(
        &db.url,
        &format!(
            "INSERT INTO `{db}`.events (site, ts, visitor_id, name, pathname, referrer_source, channel, country, device)
             SELECT site, ts, visitor_id, name, pathname, referrer_source, channel, country, device FROM
             (
                 SELECT if(v % 3 = 0, 'b.example', 'a.example') AS site, 1000 + v AS visitor_id,
                        fromUnixTimestamp64Milli(toInt64({d0} + (v * 7919 % 75000) * 1000
                            + arraySum(arraySlice([0, 240, 2400, 30, 600, 1900, 5, 400], 1, j + 1)) * 1000 + v % 997), 'UTC') AS ts,
                        if((v + j) % 4 = 3, 'signup', 'pageview') AS name, concat('/p', toString((v * j) % 7)) AS pathname,
                        if(j = 0, 'Google', 'x') AS referrer_source, if(j = 0, 'search', 'direct') AS channel,
                        if(v % 2 = 0, 'DE', 'FR') AS country, if(j = 0, 'mobile', 'desktop') AS device
                 FROM (SELECT number AS v FROM numbers(300)) ARRAY JOIN range(8) AS j
                 UNION ALL
                 SELECT 'a.example', 5000 + v, fromUnixTimestamp64Milli(toInt64({d0} + 36000000 + v * 61000 + j * 600000), 'UTC'),
                        'pageview', concat('/long', toString(j % 5)), 'y', 'referral', 'US', 'tablet'
                 FROM (SELECT number AS v FROM numbers(20)) ARRAY JOIN range(18) AS j
             )
             WHERE ts >= fromUnixTimestamp64Milli({from}, 'UTC') AND ts < fromUnixTimestamp64Milli({to}, 'UTC')",
            db = db.name
        ),
    )
    .await;
}

async fn setup(tag: &str) -> (TestDb, i32) {
    let db = TestDb::new(tag);
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let today = today(&db).await;
    (db, today)
}

fn exact() -> Sessionizer {
    Sessionizer::new(Margins {
        event_ms: 0,
        insert_ms: 0,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_runs_leave_the_visits_of_a_full_recomputation() {
    let (db, day) = setup("sess_inc").await;
    let store = db.store();
    let d0 = day as i64 * 86_400_000;
    let mut s = exact();
    // Hourly runs through the day, each after that hour's hits landed.
    for h in 0..24 {
        insert_hits(&db, day, d0 + h * HOUR, d0 + (h + 1) * HOUR).await;
        let full = s.run(&store, d0 + (h + 1) * HOUR - 1).await.unwrap();
        let expect_full = if h == 0 { vec![day - 1, day] } else { vec![] };
        assert_eq!(
            full, expect_full,
            "hour {h}: only the first run is a full one"
        );
    }
    let events = count(&db, "SELECT count() FROM events").await;
    assert_eq!(events, 300 * 8 + 20 * 18);
    let runs = count(&db, "SELECT uniqExact(version) FROM sessions_tail").await;
    assert!(runs >= 20, "visits written by {runs} runs");
    let extended = count(
        &db,
        "SELECT count() FROM (SELECT start FROM sessions_tail GROUP BY site, visitor_id, start HAVING uniqExact(version) > 1)",
    )
    .await;
    assert!(extended >= 20, "{extended} visits extended by later runs");
    let incremental = snapshot(&db, day).await;
    assert_eq!(
        stored(&db, day).await,
        oracle(&db, day).await,
        "the visits the raw events make"
    );
    // So a rollup of the day need not recompute it.
    assert!(tacit::analytics::sessions::complete(&store, day)
        .await
        .unwrap());
    // A run with nothing new writes nothing.
    let rows = count(&db, "SELECT count() FROM sessions").await;
    s.run(&store, d0 + 24 * HOUR - 1).await.unwrap();
    assert_eq!(count(&db, "SELECT count() FROM sessions").await, rows);
    // The same day recomputed in full, from `events`.
    tacit::analytics::sessions::sessionize_day(&store, day, u64::MAX / 2)
        .await
        .unwrap();
    let full = snapshot(&db, day).await;
    assert!(full.len() > 300, "{} visits", full.len());
    assert_eq!(incremental.len(), full.len());
    assert_eq!(incremental, full);
    // The views see each visit once.
    let visits = count(
        &db,
        &format!(
            "SELECT count() FROM analytics_visits WHERE day = toDate('{}')",
            format_day(day)
        ),
    )
    .await;
    assert_eq!(visits as usize, full.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_row_sends_its_day_back_to_a_full_run() {
    let (db, day) = setup("sess_late").await;
    let store = db.store();
    let d0 = day as i64 * 86_400_000;
    let mut s = exact();
    for h in 0..12 {
        insert_hits(&db, day, d0 + h * HOUR, d0 + (h + 1) * HOUR).await;
        s.run(&store, d0 + (h + 1) * HOUR - 1).await.unwrap();
    }
    // A row from before the cursor arrives after the 12:00 run, between two
    // hits of a long visit: it must land in that visit.
    let late_ts = d0 + 36_000_000 + 3 * 61_000 + 1_800_000 + 300_000;
    raw_query(
        &db.url,
        &format!(
            "INSERT INTO `{}`.events (site, ts, visitor_id, name, pathname) VALUES ('a.example', fromUnixTimestamp64Milli({late_ts}, 'UTC'), 5003, 'pageview', '/late')",
            db.name
        ),
    )
    .await;
    // A rollup now would recompute the day: its visits miss a row.
    assert!(!tacit::analytics::sessions::complete(&store, day)
        .await
        .unwrap());
    insert_hits(&db, day, d0 + 12 * HOUR, d0 + 13 * HOUR).await;
    let full = s.run(&store, d0 + 13 * HOUR - 1).await.unwrap();
    assert_eq!(full, vec![day]);
    assert!(tacit::analytics::sessions::complete(&store, day)
        .await
        .unwrap());
    let after_late = snapshot(&db, day).await;
    assert!(after_late.iter().any(|v| v.contains("/late")));
    // The next run is incremental again.
    insert_hits(&db, day, d0 + 13 * HOUR, d0 + 14 * HOUR).await;
    let full = s.run(&store, d0 + 14 * HOUR - 1).await.unwrap();
    assert!(full.is_empty());
    let incremental = snapshot(&db, day).await;
    assert_eq!(
        stored(&db, day).await,
        oracle(&db, day).await,
        "the visits the raw events make"
    );
    // The same events recomputed in full give the same visits (no events
    // after 14:00 yet).
    tacit::analytics::sessions::sessionize_day(&store, day, u64::MAX / 2)
        .await
        .unwrap();
    assert_eq!(incremental, snapshot(&db, day).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_running_at_different_times_count_each_event_once() {
    let (db, day) = setup("sess_two").await;
    let store = db.store();
    let d0 = day as i64 * 86_400_000;
    // Replica A runs every hour, replica B every three hours: B's cursor
    // lags, so its new events include many that A already put in visits.
    let (mut a, mut b) = (exact(), exact());
    for h in 0..24 {
        insert_hits(&db, day, d0 + h * HOUR, d0 + (h + 1) * HOUR).await;
        a.run(&store, d0 + (h + 1) * HOUR - 1).await.unwrap();
        if h % 3 == 1 {
            b.run(&store, d0 + (h + 1) * HOUR - 2).await.unwrap();
        }
    }
    b.run(&store, d0 + 24 * HOUR - 1).await.unwrap();
    assert_eq!(
        stored(&db, day).await,
        oracle(&db, day).await,
        "the visits the raw events make"
    );
    assert!(tacit::analytics::sessions::complete(&store, day)
        .await
        .unwrap());
}
