//! Partner exports, issue 26 items 3-5 against the real engine: the
//! monthly budget under concurrent releases (one process, and replicas
//! without the in-process lock), accounts that a rename or a raise cannot
//! reset, contribution bounding as the counting query applies it, settled
//! periods, and the partner-audit store removed by a purge and listed by
//! `tacit policy`.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tacit::config::exports::{Granularity, RawExport};
use tacit::export::{self, budget, ExportError, ReleaseChannel};
use tacit::model::clock::format_day;

use crate::common::*;
use crate::exports::*;

fn day(label: &str) -> i32 {
    export::period::parse(label, Granularity::Day)
        .unwrap()
        .start
}

fn daily(extra: &str) -> RawExport {
    toml::from_str(&format!(
        "name = \"daily\"\npartner = \"acme\"\nsites = [\"{SITE}\"]\nperiod = \"day\"\ndimensions = [\"country\"]\nmetrics = [\"visitors\"]\n{extra}"
    ))
    .unwrap()
}

async fn migrated(tag: &str) -> TestDb {
    let db = TestDb::new(tag);
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    db
}

/// Epsilon kept (not given up) per month of an account, read here.
async fn kept(db: &TestDb, account: &str) -> BTreeMap<String, u64> {
    let rows: Vec<(String, u64)> = db
        .client()
        .query(
            "SELECT month, toUInt64(sum(epsilon_micros)) FROM export_budget
             WHERE account = ? AND abandoned = 0
               AND claim NOT IN (SELECT claim FROM export_budget WHERE abandoned = 1)
             GROUP BY month",
        )
        .bind(account)
        .fetch_all()
        .await
        .unwrap();
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_days_of_one_month_never_overdraw_its_budget() {
    let db = migrated("dp_budget").await;
    let cfg = config(&db, vec![daily("epsilon = 0.25\nbudget = 2.0")]);
    let spec = cfg.exports[0].clone();
    // 2026-03-25, noon: March 1-20 are over, settled and retained.
    let now_ms = day("2026-03-25") as i64 * 86_400_000 + 12 * 3_600_000;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (store, spec) = (db.store(), spec.clone());
        tasks.spawn(async move {
            let period = format_day(day("2026-03-01") + i);
            let mut rng = StdRng::from_os_rng();
            export::release(
                &store,
                &spec,
                &period,
                now_ms,
                30,
                ReleaseChannel::Api,
                &mut rng,
            )
            .await
        });
    }
    let (mut made, mut refused) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(r) => {
                assert_eq!(r.summary.epsilon_spent, 0.25);
                made += 1;
            }
            Err(ExportError::Budget { month, .. }) => {
                assert_eq!(month, "2026-03");
                refused += 1;
            }
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    let month = kept(&db, "acme").await;
    let ledger: f64 = db
        .client()
        .query("SELECT sum(epsilon_spent) FROM disclosures")
        .fetch_one()
        .await
        .unwrap();
    eprintln!("one process: {made} made, {refused} refused; kept {month:?}; ledger {ledger}");
    assert!(month["2026-03"] <= 2_000_000, "{month:?}");
    assert!(ledger <= 2.0 + 1e-9, "{ledger}");
    // In one process the reservations run one at a time: exactly the
    // budget's worth is made, and the ledger agrees with the account.
    assert_eq!((made, refused), (8, 12));
    assert_eq!(month["2026-03"], 8 * 250_000);
    assert!((ledger - 2.0).abs() < 1e-9);

    // Twenty replicas at once (no shared lock): the engine-side protocol
    // alone keeps the month within its budget.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let store = db.store();
        tasks.spawn(async move {
            let period =
                export::period::parse(&format_day(day("2026-03-01") + i), Granularity::Day)
                    .unwrap();
            let claim = format!("replica-claim-{i}");
            let charge = budget::Charge {
                account: "replicas",
                partner: "replicas",
                export: "daily",
                period: &period,
                claim: &claim,
                epsilon_micros: 250_000,
                budget_micros: 1_000_000,
                sensitivity: 1,
            };
            let mut rng = StdRng::from_os_rng();
            budget::reserve_in_engine(&store, &charge, &format!("replica-{i}"), &mut rng).await
        });
    }
    let (mut granted, mut denied) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(_) => granted += 1,
            Err(ExportError::Budget { .. }) => denied += 1,
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    let month = kept(&db, "replicas").await;
    eprintln!("twenty replicas: {granted} granted, {denied} refused; kept {month:?}");
    assert_eq!(granted + denied, 20);
    assert!(granted >= 1, "the budget is not simply refused to everyone");
    assert!(month["2026-03"] <= 1_000_000, "{month:?}");
    assert_eq!(month["2026-03"], granted * 250_000);
    assert_eq!(
        budget::spent(&db.store(), "replicas").await.unwrap()["2026-03"],
        month["2026-03"]
    );
}

