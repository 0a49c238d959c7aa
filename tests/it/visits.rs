//! Live visits on the real engine: the collector stamps each event with a
//! visit id and the engine builds an open day's visits from the events
//! (`live_visits`). The visits of a generated day sent through the real
//! listener (interleaved visitors, gaps just under and over 30 minutes, a
//! visit across midnight, hits out of order within a second, one closing a
//! gap, bots) equal the independent implementation of the rule
//! (`visits_rule.rs`) over the raw hits, while the day is open
//! (`live_visits`, `analytics_visits`, the realtime figures, the query API)
//! and after the day's rollup (`analytics_visits`, `analytics_visits_daily`).
//! Each row's fragment id is a function of its visitor and half hour, so a
//! restart, a SIGKILL or a second replica gives a hit the id it would have
//! got from one collector running throughout: live visits stay exact.

use std::sync::Arc;

use tacit::model::clock::{format_day, Clock, ManualClock};

use crate::common::*;
use crate::visits_rule::{self, RawHit, RuleVisit};

const BOT_UA: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

fn ip_of(who: &str) -> String {
    match who.strip_prefix('p').and_then(|n| n.parse::<u32>().ok()) {
        Some(n) => format!("10.{}.{}.7", n / 256, n % 256),
        None => format!("10.250.{}.7", who.len()),
    }
}

async fn send(addr: std::net::SocketAddr, h: &RawHit) {
    let query = if h.source.is_empty() {
        String::new()
    } else {
        format!("?utm_campaign={}", h.source)
    };
    let body = serde_json::json!({
        "n": h.name,
        "u": format!("https://{}{}{}", h.site, h.path, query),
        "d": h.site,
    })
    .to_string();
    let ip = ip_of(&h.who);
    let ua = if h.bot { BOT_UA } else { BROWSER_UA };
    let (s, _, b) = post(
        addr,
        "/api/event",
        &[
            ("user-agent", ua),
            ("content-type", "text/plain"),
            ("x-forwarded-for", &ip),
        ],
        &body,
    )
    .await;
    assert_eq!(s, 202, "{}", String::from_utf8_lossy(&b));
}

/// A visit as compared: everything but the visitor (site, day, first and
/// last ms, page views, events, entry, exit, campaign of the first hit,
/// names, pages).
type Cmp = (
    String,
    i64,
    i64,
    i64,
    u32,
    u32,
    String,
    String,
    String,
    Vec<String>,
    Vec<String>,
);

