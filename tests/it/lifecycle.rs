//! Migrations, readiness, and the binary's SIGTERM shutdown.

use std::process::Command;
use std::sync::Arc;

use tacit::app::{AppError, Options};
use tacit::model::clock::SystemClock;

use crate::common::*;

#[tokio::test]
async fn migrate_is_idempotent_and_serve_refuses_pending() {
    let db = TestDb::new("migrate");
    let cfg = db.config().validate().unwrap();
    // A fresh database: serve refuses, naming the pending files.
    let err = match tacit::app::start(&cfg, Arc::new(SystemClock), Options::default()).await {
        Err(e) => e,
        Ok(_) => panic!("serve started with pending migrations"),
    };
    assert!(matches!(err, AppError::Pending(_)));
    let msg = err.to_string();
    assert!(
        msg.contains(tacit::store::migrate::BASELINE) && msg.contains("--migrate"),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1);

    let pending: Vec<String> = tacit::store::migrate::pending(&cfg.clickhouse)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    let first = tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    assert_eq!(first, pending);
    let second = tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    assert!(second.is_empty());
    assert_eq!(db.count("schema_migrations").await, first.len() as u64);
    assert!(tacit::store::migrate::pending(&cfg.clickhouse)
        .await
        .unwrap()
        .is_empty());

    let app = tacit::app::start(&cfg, Arc::new(SystemClock), Options::default())
        .await
        .unwrap();
    let (s, _, _) = get(app.admin_addr, "/healthz", &[]).await;
    assert_eq!(s, 200);
    let (s, _, b) = get(app.admin_addr, "/readyz", &[]).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let (s, _, b) = get(app.admin_addr, "/metrics", &[]).await;
    assert_eq!(s, 200);
    assert!(String::from_utf8_lossy(&b).contains("tacit_wal_bytes"));
    app.shutdown().await;
}

#[tokio::test]
async fn readyz_fails_when_clickhouse_is_unreachable() {
    let db = TestDb::new("ready");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    let app = start(raw).await;
    let (s, _, _) = get(app.admin_addr, "/readyz", &[]).await;
    assert_eq!(s, 200);
    proxy.down();
    let (s, _, b) = get(app.admin_addr, "/readyz", &[]).await;
    assert_eq!(s, 503);
    assert!(String::from_utf8_lossy(&b).contains("unreachable"));
    let (s, _, _) = get(app.admin_addr, "/healthz", &[]).await;
    assert_eq!(s, 200, "alive even when ClickHouse is not");
    let (s, _, _) = get(app.admin_addr, "/readyz/ingest", &[]).await;
    assert_eq!(s, 200, "still taking hits: the log absorbs the outage");
    proxy.up();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_every_accepted_hit_and_exits_zero() {
    let db = TestDb::new("sigterm");
    let cfg_path = db.dir.join("tacit.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\npartner_listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n\
             [clickhouse]\nurl = {:?}\ndatabase = {:?}\n[sink]\nflush_interval_ms = 60000\n\
             [log]\nformat = \"json\"\n[[sites]]\ndomain = \"example.com\"\n",
            db.dir.to_string_lossy(),
            db.url,
            db.name
        ),
    )
    .unwrap();
    let (mut child, addr, rx) = spawn_tacit(&cfg_path);
    for i in 0..500 {
        beacon(addr, &format!("/sig/{i}")).await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    assert_eq!(db.count("events").await, 500);
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        rest.iter().any(|l| l.contains("shutdown complete")),
        "{rest:?}"
    );
}

#[tokio::test]
async fn event_retention_follows_the_policy() {
    let db = TestDb::new("ttl");
    let mut raw = db.config();
    raw.policy.event_ttl_days = 7;
    raw.policy.aggregate_ttl_months = 13;
    let app = start(raw).await;
    app.shutdown().await;
    let engine = |t: &'static str| {
        let db = &db;
        async move {
            db.client()
                .query("SELECT engine_full FROM system.tables WHERE database = ? AND name = ?")
                .bind(&db.name)
                .bind(t)
                .fetch_one::<String>()
                .await
                .unwrap()
        }
    };
    // Every table the tier classification gives a policy lifetime.
    let mut checked = 0;
    for t in tacit::store::tiers::TABLES {
        let want = match t.lifetime {
            tacit::store::tiers::Lifetime::EventDays(_) => "toIntervalDay(7)".to_string(),
            tacit::store::tiers::Lifetime::AggregateMonths(_) => "toIntervalMonth(13)".to_string(),
            // The partner-audit store: the event retention plus the horizon.
            tacit::store::tiers::Lifetime::Horizon(_, extra) => {
                format!("toIntervalDay({})", 7 + extra)
            }
            tacit::store::tiers::Lifetime::Fixed => continue,
        };
        let e = engine(t.name).await;
        assert!(e.contains(&want), "{}: {e}", t.name);
        checked += 1;
    }
    assert!(checked >= 9, "{checked} tables checked");
}
