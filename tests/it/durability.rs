//! Nothing accepted is lost: a clean shutdown under a burst, and a
//! ClickHouse outage followed by recovery (every hit lands exactly once).

use std::time::{Duration, Instant};

use crate::common::*;

async fn burst(addr: std::net::SocketAddr, total: usize, workers: usize, prefix: &str) {
    let per = total / workers;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                beacon(addr, &format!("/{prefix}/{w}/{i}")).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_shutdown_loses_nothing_under_a_burst() {
    let db = TestDb::new("burst");
    let mut raw = db.config();
    // A long flush period: the rows are still in memory when shutdown starts.
    raw.sink.flush_interval_ms = 60_000;
    raw.sink.batch_rows = 3_000;
    let app = start(raw).await;
    burst(app.beacon_addr, 10_000, 50, "b").await;
    assert_eq!(
        app.metrics
            .hits_accepted
            .load(std::sync::atomic::Ordering::SeqCst),
        10_000
    );
    app.shutdown().await;
    assert_eq!(db.count("events").await, 10_000);
    let distinct: u64 = db
        .client()
        .query("SELECT uniqExact(pathname) FROM events")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(distinct, 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_outage_then_recovery_lands_every_hit_exactly_once() {
    let db = TestDb::new("outage");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    let app = start(raw).await;

    burst(app.beacon_addr, 100, 4, "before").await;
    db.wait_rows("events", 100, 10).await;

    proxy.down();
    burst(app.beacon_addr, 1_000, 10, "during").await;
    // The writer fails, spools to disk, and says so in its metrics.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app
        .metrics
        .rows_spooled
        .load(std::sync::atomic::Ordering::SeqCst)
        < 1_000
    {
        assert!(
            Instant::now() < deadline,
            "rows never spooled: {}",
            app.metrics.render()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(std::fs::read_dir(db.dir.join("spool")).unwrap().count() > 0);
    assert!(app.metrics.render().contains("tacit_clickhouse_up 0"));
    assert_eq!(db.count("events").await, 100);

    proxy.up();
    burst(app.beacon_addr, 100, 4, "after").await;
    db.wait_rows("events", 1_200, 20).await;
    // Shutdown drains the writer and the spool: any duplicate would be in.
    app.shutdown().await;
    assert_eq!(db.count("events").await, 1_200);
    let distinct: u64 = db
        .client()
        .query("SELECT uniqExact(pathname) FROM events")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(distinct, 1_200);
    let leftover = std::fs::read_dir(db.dir.join("spool")).unwrap().count();
    assert_eq!(leftover, 0, "spool emptied after replay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spooled_rows_survive_a_restart() {
    let db = TestDb::new("restart");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    let app = start(raw.clone()).await;
    proxy.down();
    burst(app.beacon_addr, 300, 3, "x").await;
    app.shutdown().await; // ClickHouse unreachable: everything goes to the spool
    assert_eq!(db.count("events").await, 0);
    proxy.up();
    let app = start(raw).await; // replays the spool left by the first process
    db.wait_rows("events", 300, 20).await;
    app.shutdown().await;
    assert_eq!(db.count("events").await, 300);
}
