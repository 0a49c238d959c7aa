//! Unit tests of `log.rs`.
use super::*;

fn cfg(dir: &Path) -> LogConfig {
    LogConfig {
        dir: dir.to_path_buf(),
        segment_bytes: 200,
        max_bytes: 1 << 20,
        buffer_max_bytes: 1 << 20,
        commit_max_rows: 1000,
        commit_max_delay: Duration::ZERO,
        sync_every: None,
    }
}

fn tmp(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("tacit-log-{name}-"))
        .tempdir()
        .unwrap()
}

#[tokio::test]
async fn appended_rows_are_durable_and_recovered_after_a_tear() {
    let tmp_dir = tmp("tear");
    let dir = tmp_dir.path().to_path_buf();
    let m = Arc::new(Metrics::default());
    let (log, rec) = Log::open(cfg(&dir), m.clone()).unwrap();
    assert_eq!(rec.records, 0);
    for i in 0..20u8 {
        let w = log.append(&[i; 30], true).unwrap().unwrap();
        Log::wait_durable(w).await.unwrap();
    }
    drop(log);
    let ids = segment_ids(&dir).unwrap();
    assert!(ids.len() > 2, "segments rolled at 200 bytes: {ids:?}");
    // Tear the last segment with records mid-record.
    let last = segment_path(&dir, *ids.last().unwrap());
    let n = fs::metadata(&last).unwrap().len();
    let f = OpenOptions::new().write(true).open(&last).unwrap();
    f.set_len(n - 5).unwrap();
    drop(f);
    let (log, rec) = Log::open(cfg(&dir), m.clone()).unwrap();
    assert_eq!(rec.records, 19, "every whole record before the tear");
    assert_eq!(rec.discarded_bytes, 30 + record::FRAME as u64 - 5);
    assert_eq!(
        m.wal_discarded_bytes.load(Ordering::Relaxed),
        rec.discarded_bytes
    );
    drop(log);
}

#[tokio::test]
async fn a_full_log_refuses_rows() {
    let tmp_dir = tmp("full");
    let dir = tmp_dir.path().to_path_buf();
    let mut c = cfg(&dir);
    c.max_bytes = HEADER + 3 * (record::FRAME as u64 + 10);
    let (log, _) = Log::open(c, Arc::new(Metrics::default())).unwrap();
    for _ in 0..3 {
        let w = log.append(&[1; 10], true).unwrap().unwrap();
        Log::wait_durable(w).await.unwrap();
    }
    assert_eq!(
        log.append(&[1; 10], false).unwrap_err(),
        AppendError::LogFull
    );
    log.close();
    assert_eq!(
        log.append(&[1; 10], false).unwrap_err(),
        AppendError::Closed
    );
}

#[tokio::test]
async fn one_process_per_log() {
    let tmp_dir = tmp("lock");
    let dir = tmp_dir.path().to_path_buf();
    let m = Arc::new(Metrics::default());
    let (first, _) = Log::open(cfg(&dir), m.clone()).unwrap();
    assert!(matches!(
        Log::open(cfg(&dir), m.clone()),
        Err(LogError::InUse(_))
    ));
    drop(first);
    assert!(Log::open(cfg(&dir), m).is_ok(), "free again once closed");
}

#[tokio::test]
async fn process_mode_answers_once_written_and_syncs_within_the_interval() {
    let tmp_dir = tmp("process");
    let dir = tmp_dir.path().to_path_buf();
    let m = Arc::new(Metrics::default());
    let mut c = cfg(&dir);
    c.segment_bytes = 1 << 20;
    c.sync_every = Some(Duration::from_secs(1));
    let (log, _) = Log::open(c.clone(), m.clone()).unwrap();
    let mut durable = log.durable();
    for i in 0..10u8 {
        // Written before `append` returns: nothing to wait for.
        assert!(log.append(&[i; 30], true).unwrap().is_none());
    }
    assert_eq!(
        m.wal_syncs.load(Ordering::Relaxed),
        0,
        "answered before any sync"
    );
    assert_eq!(m.wal_rows.load(Ordering::Relaxed), 10);
    // The written end reaches the writer without a sync.
    let want = HEADER + 10 * (record::FRAME as u64 + 30);
    tokio::time::timeout(
        Duration::from_secs(5),
        durable.wait_for(|d| d.end.off == want),
    )
    .await
    .expect("the written end is published")
    .unwrap();
    // With no more rows, the periodic sync still comes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while m.wal_syncs.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "no periodic sync");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(m.wal_sync_failures.load(Ordering::Relaxed), 0);
    drop(log);
    let (_log, rec) = Log::open(c, m).unwrap();
    assert_eq!(rec.records, 10);
}

#[tokio::test]
async fn process_mode_rolls_to_segments_the_timer_made_ahead() {
    let dir = tmp("process-roll");
    let m = Arc::new(Metrics::default());
    let mut c = cfg(dir.path());
    c.segment_bytes = 300;
    c.sync_every = Some(Duration::from_millis(50));
    let (log, _) = Log::open(c.clone(), m.clone()).unwrap();
    for i in 0..40u8 {
        assert!(log.append(&[i; 30], false).unwrap().is_none());
        // Time for the timer thread's ticks: it makes the next segment.
        tokio::time::sleep(Duration::from_millis(8)).await;
    }
    drop(log);
    let ids = super::segment_ids(dir.path()).unwrap();
    assert!(ids.len() >= 4, "rolled: {ids:?}");
    for id in &ids {
        let len = fs::metadata(super::segment_path(dir.path(), *id))
            .unwrap()
            .len();
        assert!(
            len > HEADER,
            "segment {id} holds no row: no spare is left behind"
        );
    }
    assert!(
        m.wal_syncs.load(Ordering::Relaxed) >= ids.len() as u64 - 1,
        "every sealed segment synced"
    );
    assert_eq!(m.wal_sync_failures.load(Ordering::Relaxed), 0);
    let (_log, rec) = Log::open(c, m).unwrap();
    assert_eq!(
        rec.records, 40,
        "every row found again, in order of segments"
    );
    let _ = fs::remove_dir_all(&dir);
}