#[tokio::test]
async fn an_account_survives_a_rename_and_refuses_a_raise_at_startup() {
    let db = migrated("dp_account").await;
    let cfg = config(&db, vec![daily("epsilon = 0.5\nbudget = 1.0")]);
    let now_ms = day("2026-03-25") as i64 * 86_400_000 + 12 * 3_600_000;
    let mut rng = StdRng::from_os_rng();
    let store = db.store();
    export::release(
        &store,
        &cfg.exports[0],
        "2026-03-02",
        now_ms,
        30,
        ReleaseChannel::Cli,
        &mut rng,
    )
    .await
    .unwrap();
    // Renamed without carrying the account: refused, naming the key.
    let mut renamed = daily("epsilon = 0.5\nbudget = 1.0");
    renamed.partner = "acme-corp".into();
    let e = budget::check_accounts(
        &store,
        &config(&db, vec![renamed.clone()]).exports,
        now_ms,
        30,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("budget_account \"acme\"") && e.contains("2026-03"),
        "{e}"
    );
    // Carried over: the renamed partner spends from the same account.
    renamed.budget_account = Some("acme".into());
    let carried = config(&db, vec![renamed]);
    budget::check_accounts(&store, &carried.exports, now_ms, 30)
        .await
        .unwrap();
    export::release(
        &store,
        &carried.exports[0],
        "2026-03-03",
        now_ms,
        30,
        ReleaseChannel::Cli,
        &mut rng,
    )
    .await
    .unwrap();
    let e = export::release(
        &store,
        &carried.exports[0],
        "2026-03-04",
        now_ms,
        30,
        ReleaseChannel::Cli,
        &mut rng,
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("budget_account \"acme\"") && e.contains("1.000000 of 1.000000"),
        "{e}"
    );
    // A raised budget for a month already spent from is refused, naming it.
    let raised = config(&db, vec![daily("epsilon = 0.5\nbudget = 3.0")]);
    let e = budget::check_accounts(&store, &raised.exports, now_ms, 30)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("exports (daily).budget") && e.contains("acme"),
        "{e}"
    );
}

