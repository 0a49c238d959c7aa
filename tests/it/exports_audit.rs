//! Partner setups that link releases across tables, against the attack
//! harness (`attack`, written apart from tacit's audit). Scenarios (a)-(d)
//! of issue 26 are each released twice from the same events: with
//! per-release suppression (each export to a partner of its own) the
//! harness narrows some withheld small cell below the protection level
//! from the files and their public margins, so the scenario bites; to one
//! partner, through the audit, it narrows none. (Scenario (e), a late row
//! after a released day, is the frozen file's business: `exports_linked`.)

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use tacit::config::exports::RawExport;
use tacit::export::{self, Linking, ReleaseChannel};
use tacit::model::clock::{day_of_date, format_day};

use crate::attack::{self, Ev, Table};
use crate::common::*;
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
    visitor_id: u64,
    referrer_host: String,
    ip_prefix: String,
    country: String,
    device: String,
    browser: String,
    language: String,
    screen_width: u16,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
}

fn day(s: &str) -> i32 {
    day_of_date(s.parse().unwrap())
}

/// Long-tailed traffic over `days` days from `first`: a few big countries
/// and several tiny ones; each visitor has one country, device and browser
/// a day, and sees one to three pages (a page view each, sometimes a
/// signup event too).
fn traffic(first: i32, days: i32, seed: u64, pages: &[&str]) -> Vec<Ev> {
    let countries = [
        ("US", 30.0),
        ("DE", 16.0),
        ("FR", 8.0),
        ("SE", 3.0),
        ("NO", 1.5),
        ("IS", 0.8),
    ];
    let devices = [("desktop", 0.6), ("mobile", 0.4)];
    let browsers = ["Chrome", "Firefox", "Safari"];
    let mut rng = Rng(seed);
    let mut evs = Vec::new();
    for d in first..first + days {
        for (c, mean) in countries {
            for (dev, share) in devices {
                let m: f64 = mean * share;
                let trials = (m * 4.0).ceil() + 2.0;
                let n = (0..trials as u64)
                    .filter(|_| rng.unit() < m / trials)
                    .count();
                for _ in 0..n {
                    let visitor = rng.next() | 1;
                    let browser = *rng.zipf_pick(&browsers);
                    let seen = 1 + rng.below(3) as usize;
                    for _ in 0..seen {
                        let page = *rng.zipf_pick(pages);
                        let names: &[&str] = if rng.unit() < 0.3 {
                            &["pageview", "signup"]
                        } else {
                            &["pageview"]
                        };
                        for name in names {
                            evs.push(Ev {
                                day: d,
                                visitor,
                                country: c.into(),
                                device: dev.into(),
                                browser: browser.into(),
                                pathname: page.into(),
                                name: name.to_string(),
                            });
                        }
                    }
                }
            }
        }
    }
    evs
}

async fn load(db: &TestDb, evs: &[Ev]) {
    let mut rng = Rng(7);
    let mut ins = db.client().insert::<Row>("events").await.unwrap();
    for e in evs {
        ins.write(&Row {
            site: SITE.into(),
            ts: e.day as i64 * 86_400_000 + rng.below(80_000_000) as i64,
            name: e.name.clone(),
            hostname: SITE.into(),
            pathname: e.pathname.clone(),
            visitor_id: e.visitor,
            country: e.country.clone(),
            device: e.device.clone(),
            browser: e.browser.clone(),
            referrer_host: String::new(),
            ip_prefix: String::new(),
            language: "en".into(),
            screen_width: 1280,
            prop_keys: vec![],
            prop_values: vec![],
        })
        .await
        .unwrap();
    }
    ins.end().await.unwrap();
}

async fn database(tag: &str) -> TestDb {
    let db = TestDb::new(tag);
    let mut raw = db.config();
    raw.policy.event_ttl_days = 120;
    let cfg = raw.validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    // The traffic is weeks old: keep it.
    tacit::store::apply_retention(&db.store(), &cfg.policy)
        .await
        .unwrap();
    db
}

/// An export: (name, period, dimensions, metrics).
type Def = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

fn export_toml(partner: &str, (name, period, dims, metrics): Def) -> RawExport {
    let list = |v: &[&str]| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    toml::from_str(&format!(
        "name = \"{name}\"\npartner = \"{partner}\"\nsites = [\"{SITE}\"]\nperiod = \"{period}\"\n\
         dimensions = [{}]\nmetrics = [{}]\nmin_visitors = {K}",
        list(dims),
        list(metrics)
    ))
    .unwrap()
}

/// Make the releases `plan` (export index, period) for `partner`, in
/// order, each the day after its period ends; return the files as the
/// partner reads them.
async fn release_all(
    db: &TestDb,
    partner: &str,
    defs: &[Def],
    plan: &[(usize, String)],
    linking: Linking,
) -> Vec<Table> {
    let mut raw = db.config();
    raw.policy.event_ttl_days = 120;
    // Per-release suppression links nothing, so the exports can go to
    // partners of their own (a setup the configuration accepts); the
    // attack then reads all the files as one partner would hold them.
    raw.exports = defs
        .iter()
        .enumerate()
        .map(|(i, d)| match linking {
            Linking::PerTableOnly => export_toml(&format!("{partner}-{i}"), *d),
            _ => export_toml(partner, *d),
        })
        .collect();
    let cfg = raw.validate().unwrap();
    let mut files = Vec::new();
    for (e, period) in plan {
        let spec = &cfg.exports[*e];
        let p = export::period::parse(period, spec.period).unwrap();
        let r = export::release_with(
            &db.store(),
            spec,
            period,
            p.end as i64 * 86_400_000 + 3_600_000,
            120,
            ReleaseChannel::Cli,
            &mut StdRng::seed_from_u64(1),
            linking,
        )
        .await
        .unwrap_or_else(|err| panic!("{} {period}: {err} ({err:?})", spec.name));
        files.push(attack::read_csv(
            &r.bytes,
            (p.start, p.end),
            spec.dimensions.len(),
        ));
    }
    files
}

