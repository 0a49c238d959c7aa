//! Partner exports against a partner that keeps every file: an attack
//! harness written apart from tacit's suppression (integer programming over
//! the files, not elimination, not tacit's audit) releases a month of
//! daily, weekly and monthly exports with overlapping dimensions to one
//! partner and looks for withheld small cells it can narrow below the
//! protection level. Also: one release per period under concurrency, and a
//! released period frozen against late rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use microlp::{ComparisonOp, OptimizationDirection, Problem};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use tacit::config::exports::RawExport;
use tacit::export::{self, Linking, ReleaseChannel};
use tacit::model::clock::{day_of_date, format_day};

use crate::common::*;
use crate::exports::parse_csv;
use crate::support::Rng;

const SITE: &str = "example.com";
const K: u64 = 5;

#[derive(Serialize, clickhouse::Row)]
struct Row {
    site: String,
    ts: i64,
    name: String,
    hostname: String,
    pathname: String,
    referrer_host: String,
    visitor_id: u64,
    ip_prefix: String,
    country: String,
    device: String,
    language: String,
    screen_width: u16,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
}

/// (day, country, device) → the visitor ids of that atom.
type Truth = BTreeMap<(i32, String, String), BTreeSet<u64>>;

fn day(s: &str) -> i32 {
    day_of_date(s.parse().unwrap())
}

/// A month of long-tailed traffic: a few big countries, many tiny ones.
async fn load_month(db: &TestDb, first: i32, days: i32) -> Truth {
    let countries = [
        ("US", 60.0),
        ("DE", 30.0),
        ("FR", 14.0),
        ("GB", 8.0),
        ("SE", 4.0),
        ("NO", 2.0),
        ("FI", 1.2),
        ("IS", 0.6),
        ("LU", 0.3),
    ];
    // Weekly seasonality, Monday first: quiet Saturdays.
    let weekday = [1.0, 1.05, 1.0, 0.95, 0.9, 0.35, 0.6];
    let devices = [("desktop", 0.55), ("mobile", 0.35), ("tablet", 0.10)];
    let mut rng = Rng(0x11ab);
    let mut truth = Truth::new();
    let mut rows = Vec::new();
    for d in first..first + days {
        for (c, mean) in countries {
            for (dev, share) in devices {
                // Poisson-ish: a binomial draw around the mean.
                let m: f64 = mean * share * weekday[(d + 3).rem_euclid(7) as usize];
                let trials = (m * 4.0).ceil() + 2.0;
                let n = (0..trials as u64)
                    .filter(|_| rng.unit() < m / trials)
                    .count();
                for _ in 0..n {
                    let id = rng.next() | 1;
                    truth
                        .entry((d, c.to_string(), dev.to_string()))
                        .or_default()
                        .insert(id);
                    rows.push(Row {
                        site: SITE.into(),
                        ts: d as i64 * 86_400_000 + rng.below(80_000_000) as i64,
                        name: "pageview".into(),
                        hostname: SITE.into(),
                        pathname: "/".into(),
                        referrer_host: String::new(),
                        visitor_id: id,
                        ip_prefix: String::new(),
                        country: c.into(),
                        device: dev.into(),
                        language: "en".into(),
                        screen_width: 1280,
                        prop_keys: vec![],
                        prop_values: vec![],
                    });
                }
            }
        }
    }
    let mut ins = db.client().insert::<Row>("events").await.unwrap();
    for r in &rows {
        ins.write(r).await.unwrap();
    }
    ins.end().await.unwrap();
    truth
}

fn export_toml(name: &str, partner: &str, period: &str, dims: &str) -> RawExport {
    toml::from_str(&format!(
        "name = \"{name}\"\npartner = \"{partner}\"\nsites = [\"{SITE}\"]\nperiod = \"{period}\"\n\
         dimensions = [{dims}]\nmetrics = [\"visitors\"]\nmin_visitors = {K}"
    ))
    .unwrap()
}

/// Daily and weekly country × device, monthly country, to `partner`.
fn month_of_exports(partner: &str) -> Vec<RawExport> {
    vec![
        export_toml("daily", partner, "day", "\"country\", \"device\""),
        export_toml("weekly", partner, "week", "\"country\", \"device\""),
        export_toml("monthly", partner, "month", "\"country\""),
    ]
}

