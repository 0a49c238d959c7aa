//! Raw identifiers never reach storage, logs or the write-ahead log; salts are shared
//! by replicas and old ones are destroyed.

use std::sync::Arc;

use tacit::model::clock::{day_of, Clock, ManualClock};
use tacit::privacy::Salts;

use crate::common::*;

const CANARY_IP: &str = "203.0.113.197";
const CANARY_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Qz5e1fCanaryUa";
const CANARY_EMAIL: &str = "canary.person@example.org";
const CANARY_TOKEN: &str = "tok_CANARY9f8e7d6c";
const CANARY_PHONE: &str = "+49 151 2345 6789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_identifiers_appear_nowhere() {
    let db = TestDb::new("canary");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    let email_key = "5a".repeat(32);
    raw.sites[0].email_key = email_key.clone();
    let app = start(raw).await;
    let headers = [
        ("user-agent", CANARY_UA),
        ("x-forwarded-for", CANARY_IP),
        ("content-type", "text/plain"),
    ];
    // Free text the site chose to send: UTM tags and property values that
    // carry an e-mail address, a phone number and a token.
    let utm = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("utm_campaign", &format!("call {CANARY_PHONE}"))
        .append_pair("utm_term", CANARY_EMAIL)
        .append_pair("utm_content", &format!("reset {CANARY_TOKEN}"))
        .finish();
    let page = format!(
        "https://example.com/account/{CANARY_EMAIL}/reset/{CANARY_TOKEN}?email={CANARY_EMAIL}&token={CANARY_TOKEN}&{utm}#{CANARY_TOKEN}"
    );
    let canary_props = serde_json::json!({
        "contact": CANARY_EMAIL, "phone": CANARY_PHONE, "session": CANARY_TOKEN, "plan": "pro"
    });
    let referrer = format!("https://mail.example.net/read?to={CANARY_EMAIL}");
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("n", "pageview")
        .append_pair("u", &page)
        .append_pair("r", &referrer)
        .append_pair("p", &canary_props.to_string())
        .finish();
    let (s, _, _) = get(app.beacon_addr, &format!("/p.gif?{q}"), &headers).await;
    assert_eq!(s, 200);
    let body = serde_json::json!({"n": "signup", "u": page, "r": referrer, "d": "example.com", "p": canary_props})
        .to_string();
    let (s, _, _) = post(app.beacon_addr, "/api/event", &headers, &body).await;
    assert_eq!(s, 202);
    db.wait_rows("events", 2, 10).await;
    // Email beacons whose links carry the recipient, as mailing tools add
    // it: parameters tacit does not read, and a target naming them.
    let (open, click) = tacit::beacon::email::links(
        "",
        "example.com",
        &hex::decode(&email_key).unwrap(),
        "canary-campaign",
        "",
        &format!("https://example.com/welcome/{CANARY_EMAIL}/{CANARY_TOKEN}?email={CANARY_EMAIL}"),
    )
    .unwrap();
    let recipient = format!("&email={CANARY_EMAIL}&uid={CANARY_TOKEN}&subscriber={CANARY_TOKEN}");
    let (s, _, _) = get(app.beacon_addr, &format!("{open}{recipient}"), &headers).await;
    assert_eq!(s, 200);
    let (s, h, _) = get(app.beacon_addr, &format!("{click}{recipient}"), &headers).await;
    assert_eq!(s, 302);
    assert!(h["location"]
        .to_str()
        .unwrap()
        .starts_with("https://example.com/welcome/"));
    db.wait_rows("email_events", 2, 10).await;

    // Also through the write-ahead log: ClickHouse down, the hit waits in
    // the log (the writer failed at least once), then is delivered.
    proxy.down();
    let (s, _, _) = post(app.beacon_addr, "/api/event", &headers, &body).await;
    assert_eq!(s, 202);
    wait_until("a failed write", 10, async || {
        app.metrics
            .flush_errors
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 1
    })
    .await;
    let mut spool_text = String::new();
    let log_files = std::fs::read_dir(db.dir.join("wal")).unwrap();
    for e in log_files {
        spool_text.push_str(&String::from_utf8_lossy(
            &std::fs::read(e.unwrap().path()).unwrap(),
        ));
    }
    assert!(
        spool_text.contains("example.com"),
        "the log holds the event"
    );
    proxy.up();
    db.wait_rows("events", 3, 20).await;
    app.shutdown().await;

    // Every tier: the open day's visits (built from the events), the
    // visits recomputed at the day's close, then its rollup.
    let client = db.client();
    let store = db.store();
    let live: Vec<String> = client
        .query("SELECT utm_campaign FROM live_visits")
        .fetch_all()
        .await
        .unwrap();
    assert!(!live.is_empty(), "live_visits holds the canary's visit");
    for v in &live {
        assert!(v.contains(":redacted"), "live_visits: {v}");
    }
    // The visit id is a hash, nothing else: set on each hit with a visitor
    // id, never the visitor id itself.
    let (with_id, bad): (u64, u64) = client
        .query(
            "SELECT countIf(visitor_id != 0), countIf(visitor_id != 0 AND (visit_id = 0 OR visit_id = visitor_id)) FROM events",
        )
        .fetch_one()
        .await
        .unwrap();
    assert!(with_id > 0);
    assert_eq!(bad, 0);
    let today_n = today(&db).await;
    tacit::analytics::sessions::sessionize_day(&store, today_n, 1)
        .await
        .unwrap();
    tacit::analytics::rollup::rollup_day(&store, today_n, 2)
        .await
        .unwrap();
    let stored: Vec<(String, String)> = client
        .query(
            "SELECT 'events', arrayStringConcat(arrayConcat([utm_campaign, utm_term, utm_content], prop_values), ' ') FROM events
             UNION ALL SELECT 'sessions', utm_campaign FROM sessions
             UNION ALL SELECT 'rollup_daily', arrayStringConcat(groupArray(value), ' ') FROM rollup_daily
                 WHERE dimension IN ('utm_campaign', 'utm_term', 'utm_content') OR startsWith(dimension, 'prop')",
        )
        .fetch_all()
        .await
        .unwrap();
    for tier in ["events", "sessions", "rollup_daily"] {
        let texts: Vec<&String> = stored
            .iter()
            .filter(|(t, _)| t == tier)
            .map(|(_, v)| v)
            .collect();
        assert!(!texts.is_empty(), "{tier} holds the canary's hits");
        for v in texts {
            assert!(v.contains(":redacted"), "{tier}: {v}");
        }
    }
    assert!(
        stored
            .iter()
            .any(|(t, v)| t == "rollup_daily" && v.contains("pro")),
        "an ordinary property value is kept: {stored:?}"
    );

    // And through `tacit explain`, with the same policy.
    let explain_input = serde_json::json!({
        "url": page, "referrer": referrer, "user_agent": CANARY_UA, "ip": CANARY_IP, "domain": "example.com"
    })
    .to_string();
    let mut explained = Vec::new();
    let mut cfg_raw = db.config();
    cfg_raw.policy.ip = "truncate".into();
    tacit::commands::explain::run(
        &cfg_raw.validate().unwrap(),
        Arc::new(tacit::model::clock::SystemClock),
        std::io::Cursor::new(explain_input),
        &mut explained,
    )
    .unwrap();
    let explained = String::from_utf8(explained).unwrap();
    assert!(
        explained.contains("\"stored\"") && explained.contains(":redacted"),
        "{explained}"
    );

    // And through a partner export: the cells it counts, the file, the
    // ledger (dumped below). Released the day after, so the period is over.
    // Every dimension an export may use, over four partners (at most four
    // non-time dimensions across one partner's exports).
    let mut ex_raw = db.config();
    for (name, dims) in [
        (
            "pages",
            "\"date\", \"hostname\", \"pathname\", \"referrer_source\", \"channel\"",
        ),
        ("geo", "\"date\", \"country\", \"event\""),
        (
            "tech",
            "\"date\", \"browser\", \"os\", \"device\", \"language\"",
        ),
        ("screen", "\"date\", \"screen\""),
    ] {
        ex_raw.exports.push(
            toml::from_str(&format!(
                "name = \"{name}\"\npartner = \"p-{name}\"\nsites = [\"example.com\"]\nperiod = \"day\"\nmin_visitors = 2\n\
                 dimensions = [{dims}]\nmetrics = [\"visitors\", \"visits\", \"pageviews\", \"events\"]"
            ))
            .unwrap(),
        );
    }
    let ex_cfg = ex_raw.validate().unwrap();
    let now = settled_now(&db).await;
    let today = tacit::model::clock::format_day(day_of(now));
    let mut export_text = String::new();
    for spec in &ex_cfg.exports {
        let period = tacit::export::period::parse(&today, spec.period).unwrap();
        let cells = tacit::export::cells::fetch(&db.client(), spec, &period)
            .await
            .unwrap();
        assert!(!cells.is_empty(), "the export sees the canary's hits");
        let released = tacit::export::release(
            &db.store(),
            spec,
            &today,
            now + 86_400_000,
            30,
            tacit::export::ReleaseChannel::Cli,
            &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(9),
        )
        .await
        .unwrap();
        export_text.push_str(&format!(
            "{cells:?}\n{}\n",
            String::from_utf8_lossy(&released.bytes)
        ));
    }

    let dump = db.dump().await;
    assert!(
        dump.contains("203.0.113.0/24"),
        "the truncated network is what is kept:\n{dump}"
    );
    let logs = logs();
    for canary in [
        CANARY_IP,
        CANARY_UA,
        // The part of the agent no parser keeps: if any raw agent text is
        // stored, logged or exported, this is what shows.
        "Qz5e1fCanaryUa",
        CANARY_EMAIL,
        CANARY_TOKEN,
        "canary.person",
        CANARY_PHONE,
        "2345 6789",
        "23456789",
    ] {
        assert!(
            !dump.contains(canary),
            "{canary} found in the database:\n{dump}"
        );
        assert!(!logs.contains(canary), "{canary} found in the logs");
        assert!(
            !spool_text.contains(canary),
            "{canary} found in the write-ahead log"
        );
        assert!(
            !explained.contains(canary),
            "{canary} found in explain output"
        );
        assert!(!export_text.contains(canary), "{canary} found in an export");
    }
    assert!(
        dump.contains("== disclosures"),
        "the ledger is part of the dump"
    );
}