#[tokio::test]
async fn each_visitor_counts_in_at_most_c_cells_a_day_and_l_events_each() {
    let (db, today, week) = setup("dp_bound").await;
    let (monday, _) = last_week(today);
    let raw = spec_toml(
        "dimensions = [\"pathname\"]\nmetrics = [\"visitors\", \"pageviews\", \"events\"]\nepsilon = 1.0\nbudget = 1.0\nmax_cells_per_day = 2\nmax_events_per_cell = 2",
    );
    let cfg = config(&db, vec![raw]);
    let spec = &cfg.exports[0];
    let p = export::period::parse(&week, Granularity::Week).unwrap();
    let cells = export::cells::fetch(&db.client(), spec, &p).await.unwrap();
    // The same bound, computed here from the raw rows.
    let rows: Vec<(u64, String, i64, String, String)> = db
        .client()
        .query(&format!(
            "SELECT visitor_id, toString(toDate(ts)), toInt64(toUnixTimestamp64Milli(ts)), pathname, toString(name) FROM events
             WHERE visitor_id != 0 AND toDate(ts) >= toDate('{}') AND toDate(ts) < toDate('{}')",
            format_day(monday),
            format_day(monday + 7)
        ))
        .fetch_all()
        .await
        .unwrap();
    // visitor-day -> page -> (first hit, pageviews, events)
    type Pages = BTreeMap<String, (i64, u64, u64)>;
    let mut per: HashMap<(u64, String), Pages> = HashMap::new();
    for (v, d, ts, page, name) in rows {
        let e = per
            .entry((v, d))
            .or_default()
            .entry(page)
            .or_insert((i64::MAX, 0, 0));
        e.0 = e.0.min(ts);
        e.1 += u64::from(name == "pageview");
        e.2 += 1;
    }
    let mut want: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for pages in per.values() {
        let mut first: Vec<(&i64, &String, &(i64, u64, u64))> =
            pages.iter().map(|(p, c)| (&c.0, p, c)).collect();
        first.sort();
        for (_, page, c) in first.into_iter().take(2) {
            let w = want.entry(page.clone()).or_default();
            w.0 += 1;
            w.1 += c.1.min(2);
            w.2 += c.2.min(2);
        }
    }
    let got: BTreeMap<String, (u64, u64, u64)> = cells
        .iter()
        .map(|c| (c.keys[0].clone(), (c.visitors, c.pageviews, c.events)))
        .collect();
    assert_eq!(got, want);
    // The bound bit: some visitor-day had more than two pages or events.
    let unbounded: u64 = per
        .values()
        .map(|p| p.values().map(|c| c.2).sum::<u64>())
        .sum();
    let bounded: u64 = want.values().map(|w| w.2).sum();
    assert!(bounded < unbounded, "{bounded} < {unbounded}");
    // The ledger names the sensitivity the noise was scaled to:
    // 7 days × 1 site × 2 cells × (1 + 2 + 2).
    let r = release_cli(&db, spec, &week, now(today), &mut StdRng::from_os_rng())
        .await
        .unwrap();
    let (note, sens): (String, u64) = db
        .client()
        .query(
            "SELECT d.note, b.sensitivity FROM disclosures AS d, export_budget AS b
             WHERE d.period = ? AND b.period = ? AND b.abandoned = 0 LIMIT 1",
        )
        .bind(&r.summary.period)
        .bind(&r.summary.period)
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(sens, 70);
    assert!(
        note.contains("L1 sensitivity 70 = 7 day(s) × 1 site(s) × 2 cell(s)"),
        "{note}"
    );
}

#[tokio::test]
async fn only_settled_periods_are_released() {
    let db = migrated("dp_settle").await;
    let cfg = config(&db, vec![daily("")]);
    let spec = &cfg.exports[0];
    // Today (reports older than two days expire).
    let today = tacit::model::clock::day_of(tacit::model::clock::Clock::now_ms(
        &tacit::model::clock::SystemClock,
    ));
    let end_ms = today as i64 * 86_400_000;
    let mut rng = StdRng::seed_from_u64(1);
    let client = db.client();
    let store = db.store();
    let yesterday = format_day(today - 1);
    // No collector reports: settle_seconds (300) after the end.
    let e = export::release(
        &store,
        spec,
        &yesterday,
        end_ms + 60_000,
        30,
        ReleaseChannel::Cli,
        &mut rng,
    )
    .await
    .err()
    .unwrap();
    assert!(
        matches!(e, ExportError::NotSettled { .. }) && e.to_string().contains("settle_seconds"),
        "{e}"
    );
    // A collector reports rows from before midnight still in its log.
    #[derive(clickhouse::Row, serde::Serialize)]
    struct Report {
        log_id: String,
        reported_at: i64,
        oldest_pending: i64,
        pending: u64,
    }
    let report = |at: i64, oldest: i64, pending: u64| Report {
        log_id: "0123456789abcdef".into(),
        reported_at: at,
        oldest_pending: oldest,
        pending,
    };
    let mut ins = client.insert::<Report>("wal_watermarks").await.unwrap();
    ins.write(&report(end_ms + 30_000, end_ms - 1_000, 3))
        .await
        .unwrap();
    ins.end().await.unwrap();
    let e = export::release(
        &store,
        spec,
        &yesterday,
        end_ms + 60_000,
        30,
        ReleaseChannel::Cli,
        &mut rng,
    )
    .await
    .err()
    .unwrap();
    assert!(
        e.to_string().contains("01234567 still holds 3 row(s)"),
        "{e}"
    );
    // Its next report: delivered. Released before the settle time.
    let mut ins = client.insert::<Report>("wal_watermarks").await.unwrap();
    ins.write(&report(end_ms + 45_000, end_ms + 45_000, 0))
        .await
        .unwrap();
    ins.end().await.unwrap();
    export::release(
        &store,
        spec,
        &yesterday,
        end_ms + 60_000,
        30,
        ReleaseChannel::Cli,
        &mut rng,
    )
    .await
    .unwrap();
    // A period whose first day is the one the retention is deleting today
    // is refused; the next day is not.
    let e =
        export::check_period(spec, &format_day(today - 30), end_ms + 3_600_000, 30).unwrap_err();
    assert!(matches!(e, ExportError::Expired { .. }), "{e}");
    export::check_period(spec, &format_day(today - 29), end_ms + 3_600_000, 30).unwrap();
}

