//! Nothing answered 2xx is lost, and nothing lands twice: a clean shutdown
//! under a burst, a ClickHouse outage, a restart with rows in the log, a
//! torn log tail, an insert whose reply is lost, a ClickHouse that hangs,
//! a row ClickHouse refuses, a log at its byte bound, and a full disk
//! (skipped, with the reason printed, where a tmpfs cannot be mounted).
//! (A real SIGKILL is in `crash.rs`.)

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tacit::model::clock::{format_day, Clock, SystemClock};
use tacit::sink::row::InsertTable;
use tacit::sink::{quarantine, record};

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

/// Every stored path is distinct, and there are `n` of them.
async fn exactly_once(db: &TestDb, n: u64) {
    let (count, distinct): (u64, u64) = db
        .client()
        .query("SELECT count(), uniqExact(pathname) FROM events")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!((count, distinct), (n, n), "rows, distinct paths");
}

/// The log segment with the most records in `dir`, and its bytes.
fn fullest_segment(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>) {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal") && p.is_file())
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .max_by_key(|(_, b)| b.len())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_shutdown_loses_nothing_under_a_burst() {
    let db = TestDb::new("burst");
    let mut raw = db.config();
    // A long flush period: the rows are still unsent when shutdown starts.
    raw.sink.flush_interval_ms = 60_000;
    raw.sink.batch_rows = 3_000;
    let app = start(raw).await;
    burst(app.beacon_addr, 10_000, 50, "b").await;
    assert_eq!(app.metrics.hits_accepted.load(Ordering::SeqCst), 10_000);
    let m = app.metrics.clone();
    app.shutdown().await;
    exactly_once(&db, 10_000).await;
    assert!(
        m.wal_syncs.load(Ordering::SeqCst) < 10_000,
        "group commit: {} syncs for 10000 rows",
        m.wal_syncs.load(Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_outage_then_recovery_lands_every_hit_exactly_once() {
    let db = TestDb::new("outage");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    raw.sink.insert_timeout_ms = 5_000;
    let app = start(raw).await;

    burst(app.beacon_addr, 100, 4, "before").await;
    db.wait_rows("events", 100, 10).await;

    proxy.down();
    // Hits are still answered: the log takes them.
    burst(app.beacon_addr, 1_000, 10, "during").await;
    let m = app.metrics.clone();
    wait_until("a failed write", 10, async || {
        m.flush_errors.load(Ordering::SeqCst) >= 1
    })
    .await;
    assert!(m.render().contains("tacit_clickhouse_up 0"));
    // At least the outage's rows wait in the log (the last batch before
    // it may be waiting too, if its reply was slower than the timeout).
    wait_until("1000 rows waiting in the log", 20, async || {
        m.wal_unacked_rows.load(Ordering::SeqCst) >= 1_000
    })
    .await;
    assert_eq!(db.count("events").await, 100);

    proxy.up();
    burst(app.beacon_addr, 100, 4, "after").await;
    db.wait_rows("events", 1_200, 20).await;
    app.shutdown().await;
    exactly_once(&db, 1_200).await;
    assert_eq!(m.wal_unacked_rows.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_in_the_log_survive_a_restart() {
    let db = TestDb::new("restart");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    let app = start(raw.clone()).await;
    proxy.down();
    burst(app.beacon_addr, 300, 3, "x").await;
    app.shutdown().await; // ClickHouse unreachable: the rows stay in the log
    assert_eq!(db.count("events").await, 0);
    proxy.up();
    let app = start(raw).await; // delivers the log left by the first process
    db.wait_rows("events", 300, 20).await;
    let m = app.metrics.clone();
    app.shutdown().await;
    exactly_once(&db, 300).await;
    assert_eq!(m.rows_replayed.load(Ordering::SeqCst), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_is_cut_at_the_last_whole_record() {
    let db = TestDb::new("torn");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    let app = start(raw.clone()).await;
    proxy.down();
    burst(app.beacon_addr, 50, 1, "t").await;
    app.shutdown().await;
    // Tear the last record, as a crash in the middle of a write would.
    let (path, bytes) = fullest_segment(&db.dir.join("wal"));
    let body = &bytes[record::HEADER as usize..];
    let (valid, n) = record::valid_prefix(body);
    assert_eq!((valid, n), (body.len(), 50));
    let mut last = 0;
    while let record::Next::Record(_, used) = record::next(&body[last..]) {
        if last + used == body.len() {
            break;
        }
        last += used;
    }
    let record_len = body.len() - last;
    let cut = 7;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(bytes.len() as u64 - cut)
        .unwrap();
    proxy.up();
    let app = start(raw).await;
    assert_eq!(
        app.metrics.wal_discarded_bytes.load(Ordering::SeqCst),
        record_len as u64 - cut,
        "the torn record's bytes are counted"
    );
    assert!(app.metrics.render().contains(&format!(
        "tacit_wal_discarded_bytes_total {}",
        record_len as u64 - cut
    )));
    db.wait_rows("events", 49, 20).await;
    app.shutdown().await;
    exactly_once(&db, 49).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_whose_reply_is_lost_is_not_stored_twice() {
    let db = TestDb::new("lostreply");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    let app = start(raw).await;
    proxy.lose_replies(2);
    burst(app.beacon_addr, 200, 4, "r").await;
    let m = app.metrics.clone();
    let lost = proxy.lost.clone();
    wait_until("two lost replies", 20, async || {
        lost.load(Ordering::SeqCst) >= 2
    })
    .await;
    db.wait_rows("events", 200, 20).await;
    app.shutdown().await;
    // The inserts committed, their replies never came, the writer sent the
    // same rows again with the same token: ClickHouse kept one copy.
    exactly_once(&db, 200).await;
    assert!(m.flush_errors.load(Ordering::SeqCst) >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_clickhouse_times_out_and_hits_keep_being_accepted() {
    let db = TestDb::new("hang");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    raw.sink.insert_timeout_ms = 500;
    raw.sink.stall_timeout_ms = 800;
    let app = start(raw).await;
    proxy.hang();
    let started = Instant::now();
    burst(app.beacon_addr, 200, 4, "h").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "hits are answered while ClickHouse hangs"
    );
    let m = app.metrics.clone();
    wait_until("a timeout", 10, async || {
        m.flush_errors.load(Ordering::SeqCst) >= 1
    })
    .await;
    // Not ready: the writer has made no progress for the stall timeout.
    wait_until("readyz to say the writer stalled", 10, async || {
        let (s, _, b) = get(app.admin_addr, "/readyz", &[]).await;
        s == 503 && String::from_utf8_lossy(&b).contains("stalled")
    })
    .await;
    assert_eq!(db.count("events").await, 0);
    proxy.up();
    db.wait_rows("events", 200, 20).await;
    wait_until("ready again once the writer catches up", 10, async || {
        get(app.admin_addr, "/readyz", &[]).await.0 == 200
    })
    .await;
    app.shutdown().await;
    exactly_once(&db, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_clickhouse_refuses_is_quarantined_and_the_rest_land() {
    let db = TestDb::new("poison");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    let app = start(raw.clone()).await;
    proxy.down();
    burst(app.beacon_addr, 20, 1, "before").await;
    app.shutdown().await;
    // A row that is well framed but is not an events row: a site string
    // that claims 200 bytes and has 3.
    let (path, _) = fullest_segment(&db.dir.join("wal"));
    let mut poison = Vec::new();
    record::frame(&mut poison, &[200, 1, b'a', b'b', b'c']);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, &poison).unwrap();
    drop(f);
    proxy.up();
    let app = start(raw).await;
    burst(app.beacon_addr, 20, 1, "after").await;
    db.wait_rows("events", 40, 20).await;
    let m = app.metrics.clone();
    app.shutdown().await;
    exactly_once(&db, 40).await;
    assert_eq!(m.rows_quarantined.load(Ordering::SeqCst), 1);
    // Its time cannot be read: it is in the file of the day it was refused.
    let wal = db.dir.join("wal");
    let today = today(&db).await;
    let files = quarantine::list(&wal, today).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].day, format_day(today));
    let kept = quarantine::read(&files[0].path).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        kept[0].payload,
        &poison[record::FRAME..],
        "the refused row is kept, byte for byte"
    );
    assert!(
        kept[0].reason.starts_with("ClickHouse error"),
        "with the reason as logged: {:?}",
        kept[0].reason
    );
}

/// Rows moved to the quarantine (as if refused while the schema was
/// behind) are re-sent by `tacit quarantine replay`: they land, leave the
/// file, and a second replay of the same file stores nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantine_file_replayed_twice_is_stored_once() {
    let db = TestDb::new("qreplay");
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.clickhouse.url = proxy.url();
    let app = start(raw).await;
    proxy.down();
    burst(app.beacon_addr, 5, 1, "q").await;
    app.shutdown().await;
    let wal = db.dir.join("wal");
    let today = today(&db).await;
    let metrics = tacit::telemetry::metrics::Metrics::default();
    let mut n = 0;
    for id in tacit::sink::log::segment_ids(&wal).unwrap() {
        let path = tacit::sink::log::segment_path(&wal, id);
        let bytes = std::fs::read(&path).unwrap();
        let mut at = record::HEADER as usize;
        while let record::Next::Record(p, used) = record::next(&bytes[at..]) {
            quarantine::keep(&wal, today, InsertTable::Events, p, "test", &metrics);
            at += used;
            n += 1;
        }
        std::fs::remove_file(path).unwrap();
    }
    assert_eq!(n, 5);
    let files = quarantine::list(&wal, today).unwrap();
    assert_eq!((files.len(), files[0].rows), (1, 5));
    assert_eq!(files[0].sites["example.com"], 5);
    let copy = std::fs::read(&files[0].path).unwrap();
    let t = Duration::from_secs(10);
    let day = format_day(today);
    let r = quarantine::replay(&db.client(), &wal, &day, SystemClock.now_ms(), t)
        .await
        .unwrap();
    assert_eq!((r.stored, r.refused), (5, 0));
    assert!(!files[0].path.exists(), "rows that land leave the file");
    assert_eq!(db.count("events").await, 5);
    // The same file again (a replay cut short before the file was
    // rewritten): the tokens are the same, nothing lands twice.
    std::fs::write(&files[0].path, &copy).unwrap();
    let r = quarantine::replay(&db.client(), &wal, &day, SystemClock.now_ms(), t)
        .await
        .unwrap();
    assert_eq!(r.stored, 5);
    exactly_once(&db, 5).await;
    // Once the site is purged (a fence over its rows), a replay sends none
    // of them back: they leave the file unsent.
    let now = SystemClock.now_ms();
    tacit::store::fence::raise(&db.client(), "example.com", now, now, 32)
        .await
        .unwrap();
    db.client()
        .query("TRUNCATE TABLE events")
        .execute()
        .await
        .unwrap();
    std::fs::write(&files[0].path, &copy).unwrap();
    let r = quarantine::replay(&db.client(), &wal, &day, now, t)
        .await
        .unwrap();
    assert_eq!((r.stored, r.fenced), (0, 5));
    assert!(!files[0].path.exists());
    assert_eq!(db.count("events").await, 0);
}

/// A tmpfs of `kib` KiB at `dir`, unmounted on drop; `None` where this
/// process may not mount.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, kib: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// What fills up in [`full_log`].
#[derive(Clone, Copy, PartialEq)]
enum Limit {
    /// The disk under the log: a 256 KiB tmpfs (needs the right to mount).
    Disk,
    /// The log's own byte bound (`sink.wal_max_bytes`).
    LogBound,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_and_loses_nothing_acknowledged() {
    full_log("diskfull", "wal", Limit::Disk).await;
}

/// The same with `durability = "process"`: each handler's own write fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_in_process_durability_answers_503_and_loses_nothing() {
    full_log("diskfull_process", "process", Limit::Disk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_at_its_byte_bound_answers_503_and_loses_nothing_acknowledged() {
    full_log("logfull", "wal", Limit::LogBound).await;
}

async fn full_log(name: &str, durability: &str, limit: Limit) {
    let db = TestDb::new(name);
    let proxy = Proxy::start(&db.url).await;
    let mut raw = db.config();
    raw.sink.durability = durability.into();
    raw.clickhouse.url = proxy.url();
    raw.sink.wal_segment_bytes = 32 << 10;
    let wal = db.dir.join("wal");
    let tmpfs = match limit {
        Limit::Disk => match Tmpfs::mount(&wal, 256) {
            Some(t) => Some(t),
            None => {
                return skipped(
                    name,
                    "cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN); a full disk is not tested",
                )
            }
        },
        Limit::LogBound => {
            raw.sink.wal_max_bytes = 256 << 10;
            None
        }
    };
    let app = start(raw).await;
    proxy.down();
    // Short numbers: a long one in a path is redacted by the policy.
    let body = |i: usize| {
        format!(
            r#"{{"n":"pageview","u":"https://example.com/full/{}/{}","d":"example.com"}}"#,
            i / 1000,
            i % 1000
        )
    };
    let headers = [("user-agent", BROWSER_UA), ("content-type", "text/plain")];
    let (mut acked, mut refused, mut reason) = (0usize, 0usize, String::new());
    for i in 0..20_000 {
        let (s, _, b) = post(app.beacon_addr, "/api/event", &headers, &body(i)).await;
        match s {
            202 => acked += 1,
            503 => {
                refused += 1;
                reason = String::from_utf8_lossy(&b).trim().to_string();
                if refused >= 20 {
                    break;
                }
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        refused >= 20 && acked > 100,
        "{acked} acknowledged, {refused} refused"
    );
    let m = app.metrics.clone();
    match limit {
        Limit::Disk => {
            assert!(reason.contains("disk"), "{reason}");
            assert!(m.wal_write_failed_rows.load(Ordering::SeqCst) >= 20);
            assert!(m.render().contains("tacit_wal_write_failed_total"));
        }
        Limit::LogBound => {
            assert!(reason.contains("log full"), "{reason}");
            assert!(m.log_full.load(Ordering::SeqCst) >= 20);
        }
    }
    // ClickHouse comes back: the log drains, space frees, hits are taken again.
    proxy.up();
    db.wait_rows("events", acked as u64, 30).await;
    let mut again = 0;
    for i in 0..50 {
        let (s, _, _) = post(app.beacon_addr, "/api/event", &headers, &body(100_000 + i)).await;
        if s == 202 {
            again += 1;
        }
    }
    assert_eq!(again, 50, "accepted again once the log drained");
    app.shutdown().await;
    exactly_once(&db, acked as u64 + 50).await;
    drop(tmpfs);
}