/// One file the partner holds: its days, dimensions and rows.
struct File {
    days: (i32, i32),
    dims: Vec<String>,
    rows: HashMap<Vec<String>, u64>,
}

/// Release every period of the month in the order a partner would fetch
/// them (each day, each week once over, the month); returns the files, the
/// cells withheld per export and the periods the audit refused (no
/// withholding in them protects what the partner already holds: it gets
/// no file).
async fn release_all(
    db: &TestDb,
    partner: &str,
    first: i32,
    days: i32,
    linking: Linking,
    audit: &str,
) -> (Vec<File>, BTreeMap<String, u64>, Vec<String>) {
    let mut raw = db.config();
    raw.policy.event_ttl_days = 120;
    raw.exports = month_of_exports(partner);
    for e in &mut raw.exports {
        e.audit = Some(audit.to_string());
    }
    if linking == Linking::PerTableOnly {
        // Nothing is linked: each export to a partner of its own.
        for e in &mut raw.exports {
            e.partner = format!("{partner}-{}", e.name);
        }
    }
    let cfg = raw.validate().unwrap();
    let mut plan: Vec<(usize, String, i32)> = Vec::new();
    for d in first..first + days {
        plan.push((0, format_day(d), d + 1));
        if (d + 3).rem_euclid(7) == 6 {
            // A Sunday: the ISO week ending today.
            plan.push((1, export::period::week_label(d), d + 1));
        }
    }
    let last = first + days - 1;
    if (last + 3).rem_euclid(7) != 6 {
        let sunday = last + (6 - (last + 3).rem_euclid(7));
        plan.push((1, export::period::week_label(last), sunday + 1));
    }
    plan.push((2, format_day(first)[..7].to_string(), first + days));
    let mut files = Vec::new();
    let mut withheld: BTreeMap<String, u64> = BTreeMap::new();
    let mut refused = Vec::new();
    for (e, period, released_on) in plan {
        let spec = &cfg.exports[e];
        let r = match export::release_with(
            &db.store(),
            spec,
            &period,
            released_on as i64 * 86_400_000 + 3_600_000,
            120,
            ReleaseChannel::Cli,
            &mut StdRng::seed_from_u64(1),
            linking,
        )
        .await
        {
            Ok(r) => r,
            Err(export::ExportError::Linked(export::link::LinkCheckError::Unprotectable {
                ..
            })) => {
                refused.push(format!("{} {period}", spec.name));
                continue;
            }
            Err(err) => panic!("{} {period}: {err}", spec.name),
        };
        *withheld.entry(spec.name.clone()).or_default() += r.summary.suppressed;
        let p = export::period::parse(&period, spec.period).unwrap();
        let (header, rows) = parse_csv(&r.bytes);
        let n = spec.dimensions.len();
        files.push(File {
            days: (p.start, p.end),
            dims: header[..n].to_vec(),
            rows: rows
                .into_iter()
                .map(|row| (row[..n].to_vec(), row[n].parse().unwrap()))
                .collect(),
        });
    }
    (files, withheld, refused)
}

