//! `tacit import` against the engine: fixture files written after each
//! server's documented log format, imported, then the analyst views compared
//! with totals this file computes from the fixtures on its own (no SQL of
//! tacit's); a generated access log of 100,000 requests with real browser
//! and crawler agents and a canary (address, agent, e-mail in the path,
//! token in the query) that must appear nowhere; bots skipped and counted;
//! the same file twice changing nothing; all or nothing on malformed
//! lines; days collected live refused unless told; `purge --imports`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tacit::commands::import::{self as imp, Format, ImportError, Options, Overlap};
use tacit::config::{Config, RawSite};
use tacit::enrich::Enrichers;
use tacit::model::clock::{day_of, format_day, Clock, SystemClock};

use crate::common::*;
use crate::support::{vendor_json, weighted_agents, Rng};

const SITES: &[&str] = &[
    "example.com",
    "nginx.example",
    "caddy.example",
    "cf.example",
    "apache.example",
    "plausible.example",
    "zip.example",
];

/// A database migrated for `sites`, its validated config and the enrichers.
pub(crate) async fn setup_for(tag: &str, sites: &[&str]) -> (TestDb, Config, Arc<Enrichers>) {
    let db = TestDb::new(tag);
    let mut raw = db.config();
    raw.sites = sites
        .iter()
        .map(|d| RawSite {
            domain: (*d).into(),
            ..Default::default()
        })
        .collect();
    let cfg = raw.validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let enrichers = Arc::new(Enrichers::load(&cfg.enrich).unwrap());
    (db, cfg, enrichers)
}

async fn setup(tag: &str) -> (TestDb, Config, Arc<Enrichers>) {
    setup_for(tag, SITES).await
}

pub(crate) fn opts(site: &str, format: Format) -> Options {
    Options {
        site: site.into(),
        format,
        log_format: None,
        max_bad_lines: 0,
        overlap: Overlap::Refuse,
    }
}

