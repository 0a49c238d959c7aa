//! `tacit import --from goatcounter|umami` against the engine: fixture
//! files written after each tracker's documented export (GoatCounter's
//! versioned CSV, gzipped as GoatCounter ships it; Umami's `website_event`
//! CSV), imported, then the analyst views compared with totals this file
//! computes from the fixtures on its own (its own CSV reader, no SQL or
//! code of tacit's). Each fixture holds a canary row (session id, agent,
//! e-mail in the path, token in the query) that must appear nowhere; the
//! trackers' session ids must not be stored at all.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use tacit::commands::import::{self as imp, Format};
use tacit::config::RawSite;
use tacit::model::clock::{day_of, format_day, Clock, SystemClock};

use crate::common::*;

use crate::import::{fixture, opts, run, setup_for as setup};

/// The fixture's records by column name: RFC 4180 read here (quotes,
/// doubled quotes; the fixtures have no newline inside a field), blank
/// lines skipped.
fn records(path: &Path) -> Vec<BTreeMap<String, String>> {
    fn split(line: &str) -> Vec<String> {
        let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
        let mut it = line.chars().peekable();
        while let Some(c) = it.next() {
            match c {
                '"' if quoted && it.peek() == Some(&'"') => {
                    it.next();
                    cur.push('"');
                }
                '"' => quoted = !quoted,
                ',' if !quoted => out.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        out.push(cur);
        out
    }
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = split(lines.next().unwrap());
    lines
        .map(|l| {
            let f = split(l);
            assert_eq!(f.len(), header.len(), "{l}");
            header.iter().cloned().zip(f).collect()
        })
        .collect()
}

/// (day, key) → n, from a query of three columns.
async fn by_day_key(db: &TestDb, sql: &str) -> BTreeMap<(String, String), u64> {
    let rows: Vec<(String, String, u64)> = db.client().query(sql).fetch_all().await.unwrap();
    rows.into_iter().map(|(d, k, n)| ((d, k), n)).collect()
}

/// day → (pageviews, visitors) of a site, from `analytics_totals_daily`.
async fn totals(db: &TestDb, site: &str) -> BTreeMap<String, (u64, u64)> {
    let rows: Vec<(String, u64, u64)> = db
        .client()
        .query(
            "SELECT toString(day), sum(pageviews), sum(visitors) FROM analytics_totals_daily
             WHERE site = ? GROUP BY day ORDER BY day",
        )
        .bind(site)
        .fetch_all()
        .await
        .unwrap();
    rows.into_iter().map(|(d, p, v)| (d, (p, v))).collect()
}

/// What a fixture should count, built row by row.
#[derive(Default)]
struct Expect {
    /// day → (pageviews, visitors' sessions)
    days: BTreeMap<String, (u64, BTreeSet<String>)>,
    /// (day, country) → pageviews
    countries: BTreeMap<(String, String), u64>,
    /// (day, event) → occurrences
    events: BTreeMap<(String, String), u64>,
    /// (day, device) → pageviews
    devices: BTreeMap<(String, String), u64>,
}

impl Expect {
    fn add(&mut self, day: &str, session: &str, event: Option<&str>, country: &str) {
        let d = self.days.entry(day.to_string()).or_default();
        d.1.insert(session.to_string());
        match event {
            Some(name) => {
                *self
                    .events
                    .entry((day.to_string(), name.to_string()))
                    .or_default() += 1
            }
            None => {
                d.0 += 1;
                *self
                    .countries
                    .entry((day.to_string(), country.to_string()))
                    .or_default() += 1;
            }
        }
    }
    fn totals(&self) -> BTreeMap<String, (u64, u64)> {
        self.days
            .iter()
            .map(|(d, (p, v))| (d.clone(), (*p, v.len() as u64)))
            .collect()
    }
}

const CANARIES: &[&str] = &[
    "qzx-canary-session",
    "QzxCanary",
    "canary.person",
    "QzxCanaryToken4242",
];

fn gzip(src: &Path, dst: &Path) {
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(dst).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&std::fs::read(src).unwrap()).unwrap();
    enc.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goatcounter_export_becomes_the_views_totals() {
    let site = "goat.example";
    let (db, cfg, e) = setup("import_goatcounter", &[site]).await;
    let rows = records(&fixture("goatcounter_export.csv"));
    let mut want = Expect::default();
    let mut bots = 0;
    for (i, r) in rows.iter().enumerate() {
        if r["Bot"] != "0" {
            bots += 1;
            continue;
        }
        let day = &r["Date"][..10];
        // No session: a visitor of its own.
        let session = match r["Session"].as_str() {
            "" => format!("row {i}"),
            s => s.to_string(),
        };
        let event = (r["Event"] == "true").then(|| r["2Path"].as_str());
        let country = r["Location"].split('-').next().unwrap();
        want.add(day, &session, event, country);
    }
    assert_eq!(bots, 2);

    // GoatCounter ships the export gzipped.
    let gz = db
        .dir
        .join("goatcounter-export-goat-20261007T000000Z-0.csv.gz");
    gzip(&fixture("goatcounter_export.csv"), &gz);
    let s = run(&db, &cfg, &e, &gz, &opts(site, Format::GoatCounter))
        .await
        .unwrap();
    assert_eq!(s.rows_read, rows.len() as u64, "{s:?}");
    assert_eq!(s.skipped.get("bot"), Some(&bots), "{s:?}");
    assert_eq!(s.imported, rows.len() as u64 - bots, "{s:?}");
    assert_eq!(totals(&db, site).await, want.totals());
    let q = |view: &str, key: &str, n: &str, filter: &str| {
        format!("SELECT toString(day), {key}, sum({n}) FROM {view} WHERE site = '{site}' {filter} GROUP BY day, {key} ORDER BY day, {key}")
    };
    assert_eq!(
        by_day_key(
            &db,
            &q(
                "analytics_locations_daily",
                "value",
                "pageviews",
                "AND level = 'country'"
            )
        )
        .await,
        want.countries
    );
    assert_eq!(
        by_day_key(
            &db,
            &q("analytics_custom_events_daily", "event", "occurrences", "")
        )
        .await,
        want.events
    );

    // A campaign (scheme c) is a source; a generated name (g) is none.
    let campaigns = by_day_key(
        &db,
        &q(
            "analytics_campaigns_daily",
            "value",
            "pageviews",
            "AND utm_field = 'utm_source' AND value != ''",
        ),
    )
    .await;
    assert_eq!(
        campaigns,
        BTreeMap::from([(("2026-10-05".into(), "spring-sale".into()), 1)])
    );

    assert_private(
        &db,
        &rows
            .iter()
            .map(|r| r["Session"].clone())
            .collect::<Vec<_>>(),
    )
    .await;
    // Nothing written to the data directory but the file given.
    let written: Vec<_> = std::fs::read_dir(&db.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(written, vec![gz.file_name().unwrap().to_owned()]);

    // The same file again changes nothing.
    let again = run(&db, &cfg, &e, &gz, &opts(site, Format::GoatCounter))
        .await
        .unwrap();
    assert_eq!(again.already_imported, Some(s.import_id));
    assert_eq!(totals(&db, site).await, want.totals());
}

/// No canary, and no session id of the tracker, in any table or log.
async fn assert_private(db: &TestDb, sessions: &[String]) {
    let dump = db.dump().await;
    let logs = logs();
    for canary in CANARIES {
        assert!(!dump.contains(canary), "{canary} stored");
        assert!(!logs.contains(canary), "{canary} logged");
    }
    for s in sessions.iter().filter(|s| s.len() > 8) {
        assert!(!dump.contains(s.as_str()), "a session id is stored");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_umami_export_becomes_the_views_totals() {
    let site = "umami.example";
    let (db, cfg, e) = setup("import_umami", &[site, "recent.example"]).await;
    let rows = records(&fixture("umami_website_event.csv"));
    let mut want = Expect::default();
    let mut other_types = 0;
    for r in &rows {
        let day = &r["created_at"][..10];
        let event = match r["event_type"].as_str() {
            "1" => None,
            "2" => Some(r["event_name"].as_str()),
            _ => {
                other_types += 1;
                continue;
            }
        };
        want.add(day, &r["session_id"], event, &r["country"]);
        if event.is_none() {
            let device = match r["device"].as_str() {
                "laptop" => "desktop",
                d => d,
            };
            *want
                .devices
                .entry((day.to_string(), device.to_string()))
                .or_default() += 1;
        }
    }
    assert_eq!(other_types, 1);

    let path = fixture("umami_website_event.csv");
    let s = run(&db, &cfg, &e, &path, &opts(site, Format::Umami))
        .await
        .unwrap();
    assert_eq!(s.rows_read, rows.len() as u64, "{s:?}");
    assert_eq!(s.skipped.get("event_type"), Some(&other_types), "{s:?}");
    assert_eq!(totals(&db, site).await, want.totals());
    let q = |view: &str, key: &str, n: &str, filter: &str| {
        format!("SELECT toString(day), {key}, sum({n}) FROM {view} WHERE site = '{site}' {filter} GROUP BY day, {key} ORDER BY day, {key}")
    };
    assert_eq!(
        by_day_key(
            &db,
            &q(
                "analytics_locations_daily",
                "value",
                "pageviews",
                "AND level = 'country'"
            )
        )
        .await,
        want.countries
    );
    assert_eq!(
        by_day_key(
            &db,
            &q("analytics_custom_events_daily", "event", "occurrences", "")
        )
        .await,
        want.events
    );
    assert_eq!(
        by_day_key(
            &db,
            &q(
                "analytics_technology_daily",
                "value",
                "pageviews",
                "AND kind = 'device' AND pageviews > 0"
            )
        )
        .await,
        want.devices
    );
    assert_private(
        &db,
        &rows
            .iter()
            .map(|r| r["session_id"].clone())
            .collect::<Vec<_>>(),
    )
    .await;

    // The same rows on days the event tier keeps: moved to `events`, then
    // rolled up and sessionized like live days. Visits (30 minutes without
    // a row end one) computed here from the sessions and times.
    let today = day_of(SystemClock.now_ms());
    let (d1, d2) = (format_day(today - 5), format_day(today - 4));
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("2026-10-12", &d1)
        .replace("2026-10-13", &d2);
    let recent = db.dir.join("website_event_recent.csv");
    std::fs::write(&recent, text).unwrap();
    let s = run(
        &db,
        &cfg,
        &e,
        &recent,
        &opts("recent.example", Format::Umami),
    )
    .await
    .unwrap();
    assert_eq!(s.event_days, vec![d1.clone(), d2.clone()], "{s:?}");
    let shifted = |m: &BTreeMap<String, (u64, u64)>| -> BTreeMap<String, (u64, u64)> {
        m.iter()
            .map(|(d, v)| (d.replace("2026-10-12", &d1).replace("2026-10-13", &d2), *v))
            .collect()
    };
    assert_eq!(totals(&db, "recent.example").await, shifted(&want.totals()));
    let mut times: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| ["1", "2"].contains(&r["event_type"].as_str()))
    {
        let t = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", &r["created_at"])
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_second();
        times
            .entry((r["created_at"][..10].to_string(), r["session_id"].clone()))
            .or_default()
            .push(t);
    }
    let mut visits: BTreeMap<String, u64> = BTreeMap::new();
    for ((day, _), mut ts) in times {
        ts.sort();
        let n = 1 + ts.windows(2).filter(|w| w[1] - w[0] > 30 * 60).count() as u64;
        *visits
            .entry(day.replace("2026-10-12", &d1).replace("2026-10-13", &d2))
            .or_default() += n;
    }
    let got: Vec<(String, u64)> = db
        .client()
        .query("SELECT toString(day), sum(visits) FROM analytics_overview_daily WHERE site = 'recent.example' GROUP BY day ORDER BY day")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(got.into_iter().collect::<BTreeMap<_, _>>(), visits);

    // The dashboard's x,y totals have no days: refused, saying why.
    let xy = db.dir.join("pages.csv");
    std::fs::write(&xy, "x,y\n/,120\n/docs,40\n").unwrap();
    let err = run(&db, &cfg, &e, &xy, &opts(site, Format::Umami))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot become days"), "{err}");
    assert_eq!(totals(&db, site).await, want.totals());
}

#[test]
fn explain_shows_what_each_exported_row_becomes() {
    let raw = tacit::config::RawConfig {
        sites: vec![RawSite {
            domain: "goat.example".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let cfg = raw.validate().unwrap();
    let input = std::fs::read(fixture("goatcounter_export.csv")).unwrap();
    let mut out = Vec::new();
    imp::explain(
        &cfg,
        &opts("goat.example", Format::GoatCounter),
        SystemClock.now_ms(),
        input.as_slice(),
        &mut out,
    )
    .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The rules, the header, then one line per record.
    let rows = records(&fixture("goatcounter_export.csv"));
    assert_eq!(lines.len(), 2 + rows.len());
    assert!(lines[0]["rules"]["exports"]
        .as_str()
        .unwrap()
        .contains("session"));
    assert_eq!(lines[1]["not_a_request"], true);
    for (l, r) in lines[2..].iter().zip(&rows) {
        assert_eq!(l["day"], r["Date"][..10], "{l}");
        if r["Bot"] != "0" {
            assert_eq!(l["skipped"], "bot", "{l}");
            continue;
        }
        let stored = &l["stored"];
        let text = stored.to_string();
        for canary in CANARIES {
            assert!(!text.contains(canary), "{text}");
        }
        assert_eq!(stored["ip_prefix"], "", "{l}");
        let want = if r["Event"] == "true" {
            r["2Path"].as_str()
        } else {
            "pageview"
        };
        assert_eq!(stored["name"], want, "{l}");
    }
}