#[tokio::test]
async fn replicas_share_salts_and_old_salts_are_destroyed() {
    let db = TestDb::new("salts");
    let raw = db.config();
    let cfg = raw.validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let client = db.client();
    let store = db.store();
    // 01:00 UTC today: salts of a fixed past day would expire under the
    // table's TTL while the test runs.
    let now = today(&db).await as i64 * 86_400_000 + 3_600_000;
    let today = day_of(now);

    // A salt from long ago, as if left by a crashed process.
    tacit_insert_old_salt(&db, today - 5).await;

    // Two replicas race to create today's salt.
    let a = Arc::new(Salts::new());
    let b = Arc::new(Salts::new());
    let (ra, rb) = tokio::join!(a.sync(&store, today, now), b.sync(&store, today, now));
    ra.unwrap();
    rb.unwrap();
    // After each has seen the other's insert, both hold the same winner.
    a.sync(&store, today, now).await.unwrap();
    b.sync(&store, today, now).await.unwrap();
    let ip: std::net::IpAddr = "192.0.2.10".parse().unwrap();
    let va = tacit::privacy::visitor_id(&a.key_for(today), "example.com", ip, BROWSER_UA);
    let vb = tacit::privacy::visitor_id(&b.key_for(today), "example.com", ip, BROWSER_UA);
    assert_eq!(va, vb);

    let days: Vec<u16> = client
        .query("SELECT DISTINCT day FROM salts ORDER BY day")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        days,
        vec![today as u16, today as u16 + 1],
        "old salt destroyed, tomorrow's prepared"
    );

    // Two days later: yesterday's salt is kept (visits across midnight), older ones go.
    let later = now + 2 * 86_400_000;
    a.sync(&store, today + 2, later).await.unwrap();
    let days: Vec<u16> = client
        .query("SELECT DISTINCT day FROM salts ORDER BY day")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        days,
        vec![today as u16 + 1, today as u16 + 2, today as u16 + 3]
    );
    assert_eq!(a.days(), vec![today + 1, today + 2, today + 3]);
    // A new day gives a new, unlinkable visitor id.
    let v_later = tacit::privacy::visitor_id(&a.key_for(today + 2), "example.com", ip, BROWSER_UA);
    assert_ne!(va, v_later);
}