pub(crate) async fn run(
    db: &TestDb,
    cfg: &Config,
    e: &Arc<Enrichers>,
    path: &Path,
    o: &Options,
) -> Result<imp::Summary, ImportError> {
    imp::import_file(
        cfg,
        &db.store(),
        e.clone(),
        path,
        o,
        SystemClock.now_ms(),
        &mut |_| {},
    )
    .await
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

/// (day, pageviews, visitors) per day of `site` from `analytics_totals_daily`.
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

/// What the fixtures' requests should count, by the rules `tacit import
/// --explain` states: GET, 2xx or 3xx, not an asset, not a crawler.
#[derive(Default)]
struct Expect {
    /// day → (pageviews, distinct address + agent pairs)
    days: BTreeMap<String, (u64, BTreeSet<(String, String)>)>,
}

impl Expect {
    fn add(
        &mut self,
        ts: jiff::Timestamp,
        ip: &str,
        method: &str,
        path: &str,
        status: u16,
        ua: &str,
    ) {
        let asset = [".css", ".js", ".ico", ".webp", ".woff2", ".png"]
            .iter()
            .any(|x| path.split('?').next().unwrap().ends_with(x));
        if method != "GET" || !(200..400).contains(&status) || asset {
            return;
        }
        if ua.to_ascii_lowercase().contains("bot") || ua.starts_with("curl") {
            return;
        }
        let day = ts.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
        let d = self.days.entry(day).or_default();
        d.0 += 1;
        d.1.insert((ip.into(), ua.into()));
    }
    fn totals(&self) -> BTreeMap<String, (u64, u64)> {
        self.days
            .iter()
            .map(|(d, (p, v))| (d.clone(), (*p, v.len() as u64)))
            .collect()
    }
}

/// The combined format read with a regular expression (not tacit's parser).
fn expect_combined(text: &str) -> Expect {
    let re = regex::Regex::new(
        r#"^(?:\S+ )?(\S+) \S+ \S+ \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) \S+ "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)""#,
    )
    .unwrap();
    let mut e = Expect::default();
    for line in text.lines() {
        let c = re.captures(line).unwrap();
        let ts = jiff::Zoned::strptime("%d/%b/%Y:%H:%M:%S %z", &c[2])
            .unwrap()
            .timestamp();
        let req: Vec<&str> = c[3].split(' ').collect();
        e.add(ts, &c[1], req[0], req[1], c[4].parse().unwrap(), &c[6]);
    }
    e
}

fn gzip(src: &Path, dst: &Path) {
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(dst).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&std::fs::read(src).unwrap()).unwrap();
    enc.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_log_format_is_imported_into_the_views() {
    let (db, cfg, e) = setup("import_formats").await;

    // nginx combined, gzipped.
    let text = std::fs::read_to_string(fixture("nginx_combined.log")).unwrap();
    let gz = db.dir.join("access.log.2.gz");
    gzip(&fixture("nginx_combined.log"), &gz);
    let s = run(&db, &cfg, &e, &gz, &opts("nginx.example", Format::Nginx))
        .await
        .unwrap();
    assert_eq!(s.rows_read, 12, "{s:?}");
    assert_eq!(s.skipped.get("bot"), Some(&2), "{s:?}");
    assert_eq!(s.skipped.get("static_asset"), Some(&2), "{s:?}");
    assert_eq!(s.skipped.get("method"), Some(&1), "{s:?}");
    assert_eq!(s.skipped.get("status"), Some(&1), "{s:?}");
    assert_eq!(
        totals(&db, "nginx.example").await,
        expect_combined(&text).totals()
    );

    // Apache vhost_combined, through its LogFormat.
    let text = std::fs::read_to_string(fixture("apache_vhost_combined.log")).unwrap();
    let mut o = opts("apache.example", Format::Apache);
    o.log_format =
        Some("%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"".into());
    let s = run(&db, &cfg, &e, &fixture("apache_vhost_combined.log"), &o)
        .await
        .unwrap();
    assert_eq!(s.rows_read, 9, "{s:?}");
    assert_eq!(
        totals(&db, "apache.example").await,
        expect_combined(&text).totals()
    );

    // Caddy's JSON access log (a line of another logger is not a request).
    let mut want = Expect::default();
    for line in std::fs::read_to_string(fixture("caddy_access.json"))
        .unwrap()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(r) = v.get("request") else { continue };
        let secs = v["ts"].as_f64().unwrap();
        want.add(
            jiff::Timestamp::from_millisecond((secs * 1000.0) as i64).unwrap(),
            r["client_ip"].as_str().unwrap(),
            r["method"].as_str().unwrap(),
            r["uri"].as_str().unwrap(),
            v["status"].as_u64().unwrap() as u16,
            r["headers"]["User-Agent"][0].as_str().unwrap(),
        );
    }
    let s = run(
        &db,
        &cfg,
        &e,
        &fixture("caddy_access.json"),
        &opts("caddy.example", Format::Caddy),
    )
    .await
    .unwrap();
    assert_eq!(s.rows_read, 8, "{s:?}");
    assert_eq!(totals(&db, "caddy.example").await, want.totals());

    // CloudFront standard log.
    let mut want = Expect::default();
    for line in std::fs::read_to_string(fixture("cloudfront.log"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        let f: Vec<&str> = line.split('\t').collect();
        let ts: jiff::Timestamp = format!("{}T{}Z", f[0], f[1]).parse().unwrap();
        let ua = f[10].replace("%20", " ");
        want.add(ts, f[4], f[5], f[7], f[8].parse().unwrap(), &ua);
    }
    let s = run(
        &db,
        &cfg,
        &e,
        &fixture("cloudfront.log"),
        &opts("cf.example", Format::CloudFront),
    )
    .await
    .unwrap();
    assert_eq!(s.rows_read, 8, "{s:?}");
    assert_eq!(totals(&db, "cf.example").await, want.totals());
    // Imported into the aggregate tier only (the days are past the event
    // TTL), and marked.
    let events: u64 = db
        .client()
        .query("SELECT count() FROM events")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(events, 0);
    let marked: Vec<(String, String)> = db
        .client()
        .query("SELECT DISTINCT toString(site), tier FROM import_days ORDER BY 1")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(marked.len(), 4, "{marked:?}");
    assert!(marked.iter().all(|(_, t)| t == "aggregate"), "{marked:?}");
    assert_eq!(db.count("import_staging").await, 0);

    // The UTM tags of the CloudFront query reached the sources.
    let utm: u64 = db
        .client()
        .query("SELECT sum(pageviews) FROM analytics_campaigns_daily WHERE site = 'cf.example' AND utm_field = 'utm_source' AND value = 'twitter'")
        .fetch_one()
        .await
        .unwrap_or(0);
    assert_eq!(utm, 1);

    // purge --imports removes the imported days, and only those.
    let removed = imp::purge(&db.store(), "nginx.example").await.unwrap();
    assert_eq!(removed, vec!["2026-09-14", "2026-09-15"]);
    assert!(totals(&db, "nginx.example").await.is_empty());
    assert!(!totals(&db, "caddy.example").await.is_empty());
}

/// One generated request line (combined format).
fn line(
    ts_ms: i64,
    ip: &str,
    method: &str,
    path: &str,
    status: u16,
    referrer: &str,
    ua: &str,
) -> String {
    let t = jiff::Timestamp::from_millisecond(ts_ms)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%d/%b/%Y:%H:%M:%S %z")
        .to_string();
    format!("{ip} - - [{t}] \"{method} {path} HTTP/1.1\" {status} 1234 \"{referrer}\" \"{ua}\"")
}

const CANARY_IP: &str = "198.51.100.77";
const CANARY_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 QzxCanaryUA/1.0";
const CANARY_MAIL: &str = "qzx.canary.person@example.org";
const CANARY_TOKEN: &str = "QzxCanaryToken4242";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_log_is_imported_privately_once() {
    let (db, cfg, e) = setup("import_canary").await;
    let now = SystemClock.now_ms();
    let today = day_of(now);
    // Closed days the event tier keeps, and days past it.
    let days: Vec<i32> = (today - 9..=today - 3)
        .chain(today - 50..=today - 44)
        .collect();

    let human = |ua: &str| {
        !e.bots.as_ref().unwrap().is_bot(ua)
            && !e.ua.as_ref().unwrap().parse_with(ua, |_| false).spider
    };
    let mut agents: Vec<String> = weighted_agents()
        .into_iter()
        .map(|(a, _)| a)
        .filter(|a| !a.contains('"') && !a.is_empty())
        .collect();
    agents.truncate(4000);
    agents.retain(|a| human(a));
    assert!(human(CANARY_UA));
    let crawlers: Vec<String> = vendor_json("crawlers.json")
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["instances"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .filter(|ua| !ua.contains('"') && e.bots.as_ref().unwrap().is_bot(ua))
        .collect();
    assert!(agents.len() > 1000 && crawlers.len() > 100);

    let paths = [
        "/",
        "/pricing",
        "/docs/",
        "/docs/install",
        "/blog/",
        "/blog/a-post",
        "/about",
        "/contact",
    ];
    let mut rng = Rng(0x5eed_1234_abcd);
    let visitors: Vec<(String, String)> = (0..3000)
        .map(|_| {
            let ip = format!(
                "{}.{}.{}.{}",
                11 + rng.below(80),
                rng.below(256),
                rng.below(256),
                1 + rng.below(254)
            );
            (ip, rng.pick(&agents).clone())
        })
        .collect();
    let mut lines: Vec<(i64, String)> = Vec::with_capacity(100_000);
    // (day → (pageviews, visitors)), and each visitor-day's page times.
    let mut want: BTreeMap<String, (u64, BTreeSet<(String, String)>)> = BTreeMap::new();
    let mut times: BTreeMap<(i32, String, String), Vec<i64>> = BTreeMap::new();
    let mut want_skipped: BTreeMap<&str, u64> = BTreeMap::new();
    let mut page = |ts: i64, ip: &str, ua: &str| {
        let d = want.entry(format_day(day_of(ts))).or_default();
        d.0 += 1;
        d.1.insert((ip.into(), ua.into()));
        times
            .entry((day_of(ts), ip.into(), ua.into()))
            .or_default()
            .push(ts);
    };
    for i in 0..100_000u64 {
        let day = days[(i % days.len() as u64) as usize];
        let ts = day as i64 * 86_400_000 + rng.below(86_400) as i64 * 1000;
        let (ip, ua) = visitors[rng.zipf(visitors.len())].clone();
        let path = *rng.pick(&paths);
        let roll = rng.below(100);
        let l = if i % 5000 == 0 {
            page(ts, CANARY_IP, CANARY_UA);
            let target = format!("/users/{CANARY_MAIL}/profile?token={CANARY_TOKEN}");
            line(ts, CANARY_IP, "GET", &target, 200, "-", CANARY_UA)
        } else if roll < 70 {
            page(ts, &ip, &ua);
            let target = if roll < 5 {
                format!("{path}?utm_source=news&sid={}", rng.next())
            } else {
                path.to_string()
            };
            line(
                ts,
                &ip,
                "GET",
                &target,
                if roll < 60 { 200 } else { 304 },
                "https://www.google.com/",
                &ua,
            )
        } else if roll < 78 {
            *want_skipped.entry("static_asset").or_default() += 1;
            line(ts, &ip, "GET", "/static/app.js", 200, "-", &ua)
        } else if roll < 83 {
            *want_skipped.entry("method").or_default() += 1;
            line(ts, &ip, "POST", "/contact", 302, "-", &ua)
        } else if roll < 88 {
            *want_skipped.entry("status").or_default() += 1;
            line(ts, &ip, "GET", "/nope", 404, "-", &ua)
        } else {
            *want_skipped.entry("bot").or_default() += 1;
            line(
                ts,
                &format!("66.249.{}.{}", rng.below(256), 1 + rng.below(254)),
                "GET",
                path,
                200,
                "-",
                rng.pick::<String>(&crawlers),
            )
        };
        lines.push((ts, l));
    }
    lines.sort();
    let path = db.dir.join("access.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for (_, l) in &lines {
        writeln!(f, "{l}").unwrap();
    }
    f.into_inner().unwrap().sync_all().unwrap();
    drop(lines);

    let mut reports = Vec::new();
    let s = imp::import_file(
        &cfg,
        &db.store(),
        e.clone(),
        &path,
        &opts("example.com", Format::Nginx),
        now,
        &mut |p| reports.push(p),
    )
    .await
    .unwrap();
    assert_eq!(s.rows_read, 100_000);
    // Progress every 16,384 lines, the bytes read growing to the file's.
    assert_eq!(reports.len(), 100_000 / 16_384);
    assert!(reports
        .windows(2)
        .all(|w| w[0].bytes_read <= w[1].bytes_read));
    assert!(reports.iter().all(|p| p.bytes_read <= p.bytes_total));
    for (reason, n) in &want_skipped {
        assert_eq!(s.skipped.get(*reason), Some(n), "{reason}: {s:?}");
    }
    let want_pv: u64 = want.values().map(|(p, _)| p).sum();
    assert_eq!(s.imported, want_pv, "{s:?}");
    assert_eq!(s.event_days.len(), 7);
    assert_eq!(s.aggregate_days.len(), 7);
    let expected: BTreeMap<String, (u64, u64)> = want
        .iter()
        .map(|(d, (p, v))| (d.clone(), (*p, v.len() as u64)))
        .collect();
    assert_eq!(totals(&db, "example.com").await, expected);

    // Visits (30 minutes of inactivity end one), computed here.
    let mut visits: BTreeMap<String, u64> = BTreeMap::new();
    for ((day, _, _), mut ts) in times {
        ts.sort();
        let n = 1 + ts
            .windows(2)
            .filter(|w| w[1] - w[0] > 30 * 60 * 1000)
            .count() as u64;
        *visits.entry(format_day(day)).or_default() += n;
    }
    let got: Vec<(String, u64)> = db
        .client()
        .query("SELECT toString(day), sum(visits) FROM analytics_overview_daily WHERE site = 'example.com' GROUP BY day ORDER BY day")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(got.into_iter().collect::<BTreeMap<_, _>>(), visits);

    // Nothing per visitor past the event TTL; the staged rows are gone.
    let old_events: u64 = db
        .client()
        .query("SELECT count() FROM events WHERE toDate(ts) < ?")
        .bind(format_day(today - 20))
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(old_events, 0);
    assert_eq!(db.count("import_staging").await, 0);

    // The canary appears nowhere: every table, the logs, the data directory.
    let dump = db.dump().await;
    let logs = logs();
    for canary in [CANARY_IP, "QzxCanary", "canary.person", CANARY_TOKEN] {
        assert!(!dump.contains(canary), "{canary} stored");
        assert!(!logs.contains(canary), "{canary} logged");
    }
    let written: Vec<_> = std::fs::read_dir(&db.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(written, vec![std::ffi::OsString::from("access.log")]);

    // The same file again changes nothing.
    let again = run(&db, &cfg, &e, &path, &opts("example.com", Format::Nginx))
        .await
        .unwrap();
    assert_eq!(again.already_imported, Some(s.import_id));
    let sorted = |d: &str| {
        let mut l: Vec<String> = d.lines().map(str::to_string).collect();
        l.sort();
        l
    };
    let (before, after) = (sorted(&dump), sorted(&db.dump().await));
    if before != after {
        let (b, a): (BTreeSet<&String>, BTreeSet<&String>) =
            (before.iter().collect(), after.iter().collect());
        panic!(
            "the second import changed rows: gone {:?}, new {:?}",
            b.difference(&a).take(5).collect::<Vec<_>>(),
            a.difference(&b).take(5).collect::<Vec<_>>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_files_and_live_days_import_nothing() {
    let (db, cfg, e) = setup("import_refuse").await;
    let today = day_of(SystemClock.now_ms());
    let day = today - 5;
    let ts = day as i64 * 86_400_000 + 3_600_000;
    let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36";
    let good = (0..50)
        .map(|i| line(ts + i * 1000, "203.0.113.5", "GET", "/", 200, "-", ua))
        .collect::<Vec<_>>();

    // Two malformed lines, one allowed: nothing of the file is kept, and
    // the error names the line without quoting it.
    let mut text = good.clone();
    text.insert(10, "203.0.113.99 - - [garbage".into());
    text.insert(30, "203.0.113.98 - - [nonsense".into());
    let path = db.dir.join("bad.log");
    std::fs::write(&path, text.join("\n")).unwrap();
    let mut o = opts("example.com", Format::Nginx);
    o.max_bad_lines = 1;
    let err = run(&db, &cfg, &e, &path, &o).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, ImportError::TooManyBadLines { line: 31, .. }),
        "{msg}"
    );
    assert!(!msg.contains("203.0.113"), "{msg}");
    assert!(totals(&db, "example.com").await.is_empty());
    assert_eq!(db.count("import_staging").await, 0);
    assert_eq!(db.count("import_days").await, 0);
    let status: String = db
        .client()
        .query("SELECT status FROM imports")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(status, "failed");

    // A day collected live: refused, then kept or replaced as told.
    let live = db.store();
    live.client()
        .query("INSERT INTO events (site, ts, name, hostname, pathname, referrer_host, visitor_id, ip_prefix, language, screen_width, prop_keys, prop_values) SELECT 'example.com', fromUnixTimestamp64Milli(toInt64(?), 'UTC'), 'pageview', 'example.com', '/live', '', 7, '', '', 0, [], []")
        .bind(ts)
        .execute()
        .await
        .unwrap();
    let path = db.dir.join("good.log");
    std::fs::write(&path, good.join("\n")).unwrap();
    let err = run(&db, &cfg, &e, &path, &opts("example.com", Format::Nginx))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ImportError::LiveOverlap { days, .. } if days == &vec![format_day(day)]),
        "{err}"
    );
    assert_eq!(db.count("events").await, 1);

    let mut o = opts("example.com", Format::Nginx);
    o.overlap = Overlap::KeepLive;
    let s = run(&db, &cfg, &e, &path, &o).await.unwrap();
    assert_eq!((s.imported, s.skipped.get("live_day")), (0, Some(&50)));
    assert_eq!(db.count("events").await, 1);

    // keep-live recorded the file as done: a changed file is a new file.
    std::fs::write(&path, format!("{}\n", good.join("\n"))).unwrap();
    o.overlap = Overlap::Replace;
    let s = run(&db, &cfg, &e, &path, &o).await.unwrap();
    assert_eq!(s.imported, 50);
    assert_eq!(
        totals(&db, "example.com").await,
        BTreeMap::from([(format_day(day), (50, 1))])
    );
    let pages: Vec<String> = db
        .client()
        .query("SELECT DISTINCT pathname FROM events")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(pages, vec!["/"]);
}

/// A CSV fixture read by this test alone: header → column, quotes trimmed
/// (the fixtures hold no commas inside values).
fn csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return vec![];
    };
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim_matches('"').to_string())
        .collect();
    lines
        .map(|l| {
            cols.iter()
                .cloned()
                .zip(l.split(',').map(|v| v.trim_matches('"').to_string()))
                .collect()
        })
        .collect()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut f: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    f.sort();
    f
}