fn expected(hits: &[RawHit]) -> Vec<Cmp> {
    let mut v: Vec<Cmp> = visits_rule::visits(hits)
        .into_iter()
        .map(|r: RuleVisit| {
            (
                r.site,
                r.day,
                r.start,
                r.end,
                r.pageviews,
                r.events,
                r.entry,
                r.exit,
                r.source,
                r.names,
                r.pages,
            )
        })
        .collect();
    v.sort();
    v
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Row {
    site: String,
    day: u16,
    start: i64,
    end: i64,
    pageviews: u32,
    events: u32,
    entry_page: String,
    exit_page: String,
    utm_campaign: String,
    event_names: Vec<String>,
    pages: Vec<String>,
}

/// The visits `table` holds (with the columns of `visits`), by `filter`.
async fn stored(db: &TestDb, from: &str) -> Vec<Cmp> {
    let rows: Vec<Row> = db
        .client()
        .query(&format!(
            "SELECT toString(site) AS site, day, toUnixTimestamp64Milli(start) AS start,
                    toUnixTimestamp64Milli(end) AS end, pageviews, events, entry_page, exit_page,
                    utm_campaign, arrayMap(x -> toString(x), event_names) AS event_names, pages
             FROM {from}"
        ))
        .fetch_all()
        .await
        .unwrap();
    let mut v: Vec<Cmp> = rows
        .into_iter()
        .map(|r| {
            (
                r.site,
                r.day as i64,
                r.start,
                r.end,
                r.pageviews,
                r.events,
                r.entry_page,
                r.exit_page,
                r.utm_campaign,
                r.event_names,
                r.pages,
            )
        })
        .collect();
    v.sort();
    v
}

const LIVE: &str = "live_visits";

/// Wait until the live visits are `want` (the events are written every
/// 100 ms in the tests).
async fn wait_live(db: &TestDb, want: &[Cmp], what: &str) {
    let mut got = Vec::new();
    wait_until(what, 30, async || {
        got = stored(db, LIVE).await;
        got == want
    })
    .await;
    assert_eq!(got.len(), want.len(), "{what}");
    assert_eq!(got, want, "{what}");
}

async fn start_at(db: &TestDb, clock: &ManualClock) -> tacit::app::Running {
    start_in(db, clock, "").await
}

/// A collector on `db` with its own data directory `sub` (replicas).
async fn start_in(db: &TestDb, clock: &ManualClock, sub: &str) -> tacit::app::Running {
    let mut raw = db.config();
    raw.server.data_dir = db.dir.join(sub).to_string_lossy().into_owned();
    raw.sites = ["a.example", "b.example"]
        .into_iter()
        .map(|d| tacit::config::RawSite {
            domain: d.into(),
            ..Default::default()
        })
        .collect();
    raw.sink.durability = "process".into();
    let cfg = raw.validate().unwrap();
    tacit::app::start(
        &cfg,
        Arc::new(clock.clone()),
        tacit::app::Options {
            migrate: true,
            sessionize_every: None,
            ..Default::default()
        },
    )
    .await
    .expect("tacit starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_visits_follow_the_rule_while_open_and_after_the_rollup() {
    let db = TestDb::new("visits");
    let day = today(&db).await;
    let day_ms = day as i64 * 86_400_000;
    let hits = visits_rule::generated_day(7, 160, day_ms);
    let clock = ManualClock::new(hits[0].ts);
    let app = start_at(&db, &clock).await;
    for h in &hits {
        clock.set(h.ts);
        send(app.beacon_addr, h).await;
    }
    let want = expected(&hits);
    assert!(want.len() > 150, "{} visits", want.len());
    assert!(hits.iter().any(|h| h.bot));
    // While the day is open: every hit is in its visit within the flush
    // interval, open visits included.
    wait_live(&db, &want, "the open day's live visits").await;
    // The analyst-facing view reads an open day from the live visits.
    assert_eq!(
        stored(&db, "analytics_visits").await,
        want,
        "analytics_visits while the day is open"
    );
    let store = db.store();
    for site in ["a.example", "b.example"] {
        let mine: Vec<&Cmp> = want
            .iter()
            .filter(|v| v.0 == site && v.1 == day as i64)
            .collect();
        let now = clock.now_ms();
        let rt = tacit::visits::realtime::figures(&store, site, day, now)
            .await
            .unwrap();
        // Open: the visits a hit now would join (now's second at most 30
        // minutes after their last hit's, on their day); the boundaries are
        // checked by hand in `a_restart_does_not_split_an_open_visit`.
        let open = mine
            .iter()
            .filter(|v| {
                now.div_euclid(86_400_000) == day as i64
                    && now.div_euclid(1000) - v.3.div_euclid(1000) <= 1800
            })
            .count() as u64;
        assert_eq!(rt.open, open, "{site}");
        let bounces = mine.iter().filter(|v| v.5 <= 1).count() as f64;
        let duration: f64 = mine.iter().map(|v| (v.3 - v.2) as f64 / 1000.0).sum();
        assert_eq!(rt.visits, mine.len() as u64, "{site}");
        assert!(
            (rt.bounce_rate - bounces / mine.len() as f64).abs() < 1e-9,
            "{site}"
        );
        assert!(
            (rt.visit_duration_s - duration / mine.len() as f64).abs() < 1e-6,
            "{site}"
        );
        // The query API's figures for today read the same live visits
        // (rounded as Plausible rounds them).
        let ctx = tacit::query::Context {
            today: day,
            now_ms: clock.now_ms(),
            event_ttl_days: 30,
            aggregate_ttl_months: 24,
            keeps_region: false,
            keeps_city: false,
        };
        let body = serde_json::json!({"site_id": site, "metrics": ["visits", "bounce_rate", "visit_duration"], "date_range": "day"});
        let q = tacit::query::parse(body.to_string().as_bytes(), &ctx).unwrap();
        let got = tacit::query::run::run(&store, &q, &ctx).await.unwrap();
        let m = &got["results"][0]["metrics"];
        assert_eq!(m[0].as_u64(), Some(rt.visits), "{site}: {got}");
        assert_eq!(
            m[1].as_f64(),
            Some((rt.bounce_rate * 100.0).round()),
            "{site}: {got}"
        );
        assert_eq!(
            m[2].as_f64(),
            Some(rt.visit_duration_s.round()),
            "{site}: {got}"
        );
    }
    // The visits close by time: readers count none open, and the visits
    // are the same.
    clock.set(hits.iter().map(|h| h.ts).max().unwrap() + 3_600_000);
    for site in ["a.example", "b.example"] {
        let rt = tacit::visits::realtime::figures(&store, site, day, clock.now_ms())
            .await
            .unwrap();
        assert_eq!(rt.open, 0, "{site}");
    }
    wait_live(&db, &want, "the closed visits").await;
    // Every event of a visitor carries its fragment's id (its visitor's
    // and half hour's); visits that cross a half hour are several
    // fragments, which the view merged.
    assert_eq!(ids_checked(&db).await, fragments_of(&db, None).await);
    let fragments = fragments_of(&db, None).await;
    assert!(
        fragments > want.len() as u64,
        "{fragments} visit ids for {} visits",
        want.len()
    );
    app.shutdown().await;

    // After the rollup: the day's visits recomputed from its events are the
    // same visits, and the rolled-up counts are the rule's.
    tacit::analytics::rollup::rollup_day(&store, day, 1)
        .await
        .unwrap();
    let date = format_day(day);
    let of_day = |v: &&Cmp| v.1 == day as i64;
    let want_day: Vec<Cmp> = want.iter().filter(of_day).cloned().collect();
    let rolled = stored(
        &db,
        &format!(
            "(SELECT site, day, start, end, pageviews, events, entry_page, exit_page, utm_campaign,
                     event_names, pages FROM analytics_visits WHERE day = '{date}')"
        ),
    )
    .await;
    assert_eq!(rolled, want_day, "the rollup's visits");
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Daily {
        site: String,
        visits: u64,
        bounces: u64,
        duration_s: f64,
        pageviews: u64,
    }
    let daily: Vec<Daily> = db
        .client()
        .query(
            "SELECT site, visits, bounces, duration_s, pageviews FROM analytics_visits_daily
             WHERE day = toDate(?) AND kind = 'all' ORDER BY site",
        )
        .bind(&date)
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(daily.len(), 2);
    for d in daily {
        let mine: Vec<&Cmp> = want_day.iter().filter(|v| v.0 == d.site).collect();
        assert_eq!(d.visits, mine.len() as u64, "{}", d.site);
        assert_eq!(d.bounces, mine.iter().filter(|v| v.5 <= 1).count() as u64);
        assert_eq!(d.pageviews, mine.iter().map(|v| v.4 as u64).sum::<u64>());
        let dur: f64 = mine.iter().map(|v| (v.3 - v.2) as f64 / 1000.0).sum();
        assert!((d.duration_s - dur).abs() < 1e-3, "{} {dur}", d.duration_s);
    }
    // The new column carries nothing but a hash: never a visitor id, never
    // 0 for a hit with a visitor id, never shared by two visitors or days.
    let (bad, shared): (u64, u64) = db
        .client()
        .query(
            "SELECT countIf(visit_id = 0 OR visit_id = visitor_id OR visit_id < 4294967296),
                    toUInt64(ifNull((SELECT count() FROM (SELECT visit_id FROM events WHERE visitor_id != 0
                     GROUP BY visit_id HAVING uniqExact(visitor_id, toDate(ts)) > 1)), 0))
             FROM events WHERE visitor_id != 0",
        )
        .fetch_one()
        .await
        .unwrap();
    assert_eq!((bad, shared), (0, 0));
}

/// Every stored event with a visitor id carries the id
/// [`tacit::visits::visit_id`] gives its visitor and time, whichever
/// process stamped it (before or after a restart, a SIGKILL's replay, on
/// either replica). Returns the distinct (site, visitor, slot) checked.
async fn ids_checked(db: &TestDb) -> u64 {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct R {
        site: String,
        visitor_id: u64,
        ts: i64,
        visit_id: u64,
    }
    let rows: Vec<R> = db
        .client()
        .query(
            "SELECT toString(site) AS site, visitor_id, toUnixTimestamp64Milli(ts) AS ts, visit_id
             FROM events WHERE visitor_id != 0",
        )
        .fetch_all()
        .await
        .unwrap();
    assert!(!rows.is_empty());
    let mut slots = std::collections::HashSet::new();
    for r in &rows {
        assert_eq!(
            r.visit_id,
            tacit::visits::visit_id(r.visitor_id, r.ts),
            "{} {} {}",
            r.site,
            r.visitor_id,
            r.ts
        );
        slots.insert((r.site.clone(), r.visitor_id, tacit::visits::slot_of(r.ts)));
    }
    slots.len() as u64
}

/// Distinct visit ids (site, visitor, id) of the events with a visitor id
/// (of `day`, or all).
async fn fragments_of(db: &TestDb, day: Option<i32>) -> u64 {
    let filter = day.map_or(String::new(), |d| {
        format!(" AND toDate(ts) = '{}'", format_day(d))
    });
    db.client()
        .query(&format!(
            "SELECT uniqExact(site, visitor_id, visit_id) FROM events WHERE visitor_id != 0{filter}"
        ))
        .fetch_one()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_does_not_split_an_open_visit() {
    let db = TestDb::new("visits_restart");
    let day = today(&db).await;
    let t0 = day as i64 * 86_400_000 + 10 * 3_600_000;
    let clock = ManualClock::new(t0);
    let hit = |ts: i64, who: &str, path: &str| RawHit {
        site: "a.example".into(),
        ts,
        who: who.into(),
        name: "pageview".into(),
        path: path.into(),
        source: String::new(),
        engaged_ms: 0,
        bot: false,
    };
    let before = [
        hit(t0, "p1", "/"),
        hit(t0 + 60_000, "p1", "/a"),
        hit(t0 + 1_000, "p2", "/"),
    ];
    let app = start_at(&db, &clock).await;
    for h in &before {
        clock.set(h.ts);
        send(app.beacon_addr, h).await;
    }
    wait_live(&db, &expected(&before), "the first visits").await;
    app.shutdown().await;
    // A new process, which remembers nothing: p1 comes back exactly 30
    // minutes (1800 whole seconds) after its last hit, in the next half
    // hour (the same visit, two fragments), p2 after 41 minutes (a new
    // visit).
    let after = [
        hit(t0 + 31 * 60_000, "p1", "/b"),
        hit(t0 + 41 * 60_000, "p2", "/c"),
    ];
    clock.set(after[0].ts);
    let app = start_at(&db, &clock).await;
    for h in &after {
        clock.set(h.ts);
        send(app.beacon_addr, h).await;
    }
    let all: Vec<RawHit> = before.iter().chain(after.iter()).cloned().collect();
    let want = expected(&all);
    assert_eq!(want.len(), 3);
    // Not split by the restart: p1's three hits are one live visit of two
    // fragments (10:00-10:30 before it, 10:30-11:00 after), p2's two
    // visits two.
    wait_live(&db, &want, "the visits across the restart").await;
    app.shutdown().await;
    assert_eq!(ids_checked(&db).await, 4);
    // Open visits at their edges, by hand: p1's visit ends 10:31:00, p2's
    // visits 10:00:01 and 10:41:00. A visit is open while a hit now would
    // join it: now's second at most 1800 after its last hit's, on its day.
    let store = db.store();
    let m = 60_000;
    for (now, open) in [
        (t0 + 31 * m, 2),
        (t0 + 61 * m, 2),
        (t0 + 61 * m + 999, 2),
        (t0 + 61 * m + 1_000, 1),
        (t0 + 71 * m + 999, 1),
        (t0 + 71 * m + 1_000, 0),
        // Two minutes after p2's second visit, but a day later.
        (t0 + 86_400_000 + 43 * m, 0),
    ] {
        let rt = tacit::visits::realtime::figures(&store, "a.example", day, now)
            .await
            .unwrap();
        assert_eq!((rt.visits, rt.open), (3, open), "at {}", now - t0);
    }
    // The day over: none open, even right after midnight.
    let next = (day as i64 + 1) * 86_400_000;
    let rt = tacit::visits::realtime::figures(&store, "a.example", day, next)
        .await
        .unwrap();
    assert_eq!(rt.open, 0);
}

/// An open day that holds rows of every kind at once: ids of the assigner
/// of earlier versions (a hash of the visit's first hit, kept until the day
/// closes after an upgrade), the fragment ids of now, and rows without an
/// id (imported, or stored before migration 0030), for one visitor, with
/// two fragments that start at the same millisecond. The view's merge must
/// give the rule's visits over the rows, whatever marked them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_day_mixing_old_ids_new_ids_and_none_follows_the_rule() {
    let db = TestDb::new("visits_mixed");
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let day = today(&db).await;
    let t0 = day as i64 * 86_400_000 + 9 * 3_600_000;
    let vid = 0x5151_7373_u64 << 20;
    let old = 0xDEAD_BEEF_0000_0001u64;
    let m = 60_000;
    // (ms after 09:00, visit id; None: the fragment id of now). The old
    // assigner's id marks hits within 30 minutes of each other only (its
    // guarantee); a rolling upgrade has both kinds of replica at once.
    let rows: [(i64, Option<u64>); 9] = [
        (0, Some(old)),          // 09:00:00 old id
        (0, None),               // 09:00:00 new id: the same start
        (20 * m, Some(old)),     // 09:20 old id
        (25 * m, None),          // 09:25
        (40 * m, None),          // 09:40, the next half hour
        (45 * m, Some(0)),       // 09:45 no id
        (75 * m + 999, Some(0)), // 10:15:00.999: 1800 whole seconds after 09:45
        (121 * m, Some(0)),      // 11:01: 46 minutes later, a new visit
        (122 * m, None),         // 11:02
    ];
    for (at, id) in rows {
        let ts = t0 + at;
        let id = id.unwrap_or_else(|| tacit::visits::visit_id(vid, ts));
        db.client()
            .query(
                "INSERT INTO events (site, ts, name, pathname, visitor_id, visit_id)
                 SELECT 'mixed.example', fromUnixTimestamp64Milli(toInt64(?), 'UTC'), 'pageview', ?, ?, ?",
            )
            .bind(ts)
            .bind(format!("/{at}"))
            .bind(vid)
            .bind(id)
            .execute()
            .await
            .unwrap();
    }
    let hits: Vec<RawHit> = rows
        .iter()
        .map(|(at, _)| RawHit {
            site: "mixed.example".into(),
            ts: t0 + at,
            who: "x".into(),
            name: "pageview".into(),
            path: format!("/{at}"),
            source: String::new(),
            engaged_ms: 0,
            bot: false,
        })
        .collect();
    let want = expected(&hits);
    // The rule's visits, by hand: 09:00-10:15:00.999 (7 rows), 11:01-11:02.
    let spans: Vec<(i64, i64, u32)> = want.iter().map(|v| (v.2 - t0, v.3 - t0, v.5)).collect();
    assert_eq!(spans, [(0, 75 * m + 999, 7), (121 * m, 122 * m, 2)]);
    assert_eq!(stored(&db, "live_visits").await, want);
}

/// A hit of visitor `n` at `path` through the real binary; whether it
/// was answered 202.
async fn hit_of(addr: std::net::SocketAddr, n: usize, path: &str) -> bool {
    let body = format!(r#"{{"n":"pageview","u":"https://example.com{path}","d":"example.com"}}"#);
    let ip = format!("10.9.{}.{}", n / 200, n % 200 + 1);
    matches!(
        try_http(
            hyper::Method::POST,
            &format!("http://{addr}/api/event"),
            &[
                ("user-agent", BROWSER_UA),
                ("content-type", "text/plain"),
                ("x-forwarded-for", &ip),
            ],
            body.into_bytes(),
        )
        .await,
        Ok((202, _, _))
    )
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct PerVisit {
    events: u32,
    pageviews: u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_does_not_split_a_visit_and_the_rollup_makes_it_whole() {
    const PEOPLE: usize = 40;
    let db = TestDb::new("visits_kill");
    let day = today(&db).await;
    let cfg_path = db.dir.join("tacit.toml");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &cfg_path,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_listen = \"127.0.0.1:0\"\npartner_listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n\
             rate_limit_per_second = 0\ntrusted_proxies = [\"127.0.0.1/32\"]\n\
             [clickhouse]\nurl = {:?}\ndatabase = {:?}\n[sink]\nflush_interval_ms = 100\n\
             [log]\nformat = \"json\"\n[[sites]]\ndomain = \"example.com\"\n",
            db.dir.to_string_lossy(),
            db.url,
            db.name
        ),
    )
    .unwrap();
    let (mut child, addr, _logs) = spawn_tacit(&cfg_path);
    // Two hits each; their visits stored.
    for n in 0..PEOPLE {
        assert!(hit_of(addr, n, "/one").await);
        assert!(hit_of(addr, n, "/two").await);
    }
    db.wait_rows("events", 2 * PEOPLE as u64, 30).await;
    // A third hit each, answered, then SIGKILL at once: some third hits
    // are only in the log.
    for n in 0..PEOPLE {
        assert!(hit_of(addr, n, "/three").await);
    }
    child.kill().unwrap();
    let _ = child.wait();
    // After the restart (the log's rows replayed), a fourth hit extends
    // the visits.
    let (child, addr, _logs) = spawn_tacit(&cfg_path);
    for n in 0..PEOPLE {
        assert!(hit_of(addr, n, "/four").await);
    }
    db.wait_rows("events", 4 * PEOPLE as u64, 30).await;
    let mut live: Vec<PerVisit> = Vec::new();
    wait_until("every visit has its fourth hit", 30, async || {
        live = db
            .client()
            .query("SELECT events, pageviews FROM live_visits")
            .fetch_all()
            .await
            .unwrap();
        live.len() == PEOPLE && live.iter().all(|v| v.events >= 3)
    })
    .await;
    // Not split: one visit per visitor, each with at least its two stored
    // hits and the fourth, and every hit (replayed from the log or sent
    // after the kill) with the id of its visitor's half hour: one id per
    // visitor, or two if the real clock crossed a half hour meanwhile.
    assert_eq!(live.len(), PEOPLE, "one live visit per visitor");
    assert!(live.iter().all(|v| v.events >= 3 && v.events <= 4));
    let fragments = ids_checked(&db).await;
    assert_eq!(fragments_of(&db, None).await, fragments);
    assert!(fragments <= 2 * PEOPLE as u64, "visit ids");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = child;
    assert!(child.wait().unwrap().success());
    // After the rollup the day's visits are whole: four hits each.
    tacit::analytics::rollup::rollup_day(&db.store(), day, 1)
        .await
        .unwrap();
    let rolled: Vec<PerVisit> = db
        .client()
        .query("SELECT events, pageviews FROM analytics_visits WHERE day = toDate(?)")
        .bind(format_day(day))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(rolled.len(), PEOPLE);
    assert!(rolled.iter().all(|v| v.events == 4 && v.pageviews == 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_with_partial_affinity_give_exact_live_visits() {
    let db = TestDb::new("visits_replicas");
    let day = today(&db).await;
    let day_ms = day as i64 * 86_400_000;
    // Only the open day's hits (no spill past midnight).
    let hits: Vec<RawHit> = visits_rule::generated_day(11, 60, day_ms)
        .into_iter()
        .filter(|h| h.ts < day_ms + 86_400_000)
        .collect();
    let clock = ManualClock::new(hits[0].ts);
    let a = start_in(&db, &clock, "a").await;
    let b = start_in(&db, &clock, "b").await;
    // 90 % affinity: each hit goes to its visitor's replica, one in ten to
    // the other.
    let mut rng = visits_rule::Lcg(5);
    let mut sent_to_a = Vec::new();
    for h in &hits {
        clock.set(h.ts);
        let home = h.who.len() % 2 == 0;
        let to_a = home == (rng.below(10) != 0);
        sent_to_a.push(to_a);
        send(if to_a { a.beacon_addr } else { b.beacon_addr }, h).await;
    }
    clock.set(hits.iter().map(|h| h.ts).max().unwrap() + 3_600_000);
    let want = expected(&hits);
    // Live: the rule's visits exactly. A visit seen by both replicas got
    // the same ids on both (its visitor's half hours), so the replicas
    // made not one fragment more than one collector would have.
    wait_live(&db, &want, "both replicas' visits").await;
    let fragments = fragments_of(&db, Some(day)).await;
    assert_eq!(ids_checked(&db).await, fragments);
    // Visits whose hits reached both replicas: what the test is about.
    let shared = visits_rule::visits(&hits)
        .iter()
        .filter(|v| {
            let on: std::collections::HashSet<bool> = hits
                .iter()
                .zip(&sent_to_a)
                .filter(|(h, _)| {
                    !h.bot && h.site == v.site && h.who == v.who && h.ts >= v.start && h.ts <= v.end
                })
                .map(|(_, a)| *a)
                .collect();
            on.len() == 2
        })
        .count();
    assert!(shared > 0, "no visit reached both replicas");
    a.shutdown().await;
    b.shutdown().await;
    // The rollup recomputes the day: exact too.
    let store = db.store();
    tacit::analytics::rollup::rollup_day(&store, day, 1)
        .await
        .unwrap();
    let rolled = stored(
        &db,
        &format!(
            "(SELECT site, day, start, end, pageviews, events, entry_page, exit_page, utm_campaign,
                     event_names, pages FROM analytics_visits WHERE day = '{}')",
            format_day(day)
        ),
    )
    .await;
    assert_eq!(rolled, want, "closed days are exact");
    eprintln!(
        "two replicas, 90 % affinity: {} hits ({shared} visits seen by both), {} exact visits (live and closed), {fragments} fragment ids",
        hits.len(),
        want.len(),
    );
}

/// The time from a hit's answer to its visit in `analytics_visits` (an
/// open day: `live_visits`, from the events), over 40 hits of new visitors
/// at random moments, with an events flush interval of one second: p99
/// under the flush interval plus one second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_is_in_its_visit_within_the_flush_interval() {
    let db = TestDb::new("visits_lag");
    let mut raw = db.config();
    raw.sink.flush_interval_ms = 1_000;
    let app = start(raw).await;
    let mut rng = visits_rule::Lcg(3);
    let mut lags = Vec::new();
    for n in 0..40usize {
        tokio::time::sleep(std::time::Duration::from_millis(rng.below(700))).await;
        let path = format!("/lag/{n}");
        let sent = std::time::Instant::now();
        assert!(hit_of(app.beacon_addr, 1_000 + n, &path).await);
        loop {
            let seen: u64 = db
                .client()
                .query("SELECT count() FROM analytics_visits WHERE has(pages, ?)")
                .bind(&path)
                .fetch_one()
                .await
                .unwrap();
            if seen > 0 {
                break;
            }
            assert!(sent.elapsed().as_secs() < 10, "{path} not visible");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        lags.push(sent.elapsed().as_millis() as u64);
    }
    app.shutdown().await;
    lags.sort_unstable();
    let p50 = lags[lags.len() / 2];
    let p99 = lags[(lags.len() * 99).div_ceil(100) - 1];
    eprintln!(
        "hit to visit visible: p50 {p50} ms, p99 {p99} ms, max {} ms",
        lags[lags.len() - 1]
    );
    assert!(p99 < 2_000, "p99 {p99} ms");
}
