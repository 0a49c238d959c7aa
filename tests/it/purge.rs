//! `tacit purge`: one site's data leaves every table (and the write-ahead
//! log), the other site's figures stay as they were, the disclosure ledger
//! keeps its rows plus a note, and each attempt is recorded.

use std::collections::BTreeMap;

use rand::SeedableRng;
use tacit::commands::purge::{PurgeError, Request};
use tacit::config::RawSite;
use tacit::model::clock::{day_of, format_day, Clock, SystemClock};

use crate::common::*;

const A: &str = "a.example";
const B: &str = "b.example";

pub(crate) async fn hit(addr: std::net::SocketAddr, site: &str, path: &str, ua: &str) {
    let body = format!(r#"{{"n":"pageview","u":"https://{site}{path}","d":"{site}"}}"#);
    let (s, _, _) = post(
        addr,
        "/api/event",
        &[("user-agent", ua), ("content-type", "text/plain")],
        &body,
    )
    .await;
    assert_eq!(s, 202);
}

/// Rows of `site` in every table that holds site data.
async fn per_table(db: &TestDb, site: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (t, _) in tacit::commands::purge::tables() {
        let n: u64 = db
            .client()
            .query(&format!("SELECT count() FROM {t} WHERE site = ?"))
            .bind(site)
            .fetch_one()
            .await
            .unwrap();
        out.insert(t.to_string(), n);
    }
    out
}

fn request(site: &str) -> Request {
    Request {
        site: site.into(),
        before: None,
        reason: "controller request #42".into(),
        dry_run: false,
        force: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_a_site_removes_it_everywhere_and_keeps_the_evidence() {
    let db = TestDb::new("purge");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    raw.sites = [A, B]
        .iter()
        .map(|d| RawSite {
            domain: d.to_string(),
            email_key: "ab".repeat(32),
            ..Default::default()
        })
        .collect();
    raw.exports = vec![toml::from_str(&format!(
        "name = \"daily\"\npartner = \"acme\"\nsites = [\"{A}\"]\nperiod = \"day\"\nmin_visitors = 2\n\
         dimensions = [\"pathname\"]\nmetrics = [\"visitors\"]\nepsilon = 1.0\nbudget = 5.0"
    ))
    .unwrap()];
    let app = start(raw.clone()).await;
    for i in 0..20 {
        hit(app.beacon_addr, A, &format!("/a/{}", i % 3), BROWSER_UA).await;
        hit(app.beacon_addr, B, &format!("/b/{}", i % 3), BROWSER_UA).await;
    }
    // A bot: a dropped-hit count for each site.
    let bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    hit(app.beacon_addr, A, "/", bot).await;
    hit(app.beacon_addr, B, "/", bot).await;
    // An email open per site.
    for site in [A, B] {
        let (s, _, _) = get(
            app.beacon_addr,
            &format!("/e/o.gif?c=news&s={site}"),
            &[("user-agent", BROWSER_UA)],
        )
        .await;
        assert_eq!(s, 200);
    }
    db.wait_rows("events", 40, 20).await;
    db.wait_rows("email_events", 2, 20).await;
    // The bot counts are flushed on the writer's interval: wait for both
    // before ClickHouse goes away.
    db.wait_rows("dropped_hits", 2, 20).await;
    // The writer has its acknowledgement (not only ClickHouse): the 42
    // rows.
    wait_until("the writer to hear back", 20, async || {
        let m = &app.metrics;
        m.rows_written.load(std::sync::atomic::Ordering::SeqCst) >= 42
    })
    .await;
    // One more hit of A stays in the log: ClickHouse is down at shutdown.
    proxy.down();
    hit(app.beacon_addr, A, "/late", BROWSER_UA).await;
    app.shutdown().await;
    proxy.up();
    let client = db.client();
    let store = db.store();
    let now = settled_now(&db).await;
    let today = day_of(now);
    // Today's visits recomputed from its events, as its rollup does.
    tacit::analytics::sessions::sessionize_day(&store, today, now as u64)
        .await
        .unwrap();
    // Today rolled up ahead of time, so every aggregate table holds rows.
    tacit::analytics::rollup::sync_funnels(
        &store,
        &[tacit::analytics::rollup::FunnelDef {
            site: A.to_string(),
            name: "f".to_string(),
            steps: vec!["/".into(), "/late".into()],
        }],
    )
    .await
    .unwrap();
    tacit::analytics::rollup::rollup_day(&store, today, 2)
        .await
        .unwrap();
    // A noisy partner release of A: a ledger row and a cached file.
    let cfg = raw.clone().validate().unwrap();
    tacit::export::release(
        &store,
        &cfg.exports[0],
        &format_day(today),
        now + 86_400_000,
        30,
        tacit::export::ReleaseChannel::Cli,
        &mut rand::rngs::StdRng::seed_from_u64(3),
    )
    .await
    .unwrap();
    // An import of A done (its days).
    client
        .query("INSERT INTO import_days (import_id, site, day, tier, events) SELECT 1, ?, today(), 'event', 1")
        .bind(A)
        .execute()
        .await
        .unwrap();
    let a_before = per_table(&db, A).await;
    // B's figures as analysts see them (the sessionizer may rewrite the
    // sessions table meanwhile, under a new version).
    let figures = |site: &'static str| {
        let db = &db;
        async move {
            let mut f = per_table(db, site).await;
            let visits: u64 = db
                .client()
                .query("SELECT count() FROM analytics_visits WHERE site = ?")
                .bind(site)
                .fetch_one()
                .await
                .unwrap();
            f.insert("sessions".into(), visits);
            f
        }
    };
    let b_before = figures(B).await;
    for (t, n) in &a_before {
        assert!(*n > 0, "{t} holds rows of {A} before the purge");
    }
    assert_eq!(db.count("export_releases").await, 1);

    // A still configured: refused without --force. An unknown site: refused.
    let still =
        tacit::commands::purge::run(&cfg, &store, &request(A), now, std::time::Duration::ZERO)
            .await;
    assert!(
        matches!(still, Err(PurgeError::StillConfigured(_))),
        "{still:?}"
    );
    let mut without_a = raw.clone();
    without_a.sites.retain(|s| s.domain != A);
    without_a.exports.clear();
    let cfg = without_a.validate().unwrap();
    let unknown = tacit::commands::purge::run(
        &cfg,
        &store,
        &request("c.example"),
        now,
        std::time::Duration::ZERO,
    )
    .await;
    assert!(
        matches!(unknown, Err(PurgeError::UnknownSite(_))),
        "{unknown:?}"
    );

    // The log still holds a row of A (the late hit): the purge waits, then
    // says so.
    let blocked = tacit::commands::purge::run(
        &cfg,
        &store,
        &request(A),
        now,
        std::time::Duration::from_millis(300),
    )
    .await;
    assert!(
        matches!(blocked, Err(PurgeError::InLog { rows: 1, .. })),
        "{blocked:?}"
    );
    assert_eq!(per_table(&db, A).await, a_before, "nothing deleted yet");

    // --dry-run, through the binary: prints the counts, changes nothing.
    let cfg_path = db.dir.join("tacit.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[server]\ndata_dir = {:?}\n[clickhouse]\nurl = {:?}\ndatabase = {:?}\n[[sites]]\ndomain = \"{B}\"\n",
            db.dir.join("elsewhere").to_string_lossy(),
            db.url,
            db.name
        ),
    )
    .unwrap();
    let out = crate::support::tacit_command()
        .args([
            "--config",
            cfg_path.to_str().unwrap(),
            "purge",
            "--site",
            A,
            "--dry-run",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("would remove"), "{text}");
    for (t, n) in &a_before {
        assert!(
            text.contains(&format!("{t:<16} {n}")),
            "{t} {n} in:\n{text}"
        );
    }
    assert_eq!(per_table(&db, A).await, a_before, "dry run changed nothing");
    let refused = crate::support::tacit_command()
        .args(["--config", cfg_path.to_str().unwrap(), "purge", "--site", B])
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(2),
        "a configured site needs --force"
    );

    // Start tacit again: it delivers the last row; the rerun finishes.
    let app = start(raw.clone()).await;
    db.wait_rows("events", 41, 20).await;
    app.shutdown().await;
    // Recompute today's visits again with the delivered row, as at the
    // start, so B's figures compare.
    tacit::analytics::sessions::sessionize_day(&store, today, SystemClock.now_ms() as u64)
        .await
        .unwrap();
    let done = tacit::commands::purge::run(
        &cfg,
        &store,
        &request(A),
        now + 1_000,
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(done.found["events"], 21);
    for (t, n) in per_table(&db, A).await {
        assert_eq!(n, 0, "{t} still holds rows of {A}");
    }
    assert_eq!(
        db.count("export_releases").await,
        0,
        "the cached release of A is gone"
    );
    assert_eq!(figures(B).await, b_before, "{B} is untouched");
    // The ledger keeps the release and notes the purge.
    let ledger: Vec<(String, String)> = client
        .query("SELECT channel, note FROM disclosures ORDER BY channel = 'purge', time")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    // The noisy release's note states the noise it was released with.
    assert!(
        ledger[0].0 == "cli"
            && ledger[0]
                .1
                .starts_with("discrete Laplace noise, epsilon 1 over L1 sensitivity 1"),
        "{ledger:?}"
    );
    assert_eq!(
        ledger[1],
        ("purge".to_string(), "controller request #42".to_string())
    );
    let report = tacit::export::ledger::report(
        tacit::model::clock::civil_from_days(today as i64).0 as i32,
        &tacit::export::ledger::for_year(
            &client,
            tacit::model::clock::civil_from_days(today as i64).0 as i32,
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        report.third_parties.len(),
        1,
        "a purge is not a third party"
    );
    assert!(report.purges[0].contains(A) && report.purges[0].contains("#42"));
    // The attempts are on record: one blocked by the log, one done.
    let recorded = tacit::commands::purge::recorded(&client).await.unwrap();
    let statuses: Vec<&str> = recorded.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, vec!["incomplete", "done"]);
    assert_eq!(recorded[0].tables_left, vec!["write-ahead log".to_string()]);
    assert!(!recorded[1].completed.is_empty());
    drop(proxy);
}