/// A linking setup: made with per-release suppression (each export to a
/// partner of its own), the harness must narrow a withheld small cell (the
/// scenario bites); the same exports to one partner, released through the
/// audit, must leave it nothing.
async fn audited(tag: &str, evs: &[Ev], defs: &[Def], plan: &[(usize, String)]) {
    let db = database(tag).await;
    load(&db, evs).await;
    let before = release_all(&db, "before", defs, plan, Linking::PerTableOnly).await;
    assert!(
        before.iter().all(|t| !t.rows.is_empty()),
        "{tag}: every file releases something"
    );
    let broken = attack::attack(evs, &before, K, K);
    assert!(
        !broken.is_empty(),
        "{tag}: per-release suppression alone should leave a narrow cell (the scenario must bite)"
    );
    let started = std::time::Instant::now();
    let after = release_all(&db, "one", defs, plan, Linking::Linked).await;
    let took = started.elapsed();
    let rows = |files: &[Table]| files.iter().map(|t| t.rows.len()).collect::<Vec<_>>();
    assert!(
        after.iter().any(|t| !t.rows.is_empty()),
        "{tag}: the audited files release something"
    );
    let left = attack::attack(evs, &after, K, K);
    eprintln!(
        "{tag}: per release only {} narrowed (rows {:?}); audited {} narrowed (rows {:?}) in {took:?}",
        broken.len(),
        rows(&before),
        left.len(),
        rows(&after)
    );
    assert!(
        left.is_empty(),
        "{tag}: narrowed through the audit: {left:?}"
    );
}

/// A week's days, then the week.
fn days_then_week(first: i32) -> Vec<(usize, String)> {
    let mut plan: Vec<(usize, String)> = (first..first + 7).map(|d| (0, format_day(d))).collect();
    plan.push((1, export::period::week_label(first)));
    plan
}

const MONDAY: &str = "2026-10-05";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_a_days_and_their_week_with_public_totals() {
    let first = day(MONDAY);
    let evs = traffic(first, 7, 0xa11ce, &["/"]);
    let defs: [Def; 2] = [
        ("daily", "day", &["country", "device"], &["visitors"]),
        ("weekly", "week", &["country", "device"], &["visitors"]),
    ];
    audited("audit_a", &evs, &defs, &days_then_week(first)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_b_a_configured_page_export_never_released() {
    let first = day(MONDAY);
    let evs = traffic(first, 7, 0xb0b, &["/", "/pricing", "/docs"]);
    let defs: [Def; 3] = [
        ("daily", "day", &["country", "device"], &["visitors"]),
        ("weekly", "week", &["country", "device"], &["visitors"]),
        ("pages", "week", &["pathname"], &["visitors"]),
    ];
    audited("audit_b", &evs, &defs, &days_then_week(first)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_c_pages_by_day_and_countries_by_week_with_events() {
    let first = day(MONDAY);
    let evs = traffic(first, 7, 0xc0c0a, &["/", "/pricing", "/docs"]);
    let defs: [Def; 2] = [
        (
            "daily",
            "day",
            &["country", "pathname"],
            &["visitors", "events"],
        ),
        ("weekly", "week", &["country"], &["visitors", "events"]),
    ];
    audited("audit_c", &evs, &defs, &days_then_week(first)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_d_two_breakdowns_of_one_period_sharing_a_dimension() {
    let first = day(MONDAY);
    let evs = traffic(first, 7, 0xd00d, &["/"]);
    let defs: [Def; 2] = [
        ("by_device", "week", &["country", "device"], &["visitors"]),
        ("by_browser", "week", &["country", "browser"], &["visitors"]),
    ];
    let week = export::period::week_label(first);
    audited("audit_d", &evs, &defs, &[(0, week.clone()), (1, week)]).await;
}

/// A setup the configuration accepts (one breakdown by day to one
/// partner, a week of files) released through the partner audit: the
/// harness, with every file and every public margin, narrows no withheld
/// small cell below the protection level (with per-table suppression alone
/// it can, within a single day's table).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_setup_released_through_the_audit_narrows_nothing() {
    let first = day(MONDAY);
    let evs = traffic(first, 7, 0xa11ce, &["/"]);
    let defs: [Def; 1] = [("daily", "day", &["country", "device"], &["visitors"])];
    let plan: Vec<(usize, String)> = (first..first + 7).map(|d| (0, format_day(d))).collect();
    let db = database("audit_ok").await;
    load(&db, &evs).await;
    let before = release_all(&db, "before", &defs, &plan, Linking::PerTableOnly).await;
    let per_table = attack::attack(&evs, &before, K, K);
    let after = release_all(&db, "after", &defs, &plan, Linking::Linked).await;
    let rows = |files: &[Table]| files.iter().map(|t| t.rows.len()).collect::<Vec<_>>();
    assert!(
        after.iter().any(|t| !t.rows.is_empty()),
        "the audited files release something"
    );
    let broken = attack::attack(&evs, &after, K, K);
    eprintln!(
        "accepted setup: per table only {} narrowed (rows {:?}), audited {} narrowed (rows {:?})",
        per_table.len(),
        rows(&before),
        broken.len(),
        rows(&after)
    );
    assert!(
        !per_table.is_empty(),
        "per-table suppression alone should leave a narrow cell (the test must bite)"
    );
    assert!(broken.is_empty(), "narrowed through the audit: {broken:?}");
}