/// A running collector reports its log: rows held and none left once
/// the database has them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_collector_reports_its_log() {
    let db = TestDb::new("dp_watermark");
    let app = start(db.config()).await;
    db.wait_rows("wal_watermarks", 1, 20).await;
    let (n, pending): (u64, u64) = db
        .client()
        .query("SELECT count(), max(pending) FROM wal_watermarks WHERE log_id != ''")
        .fetch_one()
        .await
        .unwrap();
    app.shutdown().await;
    assert!(n >= 1 && pending == 0, "{n} reports, {pending} pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_removes_the_partner_stores_of_the_site_and_policy_lists_them() {
    let (db, today, week) = setup("dp_purge").await;
    let raw = spec_toml("dimensions = [\"country\", \"device\"]\nmetrics = [\"visitors\"]");
    let cfg = config(&db, vec![raw]);
    let client = db.client();
    let store = db.store();
    release_cli(
        &db,
        &cfg.exports[0],
        &week,
        now(today),
        &mut StdRng::seed_from_u64(2),
    )
    .await
    .unwrap();
    // Another site's audit rows, which must stay.
    client
        .query("INSERT INTO export_atoms (partner, finest, site, day, keys) VALUES ('acme', ['country'], 'other.example', today(), ['US'])")
        .execute()
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let client = client.clone();
        async move { client.query(sql).fetch_one::<u64>().await.unwrap() }
    };
    let cells = "SELECT count() FROM export_cells WHERE has(sites, 'example.com')";
    let atoms = "SELECT count() FROM export_atoms WHERE site = 'example.com'";
    assert!(count(cells).await > 0 && count(atoms).await > 0);

    // `tacit policy`: both stores, their retention, and in the live schema
    // their tier and TTL (the event retention plus the linking horizon).
    let text = tacit::commands::notice::markdown(&cfg);
    for (t, kept) in [
        ("export_cells", "92 days after the end"),
        ("export_atoms", "123 days after"),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("| {t} |")))
            .unwrap_or_else(|| panic!("{t} in:\n{text}"));
        assert!(
            line.contains(kept) && line.contains("removed with a site's data"),
            "{line}"
        );
    }
    let live = tacit::store::tiers::live(&client, &db.name).await.unwrap();
    for (t, ttl) in [
        ("export_cells", "toIntervalDay(92)"),
        ("export_atoms", "toIntervalDay(123)"),
    ] {
        let l = live.iter().find(|l| l.table == t).unwrap();
        assert_eq!(l.tier, "partner audit");
        assert!(l.ttl.contains(ttl), "{t}: {}", l.ttl);
    }

    // The site is no longer configured: purge it.
    let mut gone = db.config();
    gone.sites.clear();
    let gone = gone.validate().unwrap();
    let req = tacit::commands::purge::Request {
        site: SITE.into(),
        before: None,
        reason: "owner's request".into(),
        dry_run: false,
        force: false,
    };
    let out =
        tacit::commands::purge::run(&gone, &store, &req, now(today), std::time::Duration::ZERO)
            .await
            .unwrap();
    assert!(
        out.found["export_cells"] > 0 && out.found["export_atoms"] > 0,
        "{:?}",
        out.found
    );
    assert_eq!((count(cells).await, count(atoms).await), (0, 0));
    assert_eq!(
        count("SELECT count() FROM export_atoms WHERE site = 'other.example'").await,
        1,
        "other sites' audit rows stay"
    );
}