async fn by_day_key(db: &TestDb, sql: &str) -> BTreeMap<(String, String), u64> {
    let rows: Vec<(String, String, u64)> = db.client().query(sql).fetch_all().await.unwrap();
    rows.into_iter().map(|(d, k, n)| ((d, k), n)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plausible_export_becomes_aggregate_rows() {
    let (db, cfg, _) = setup("import_plausible").await;
    let site = "plausible.example";
    let dir = fixture("plausible_new");
    let file = |t: &str| dir.join(format!("imported_{t}_20260901_20260902.csv"));
    let num = |r: &BTreeMap<String, String>, k: &str| r[k].parse::<u64>().unwrap();
    let s = imp::import_plausible(
        &cfg,
        &db.store(),
        &files_in(&dir),
        &opts(site, Format::Plausible),
        SystemClock.now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(s.aggregate_days, vec!["2026-09-01", "2026-09-02"], "{s:?}");

    // Totals: the visitors file, plus custom events in the event count.
    let mut want: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for r in csv(&file("visitors")) {
        let e = want.entry(r["date"].clone()).or_default();
        e.0 += num(&r, "pageviews");
        e.1 += num(&r, "visitors");
        e.2 += num(&r, "pageviews");
    }
    let mut want_events: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in csv(&file("custom_events")) {
        want.get_mut(&r["date"]).unwrap().2 += num(&r, "events");
        *want_events
            .entry((r["date"].clone(), r["name"].clone()))
            .or_default() += num(&r, "events");
    }
    let got: Vec<(String, u64, u64, u64)> = db
        .client()
        .query("SELECT toString(day), pageviews, visitors, events FROM analytics_totals_daily WHERE site = ? ORDER BY day")
        .bind(site)
        .fetch_all()
        .await
        .unwrap();
    let got: BTreeMap<String, (u64, u64, u64)> =
        got.into_iter().map(|(d, p, v, e)| (d, (p, v, e))).collect();
    assert_eq!(got, want);
    assert_eq!(
        by_day_key(&db, "SELECT toString(day), event, occurrences FROM analytics_custom_events_daily WHERE site = 'plausible.example'").await,
        want_events
    );

    // Visits and bounces of the day, and per entry page.
    let mut want_visits: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in csv(&file("visitors")) {
        want_visits.insert((r["date"].clone(), "all".into()), num(&r, "visits"));
        want_visits.insert(
            (r["date"].clone(), "all bounces".into()),
            num(&r, "bounces"),
        );
    }
    for r in csv(&file("entry_pages")) {
        want_visits.insert(
            (r["date"].clone(), format!("entry {}", r["entry_page"])),
            num(&r, "entrances"),
        );
    }
    let got = by_day_key(
        &db,
        "SELECT toString(day), if(kind = 'all', 'all', concat('entry ', value)), visits FROM analytics_visits_daily
         WHERE site = 'plausible.example' AND kind != 'exit_page'
         UNION ALL SELECT toString(day), 'all bounces', bounces FROM analytics_visits_daily
         WHERE site = 'plausible.example' AND kind = 'all'",
    )
    .await;
    assert_eq!(got, want_visits);

    // Pages (paths scrubbed as live ones are) and sources.
    let mut want_pages: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in csv(&file("pages"))
        .iter()
        .filter(|r| !r["page"].contains('@'))
    {
        *want_pages
            .entry((r["date"].clone(), r["page"].clone()))
            .or_default() += num(r, "pageviews");
    }
    let got = by_day_key(&db, "SELECT toString(day), pathname, pageviews FROM analytics_pages_daily WHERE site = 'plausible.example' AND pathname NOT LIKE '/u/%'").await;
    assert_eq!(got, want_pages);
    let mut want_sources: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in csv(&file("sources")) {
        *want_sources
            .entry((r["date"].clone(), r["source"].clone()))
            .or_default() += num(&r, "pageviews");
    }
    let got = by_day_key(&db, "SELECT toString(day), source, pageviews FROM analytics_sources_daily WHERE site = 'plausible.example'").await;
    assert_eq!(got, want_sources);
    assert!(!db.dump().await.contains("jane.doe"));

    // The older column set, an empty file and a header-only one.
    let s = imp::import_plausible(
        &cfg,
        &db.store(),
        &files_in(&fixture("plausible_old")),
        &opts(site, Format::Plausible),
        SystemClock.now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(s.rows_read, 3, "{s:?}");
    let old = totals(&db, site).await;
    assert_eq!(old.get("2026-08-10"), Some(&(19, 7)));
    let pages = by_day_key(&db, "SELECT toString(day), pathname, pageviews FROM analytics_pages_daily WHERE site = 'plausible.example' AND day = '2026-08-10'").await;
    assert_eq!(pages.values().sum::<u64>(), 19);

    // Again: nothing changes. A later rollup of those days keeps them.
    let again = imp::import_plausible(
        &cfg,
        &db.store(),
        &files_in(&dir),
        &opts(site, Format::Plausible),
        SystemClock.now_ms(),
    )
    .await
    .unwrap();
    assert!(again.already_imported.is_some());
    tacit::analytics::rollup::rollup_tables(
        &db.store(),
        tacit::model::clock::day_of_date(jiff::civil::date(2026, 9, 1)),
        SystemClock.now_ms() as u64 + 5,
    )
    .await
    .unwrap();
    assert_eq!(totals(&db, site).await, old);

    // The same export as Plausible ships it, a zip of stored entries
    // (written here with data descriptors, as a streaming writer does).
    let zip = db.dir.join("plausible_example_20260903.zip");
    std::fs::write(&zip, stored_zip(&files_in(&dir))).unwrap();
    let z = imp::import_plausible(
        &cfg,
        &db.store(),
        &[zip],
        &opts("zip.example", Format::Plausible),
        SystemClock.now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(z.aggregate_days, vec!["2026-09-01", "2026-09-02"]);
    let mut from_files = totals(&db, site).await;
    from_files.remove("2026-08-10");
    assert_eq!(totals(&db, "zip.example").await, from_files);

    imp::purge(&db.store(), site).await.unwrap();
    assert!(totals(&db, site).await.is_empty());
}

/// A zip archive of `files`, stored (no compression), each entry's sizes
/// and CRC in a data descriptor after it and in the central directory.
fn stored_zip(files: &[PathBuf]) -> Vec<u8> {
    let (mut out, mut dir) = (Vec::new(), Vec::new());
    let le16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(f).unwrap();
        let mut crc = flate2::Crc::new();
        crc.update(&data);
        let (crc, len, offset) = (crc.sum(), data.len() as u32, out.len() as u32);
        out.extend_from_slice(b"PK\x03\x04");
        for x in [20, 8, 0, 0, 0] {
            le16(&mut out, x);
        }
        for _ in 0..3 {
            le32(&mut out, 0);
        }
        le16(&mut out, name.len() as u16);
        le16(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        out.extend_from_slice(b"PK\x07\x08");
        for x in [crc, len, len] {
            le32(&mut out, x);
        }
        dir.extend_from_slice(b"PK\x01\x02");
        for x in [20, 20, 8, 0, 0, 0] {
            le16(&mut dir, x);
        }
        for x in [crc, len, len] {
            le32(&mut dir, x);
        }
        for x in [name.len() as u16, 0, 0, 0, 0] {
            le16(&mut dir, x);
        }
        le32(&mut dir, 0);
        le32(&mut dir, offset);
        dir.extend_from_slice(name.as_bytes());
    }
    let dir_offset = out.len() as u32;
    out.extend_from_slice(&dir);
    out.extend_from_slice(b"PK\x05\x06");
    for x in [0, 0, files.len() as u16, files.len() as u16] {
        le16(&mut out, x);
    }
    le32(&mut out, dir.len() as u32);
    le32(&mut out, dir_offset);
    le16(&mut out, 0);
    out
}

#[test]
fn explain_prints_the_rules_and_what_each_line_becomes() {
    let raw = tacit::config::RawConfig {
        sites: vec![RawSite {
            domain: "example.com".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let cfg = raw.validate().unwrap();
    let now = SystemClock.now_ms();
    let day = jiff::Timestamp::from_millisecond(now - 5 * 86_400_000)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%d/%b/%Y")
        .to_string();
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0";
    let input = format!(
        "192.0.2.1 - - [{day}:10:00:00 +0000] \"GET /u/jo@example.org?token=abc HTTP/1.1\" 200 1 \"-\" \"{ua}\"\n\
         192.0.2.1 - - [{day}:10:00:01 +0000] \"GET /app.css HTTP/1.1\" 200 1 \"-\" \"{ua}\"\n\
         192.0.2.2 - - [{day}:10:00:02 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"Googlebot/2.1 (+http://www.google.com/bot.html)\"\n\
         not a log line\n"
    );
    let mut out = Vec::new();
    imp::explain(
        &cfg,
        &opts("example.com", Format::Nginx),
        now,
        input.as_bytes(),
        &mut out,
    )
    .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0]["rules"]["unknown_in_logs"]
        .as_str()
        .unwrap()
        .contains("DNT"));
    let stored = &lines[1]["stored"];
    assert_eq!(stored["name"], "pageview");
    assert!(!stored["pathname"]
        .as_str()
        .unwrap()
        .contains("jo@example.org"));
    assert_eq!(stored["query"], "");
    assert_eq!(stored["browser"], "Firefox");
    assert_eq!(lines[2]["skipped"], "static_asset");
    assert_eq!(lines[3]["skipped"], "bot");
    assert!(lines[4]["malformed"].is_string());
}