/// The attacker: integer variables for the visitors of each atom (day,
/// country, device) that exists, one equation per row of every file, and
/// for each cell a file left out while its truth is under k, the least and
/// the most it can hold. Returns the cells narrower than `protection`.
fn attack(files: &[File], truth: &Truth, protection: u64) -> Vec<(String, f64, f64)> {
    let atoms: Vec<&(i32, String, String)> = truth.keys().collect();
    let support = |f: &File, keys: &[String]| -> Vec<usize> {
        atoms
            .iter()
            .enumerate()
            .filter(|(_, (d, c, dev))| {
                *d >= f.days.0
                    && *d < f.days.1
                    && f.dims.iter().zip(keys).all(|(dim, k)| match dim.as_str() {
                        "country" => c == k,
                        "device" => dev == k,
                        _ => false,
                    })
            })
            .map(|(i, _)| i)
            .collect()
    };
    let equations: Vec<(Vec<usize>, u64)> = files
        .iter()
        .flat_map(|f| f.rows.iter().map(move |(k, v)| (support(f, k), *v)))
        .collect();
    let mut narrow = Vec::new();
    for f in files {
        // Every cell the truth has that the file does not show.
        let mut cells: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
        for (i, (d, c, dev)) in atoms.iter().enumerate() {
            if *d < f.days.0 || *d >= f.days.1 {
                continue;
            }
            let key: Vec<String> = f
                .dims
                .iter()
                .map(|dim| {
                    if dim == "country" {
                        c.clone()
                    } else {
                        dev.clone()
                    }
                })
                .collect();
            cells.entry(key).or_default().push(i);
        }
        for (key, members) in cells {
            if f.rows.contains_key(&key) {
                continue;
            }
            let value: usize = members.iter().map(|&i| truth[atoms[i]].len()).sum();
            if value as u64 >= K {
                continue;
            }
            // The atoms linked to this cell through the equations.
            let mut comp: BTreeSet<usize> = members.iter().copied().collect();
            loop {
                let before = comp.len();
                for (vars, _) in &equations {
                    if vars.iter().any(|v| comp.contains(v)) {
                        comp.extend(vars.iter().copied());
                    }
                }
                if comp.len() == before {
                    break;
                }
            }
            let bound = |dir| {
                let mut p = Problem::new(dir);
                let xs: HashMap<usize, _> = comp
                    .iter()
                    .map(|&a| {
                        let obj = if members.contains(&a) { 1.0 } else { 0.0 };
                        (a, p.add_integer_var(obj, (0, 100_000)))
                    })
                    .collect();
                for (vars, v) in &equations {
                    if vars.iter().any(|a| comp.contains(a)) {
                        let e: Vec<_> = vars.iter().map(|a| (xs[a], 1.0)).collect();
                        p.add_constraint(&e[..], ComparisonOp::Eq, *v as f64);
                    }
                }
                p.solve()
                    .unwrap()
                    .into_solution()
                    .unwrap()
                    .objective()
                    .round()
            };
            let lo = bound(OptimizationDirection::Minimize);
            let hi = bound(OptimizationDirection::Maximize);
            if std::env::var("HARNESS_DEBUG").is_ok() {
                eprintln!(
                    "cell {:?} {key:?} truth {value} comp {} bounds [{lo}, {hi}]",
                    f.days,
                    comp.len()
                );
            }
            if hi - lo < protection as f64 {
                narrow.push((format!("{:?} {:?} {key:?}", f.days, f.dims), lo, hi));
            }
        }
    }
    narrow
}

/// A partner holding the daily, weekly and monthly files of a month (and
/// the public margins of each) narrows withheld small cells made with
/// per-table suppression: the attack bites. The same exports to one
/// partner, released through the partner audit, leave it nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_weeks_and_the_month_to_one_partner_withstand_the_attack() {
    let db = TestDb::new("linked");
    let mut raw = db.config();
    raw.policy.event_ttl_days = 120;
    let cfg = raw.validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    tacit::store::apply_retention(&db.store(), &cfg.policy)
        .await
        .unwrap();
    let (first, days) = (day("2026-10-01"), 31);
    let truth = load_month(&db, first, days).await;
    let t0 = std::time::Instant::now();
    let (files, _, none) =
        release_all(&db, "before", first, days, Linking::PerTableOnly, "fast").await;
    assert!(none.is_empty(), "per-table suppression refuses nothing");
    let broken = attack(&files, &truth, K);
    eprintln!(
        "{} narrowed with per-table suppression ({:?})",
        broken.len(),
        t0.elapsed()
    );
    assert!(
        !broken.is_empty(),
        "per-table suppression alone should leave a narrow cell"
    );
    // Both audits (`audit = "fast"`, the default, and "full"), each to a
    // partner of its own.
    for audit in ["fast", "full"] {
        let t0 = std::time::Instant::now();
        let partner = format!("acme-{audit}");
        let (files, withheld, refused) =
            release_all(&db, &partner, first, days, Linking::Linked, audit).await;
        let left = attack(&files, &truth, K);
        eprintln!(
            "through the {audit} audit: {} files, withheld {withheld:?}, refused {refused:?}, {} narrowed ({:?})",
            files.len(),
            left.len(),
            t0.elapsed()
        );
        assert!(
            files.iter().any(|f| !f.rows.is_empty()),
            "the audited files release something"
        );
        assert!(
            left.is_empty(),
            "narrowed through the {audit} audit: {left:?}"
        );
    }
}