async fn tacit_insert_old_salt(db: &TestDb, day: i32) {
    raw_query(
        &db.url,
        &format!(
            "INSERT INTO `{}`.salts VALUES ('{}', '{}', now64(3))",
            db.name,
            tacit::model::clock::format_day(day),
            "ab".repeat(32)
        ),
    )
    .await;
}

#[tokio::test]
async fn visitor_id_rotates_at_midnight_with_an_injected_clock() {
    let db = TestDb::new("rotate");
    // 23:59:59 today (a fixed past day's salts would expire under the TTL).
    let midnight = (today(&db).await as i64 + 1) * 86_400_000;
    let clock = ManualClock::new(midnight - 1_000);
    let app = start_with_clock(db.config(), Arc::new(clock.clone())).await;
    beacon(app.beacon_addr, "/before").await;
    clock.advance(2_000); // past midnight
    beacon(app.beacon_addr, "/after").await;
    db.wait_rows("events", 2, 10).await;
    let ids: Vec<(String, u64)> = db
        .client()
        .query("SELECT pathname, visitor_id FROM events ORDER BY pathname")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(ids[0].0, "/after");
    assert_ne!(
        ids[0].1, ids[1].1,
        "a new day's salt gives a new visitor id"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tacit_processes_agree_on_the_visitor_id() {
    let db = TestDb::new("replicas");
    let a = start(db.config()).await;
    // Each process has its own data dir (its own write-ahead log).
    let mut second = db.config();
    second.server.data_dir = db.dir.join("replica-b").to_string_lossy().into_owned();
    let b = start(second).await;
    // Each replica made or adopted today's salt at start; a refresh makes
    // both see the same winner (as the periodic refresh does in serve).
    let now = settled_now(&db).await;
    a.salts.sync(&db.store(), day_of(now), now).await.unwrap();
    b.salts.sync(&db.store(), day_of(now), now).await.unwrap();
    let h = [
        ("user-agent", BROWSER_UA),
        ("x-forwarded-for", "198.51.100.77"),
        ("content-type", "text/plain"),
    ];
    for (app, path) in [(&a, "/via-a"), (&b, "/via-b")] {
        let body = format!(r#"{{"n":"pageview","u":"https://example.com{path}"}}"#);
        assert_eq!(post(app.beacon_addr, "/api/event", &h, &body).await.0, 202);
    }
    db.wait_rows("events", 2, 10).await;
    let ids: Vec<u64> = db
        .client()
        .query("SELECT visitor_id FROM events ORDER BY pathname")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        ids[0], ids[1],
        "the same hit through two replicas is the same visitor"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salts_leave_memory_on_time_while_the_engine_is_down_across_two_midnights() {
    let db = TestDb::new("salt_outage");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    let cfg = raw.validate().unwrap();
    // 12:00 UTC today.
    let noon = today(&db).await as i64 * 86_400_000 + 43_200_000;
    let today = day_of(noon);
    let clock = ManualClock::new(noon);
    let app = tacit::app::start(
        &cfg,
        Arc::new(clock.clone()),
        tacit::app::Options {
            migrate: true,
            salt_refresh: std::time::Duration::from_millis(100),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(app.salts.days(), vec![today, today + 1]);
    proxy.down();
    // Wait until `cond` holds for the salts in memory (the refresher runs
    // every 100 ms and fails against the engine).
    async fn settle(salts: &Salts, cond: impl Fn(&[i32]) -> bool) -> Vec<i32> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let days = salts.days();
            if cond(&days) || std::time::Instant::now() > deadline {
                return days;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    // First midnight, engine down: the day before yesterday's salt goes.
    clock.advance(86_400_000);
    let days = settle(&app.salts, |d| d.iter().all(|x| *x >= today)).await;
    assert!(
        days.iter().all(|x| *x >= today),
        "after one midnight: {days:?}"
    );
    // A hit of the new day is still counted (a process-local salt if the
    // shared one is missing) without bringing an old salt back.
    beacon(app.beacon_addr, "/outage").await;
    // Second midnight, still down: the first day's salt goes as well.
    clock.advance(86_400_000);
    let days = settle(&app.salts, |d| d.iter().all(|x| *x > today)).await;
    assert!(
        days.iter().all(|x| *x > today),
        "after two midnights: {days:?}"
    );
    assert!(!days.contains(&today), "{days:?}");
    proxy.up();
    app.shutdown().await;
}

/// A row of the log, framed, that ClickHouse refuses: its site and time
/// read as in any row, then a name that claims 200 bytes and has 2.
fn poison(site: &str, ts_ms: i64) -> Vec<u8> {
    let mut row = vec![site.len() as u8];
    row.extend_from_slice(site.as_bytes());
    row.extend_from_slice(&ts_ms.to_le_bytes());
    row.extend_from_slice(&[200, 1, b'x', b'y']);
    let mut framed = Vec::new();
    tacit::sink::record::frame(&mut framed, &row);
    framed
}

/// A refused row is kept in the quarantine no longer than the event TTL
/// (by the injected clock), and goes with its site in `tacit purge`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_row_goes_at_the_event_ttl_and_with_its_site() {
    use std::sync::atomic::Ordering::SeqCst;
    use tacit::sink::quarantine;
    let db = TestDb::new("qttl");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    let now = settled_now(&db).await;
    let clock = ManualClock::new(now);
    let app = start_with_clock(raw.clone(), Arc::new(clock.clone())).await;
    proxy.down();
    beacon(app.beacon_addr, "/before-the-poison").await;
    app.shutdown().await;
    let wal = db.dir.join("wal");
    let seg = tacit::sink::log::segment_ids(&wal).unwrap();
    let path = tacit::sink::log::segment_path(&wal, *seg.last().unwrap());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    for site in ["example.com", "other.example"] {
        std::io::Write::write_all(&mut f, &poison(site, now)).unwrap();
    }
    drop(f);
    proxy.up();
    let app = start_with_clock(raw.clone(), Arc::new(clock.clone())).await;
    let m = app.metrics.clone();
    wait_until("the poison rows to be refused", 20, async || {
        m.rows_quarantined.load(SeqCst) >= 2
    })
    .await;
    db.wait_rows("events", 1, 10).await;
    let today = day_of(now);
    let files = quarantine::list(&wal, today).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].day, tacit::model::clock::format_day(today));
    assert_eq!(
        (
            files[0].sites["example.com"],
            files[0].sites["other.example"]
        ),
        (1, 1)
    );
    let rel = files[0]
        .path
        .strip_prefix(&db.dir)
        .unwrap()
        .to_string_lossy();
    assert!(
        tacit::store::tiers::file(&rel).is_some_and(|c| c.lifetime.contains("event_ttl_days")),
        "{rel} is classified with its lifetime"
    );

    // The purge of example.com (still configured: rows before the purge's
    // time) removes its quarantined row.
    clock.advance(1_000);
    let mut purge_cfg = raw.clone();
    purge_cfg.clickhouse.url = db.url.clone();
    let req = tacit::commands::purge::Request {
        site: "example.com".into(),
        before: None,
        reason: "test".into(),
        dry_run: false,
        force: true,
    };
    let out = tacit::commands::purge::run(
        &purge_cfg.validate().unwrap(),
        &db.store(),
        &req,
        clock.now_ms(),
        std::time::Duration::from_secs(10),
    )
    .await
    .unwrap();
    // The running collector removes it when it applies the purge's fence
    // (so the purge may find it gone already); none is left either way.
    assert!(out.found["quarantine"] <= 1, "{:?}", out.found);
    assert_eq!(out.left["quarantine"], 0);
    assert!(tacit::commands::purge::describe(&out).contains("quarantine"));
    let files = quarantine::list(&wal, today).unwrap();
    assert_eq!(files[0].rows, 1);
    assert!(!files[0].sites.contains_key("example.com"));

    // One day short of the TTL the file stays; at the TTL it goes.
    let ttl = raw.policy.event_ttl_days as i64;
    clock.advance((ttl - 1) * 86_400_000);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(quarantine::list(&wal, today).unwrap().len(), 1);
    clock.advance(86_400_000);
    wait_until("the file to be deleted at the TTL", 10, async || {
        quarantine::list(&wal, today).unwrap().is_empty()
    })
    .await;
    assert_eq!(m.quarantine_expired_rows.load(SeqCst), 1);
    wait_until("the gauge to follow", 5, async || {
        m.quarantine_rows.load(SeqCst) == 0
    })
    .await;
    assert!(m.render().contains("tacit_quarantine_expired_rows_total 1"));
    app.shutdown().await;
}
