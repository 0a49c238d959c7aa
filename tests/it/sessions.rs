//! A closed day's visits recomputed from its events (what its rollup does;
//! open days' visits are the collectors' live ones, tests/it/visits.rs)
//! are exactly the visits the raw events make, and a late row is taken in
//! by the next recomputation.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recomputed_day_holds_the_visits_the_raw_events_make() {
    let (db, day) = setup("sess_full").await;
    let store = db.store();
    let d0 = day as i64 * 86_400_000;
    insert_hits(&db, day, d0, d0 + 24 * HOUR).await;
    let events = count(&db, "SELECT count() FROM events").await;
    assert_eq!(events, 300 * 8 + 20 * 18);
    // Not recomputed yet: a rollup would recompute the day.
    assert!(!tacit::analytics::sessions::complete(&store, day)
        .await
        .unwrap());
    tacit::analytics::sessions::sessionize_day(&store, day, 1)
        .await
        .unwrap();
    assert_eq!(
        stored(&db, day).await,
        oracle(&db, day).await,
        "the visits the raw events make"
    );
    assert!(tacit::analytics::sessions::complete(&store, day)
        .await
        .unwrap());
    let first = snapshot(&db, day).await;
    assert!(first.len() > 300, "{} visits", first.len());
    // The views see each visit once.
    let in_view = |db: &TestDb| {
        let sql = format!(
            "SELECT count() FROM analytics_visits WHERE day = toDate('{}')",
            format_day(day)
        );
        let db = db.client();
        async move { db.query(&sql).fetch_one::<u64>().await.unwrap() }
    };
    assert_eq!(in_view(&db).await as usize, first.len());

    // A row arriving late, between two hits of a long visit: the day is no
    // longer complete, and the next recomputation puts it in that visit,
    // leaving one version of each visit.
    let late_ts = d0 + 36_000_000 + 3 * 61_000 + 1_800_000 + 300_000;
    raw_query(
        &db.url,
        &format!(
            "INSERT INTO `{}`.events (site, ts, visitor_id, name, pathname) VALUES ('a.example', fromUnixTimestamp64Milli({late_ts}, 'UTC'), 5003, 'pageview', '/late')",
            db.name
        ),
    )
    .await;
    assert!(!tacit::analytics::sessions::complete(&store, day)
        .await
        .unwrap());
    tacit::analytics::sessions::sessionize_day(&store, day, 2)
        .await
        .unwrap();
    assert!(tacit::analytics::sessions::complete(&store, day)
        .await
        .unwrap());
    let after = snapshot(&db, day).await;
    assert!(after.iter().any(|v| v.contains("/late")));
    assert_eq!(
        stored(&db, day).await,
        oracle(&db, day).await,
        "the visits the raw events make, the late row included"
    );
    assert_eq!(
        count(&db, "SELECT count() FROM sessions").await as usize,
        after.len(),
        "older versions deleted"
    );
    assert_eq!(in_view(&db).await as usize, after.len());
}