/// Twenty requests at once, half to each of two tacit replicas sharing the
/// database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_requests_make_one_release() {
    use crate::exports::{now, setup, spec_toml};
    let (db, today, week) = setup("exp_race").await;
    let mut raw = db.config();
    let mut acme = spec_toml(
        "dimensions = [\"country\"]\nmetrics = [\"visitors\", \"pageviews\"]\nepsilon = 0.5\nbudget = 4.0\nrate_limit_per_minute = 100",
    );
    use sha2::Digest;
    acme.token_sha256 = vec![hex::encode(sha2::Sha256::digest(b"acme-race-token"))];
    raw.exports = vec![acme];
    let mut raw_b = raw.clone();
    let dir_b = tempfile::tempdir().unwrap();
    raw_b.server.data_dir = dir_b.path().to_string_lossy().into_owned();
    let clock = std::sync::Arc::new(tacit::model::clock::ManualClock::new(now(today)));
    let app = start_with_clock(raw, clock.clone()).await;
    let app_b = start_with_clock(raw_b, clock).await;
    let path = format!("/v1/exports/acme?period={week}");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let addr = if i % 2 == 0 {
            app.partner_addr
        } else {
            app_b.partner_addr
        };
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            get(addr, &path, &[("authorization", "Bearer acme-race-token")]).await
        }));
    }
    let mut bodies = BTreeSet::new();
    for t in tasks {
        let (s, _, body) = t.await.unwrap();
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
        bodies.insert(body);
    }
    assert_eq!(bodies.len(), 1, "every request got the same bytes");
    let (rows, eps): (u64, f64) = db
        .client()
        .query("SELECT count(), sum(epsilon_spent) FROM disclosures")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!((rows, eps), (1, 0.5), "one ledger row, one budget charge");
    assert_eq!(db.count("export_releases").await, 1);
    app.shutdown().await;
    app_b.shutdown().await;
    let _ = std::fs::remove_dir_all(dir_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_period_is_frozen_against_late_rows() {
    use crate::exports::{config, now, release_cli, setup, spec_toml};
    let (db, today, week) = setup("exp_frozen").await;
    let cfg = config(
        &db,
        vec![spec_toml(
            "dimensions = [\"country\"]\nmetrics = [\"visitors\", \"pageviews\"]\nmin_visitors = 2",
        )],
    );
    let spec = &cfg.exports[0];
    let first = release_cli(&db, spec, &week, now(today), &mut StdRng::seed_from_u64(1))
        .await
        .unwrap();
    // Late rows for the released week (a replay from the log after an
    // outage): a new country, and more visitors of a released one.
    let monday = crate::exports::last_week(today).0;
    raw_query(
        &db.url,
        &format!(
            "INSERT INTO `{}`.events (site, ts, name, hostname, pathname, visitor_id, country) SELECT '{SITE}', toDateTime64('{} 10:00:00', 3, 'UTC') + number, 'pageview', '{SITE}', '/late', 1000 + number, if(number < 5, 'ZZ', 'US') FROM numbers(30)",
            db.name,
            format_day(monday + 2)
        ),
    )
    .await;
    let fresh = tacit::export::cells::fetch(
        &db.client(),
        spec,
        &tacit::export::period::parse(&week, spec.period).unwrap(),
    )
    .await
    .unwrap();
    assert!(
        fresh.iter().any(|c| c.keys == ["ZZ"]),
        "the late rows count now"
    );
    let again = release_cli(&db, spec, &week, now(today), &mut StdRng::seed_from_u64(2))
        .await
        .unwrap();
    assert!(
        again.bytes == first.bytes,
        "a released period never changes"
    );
    assert!(again.summary.repeat);
    assert_eq!(db.count("disclosures").await, 1);
}
