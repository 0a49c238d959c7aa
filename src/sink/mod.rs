//! From an anonymous event to ClickHouse, without losing what was
//! acknowledged. A handler encodes its row once (`RowBinary`) and appends
//! it to the write-ahead log ([`log`]). With `durability = "wal"` it answers
//! only once the row is synced to disk (group commit); with `"process"`
//! once the row is in the log's file (it survives the process being
//! killed; the file is synced every `wal_sync_interval`, so a power loss
//! can take the last interval); with `"memory"` at once. The writer ([`writer`]) reads the log back in order and inserts it
//! with deduplication tokens made of log ranges, so retries and replays
//! after a crash land exactly once; the cursor ([`cursor`]) records how far
//! ClickHouse has acknowledged. The log is the only buffer: it absorbs
//! outages and bursts, bounded by bytes on disk. Dropped-hit counts live in
//! [`drops`].
//!
//! Files, under `<data_dir>/wal/`: `NNNNNNNNNNNNNNNN.wal` segments,
//! `cursor`, `log-id` (makes tokens unique to this log), `quarantine/`
//! (rows ClickHouse refused as invalid, a file per day, deleted at the
//! event TTL: [`quarantine`]).

mod batch;
mod classify;
pub mod cursor;
mod direct;
pub mod drops;
mod health;
pub mod log;
pub mod native;
pub mod quarantine;
pub mod record;
mod relay;
pub mod row;
mod segment;
pub mod visit_flush;
pub mod watermark;
pub mod writer;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::sync::oneshot;

use crate::config::{Durability, SinkConfig};
use crate::model::backoff::{Backoff, Retry};
use crate::model::clock::SharedClock;
use crate::model::DropReason;
use crate::sink::row::StoredRow;
use crate::telemetry::metrics::Metrics;
use crate::visits::OpenVisits;
use cursor::Cursor;
use drops::DropCounts;
use log::{AppendError, Log, LogConfig, Pos};
pub use writer::Health;

/// Why a row was not accepted; each is answered 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    #[error("the write-ahead log is full")]
    Full,
    #[error("the hit could not be written to disk")]
    WriteFailed,
    #[error("shutting down")]
    Closed,
}

impl From<AppendError> for SinkError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::LogFull | AppendError::BufferFull => SinkError::Full,
            AppendError::WriteFailed => SinkError::WriteFailed,
            _ => SinkError::Closed,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    #[error(transparent)]
    Log(#[from] log::LogError),
    #[error("write-ahead log {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The request side: cheap to clone.
#[derive(Clone)]
pub struct SinkHandle {
    log: Arc<Log>,
    durability: Durability,
    metrics: Arc<Metrics>,
    drops: Arc<DropCounts>,
    /// The open visits each stored event joins once it is durable.
    visits: Arc<OpenVisits>,
}

thread_local! {
    static ROW: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
}

impl SinkHandle {
    /// Run on each I/O thread's runtime: the log wakes this thread's
    /// waiting handlers with one message per group ([`Log::relay_here`]).
    pub fn relay_here(&self) {
        self.log.relay_here();
    }

    /// Count a dropped hit for the data-quality aggregate.
    pub fn count_drop(&self, day: i32, site: &'static str, reason: DropReason) {
        self.drops.count(day, site, reason);
    }

    /// The open visits (live visits) this sink feeds.
    pub fn visits(&self) -> &Arc<OpenVisits> {
        &self.visits
    }

    /// Append the row; resolves when it may be acknowledged (synced to
    /// disk, or at once with `durability = "memory"`). An events row then
    /// joins its visit.
    pub async fn submit(&self, ev: &impl StoredRow) -> Result<(), SinkError> {
        let live = self.visits.is_live();
        let wait = self.durability != Durability::Memory;
        let (appended, row) = ROW.with(|b| {
            let mut b = b.borrow_mut();
            b.clear();
            ev.write_row_binary(&mut b);
            let appended = self.log.append(&b, wait);
            // The hit joins its visit once its row is durable: at once when
            // nothing waits for a sync, else from a copy of the row after it.
            let row = match &appended {
                Ok(None) if live => {
                    if let Some(h) = row::visit_hit(&b) {
                        self.visits.observe(&h);
                    }
                    None
                }
                Ok(Some(_)) if live => Some(b.clone()),
                _ => None,
            };
            (appended, row)
        });
        let waiter = appended.map_err(|e| {
            if matches!(e, AppendError::LogFull | AppendError::BufferFull) {
                Metrics::inc(&self.metrics.log_full);
            }
            SinkError::from(e)
        })?;
        if let Some(w) = waiter {
            // Counted even if the client leaves before its answer: the row
            // is in the log and will be stored.
            let counted = Unanswered::arm(&self.metrics);
            let r = Log::wait_durable(w).await;
            counted.disarm();
            r?;
        }
        if let Some(h) = row.as_deref().and_then(row::visit_hit) {
            self.visits.observe(&h);
        }
        Ok(())
    }
}

/// Counts a row whose client left while it waited for its sync (the
/// request was dropped): stored, never answered. Keeps
/// `rows = accepted + unanswered` exact for the accounting.
struct Unanswered<'a>(Option<&'a Metrics>);

impl<'a> Unanswered<'a> {
    fn arm(m: &'a Metrics) -> Self {
        Self(Some(m))
    }
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Some(m) = self.0 {
            Metrics::inc(&m.hits_unanswered);
        }
    }
}

/// The writer task's handle.
pub struct SinkTask {
    log: Arc<Log>,
    visits_stop: tokio::sync::watch::Sender<bool>,
    visits_join: tokio::task::JoinHandle<()>,
    visit_log: Arc<Log>,
    visit_stop: oneshot::Sender<()>,
    visit_join: tokio::task::JoinHandle<()>,
    stop: oneshot::Sender<()>,
    join: tokio::task::JoinHandle<()>,
    pub health: Arc<Health>,
}

impl SinkTask {
    /// Sync what is buffered, then deliver what ClickHouse will take now;
    /// the rest stays in the log for the next start.
    pub async fn shutdown(self) {
        // The visits' last versions go into the log before it closes.
        let _ = self.visits_stop.send(true);
        let _ = self.visits_join.await;
        let (log, visit_log) = (self.log.clone(), self.visit_log.clone());
        let _ = tokio::task::spawn_blocking(move || {
            log.close();
            visit_log.close();
        })
        .await;
        let _ = self.stop.send(());
        let _ = self.visit_stop.send(());
        let _ = self.join.await;
        let _ = self.visit_join.await;
    }
}

/// A random id for this log, made once: tokens from a new log never
/// collide with an old one's in ClickHouse's deduplication window.
fn log_id(dir: &Path) -> Result<String, OpenError> {
    let path = dir.join("log-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(id.to_string());
        }
    }
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    let id = hex::encode(b);
    let io = |source| OpenError::Io {
        path: path.clone(),
        source,
    };
    let tmp = dir.join("log-id.tmp");
    std::fs::write(&tmp, &id).map_err(io)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    // The rename is durable only once the directory is: without this, a
    // power loss right after the first start could lose the id, and rows
    // replayed from the log would get new deduplication tokens.
    segment::sync_dir(dir)?;
    Ok(id)
}

/// The directory of the live visits' own log, next to the events' log
/// (`wal-visits/` beside `wal/`): its rows never share a segment, a batch
/// or a cursor with the hits.
pub fn visits_log_dir(wal_dir: &Path) -> PathBuf {
    wal_dir.with_file_name("wal-visits")
}

/// Open a log under `dir` (recovering what is there) and make its writer.
#[allow(clippy::too_many_arguments)]
fn open_log(
    client: clickhouse::Client,
    cfg: &SinkConfig,
    dir: &Path,
    metrics: Arc<Metrics>,
    clock: SharedClock,
    fences: crate::store::fence::Fences,
    health: Arc<Health>,
    drops: Arc<DropCounts>,
) -> Result<(Arc<Log>, writer::Writer), OpenError> {
    let (log, recovered) = Log::open(
        LogConfig {
            dir: dir.to_path_buf(),
            segment_bytes: cfg.wal_segment_bytes,
            max_bytes: cfg.wal_max_bytes,
            buffer_max_bytes: cfg.wal_buffer_max_bytes,
            commit_max_rows: cfg.wal_commit_max_rows,
            commit_max_delay: cfg.wal_commit_max_delay,
            sync_every: (cfg.durability == Durability::Process).then_some(cfg.wal_sync_interval),
        },
        metrics.clone(),
    )?;
    let log = Arc::new(log);
    let log_id = log_id(dir)?;
    let start = log.durable().borrow().end;
    let first = Pos {
        seg: recovered.first.unwrap_or(start.seg),
        off: record::HEADER,
    };
    let cursor_path = dir.join("cursor");
    let cursor = Cursor::open(&cursor_path, first).map_err(|source| OpenError::Io {
        path: cursor_path,
        source,
    })?;
    let waiting = log::count_from(dir, cursor.state().acked)?;
    if waiting > 0 {
        tracing::info!(
            rows = waiting,
            dir = %dir.display(),
            "write-ahead log: rows from an earlier run will be delivered"
        );
    }
    metrics.clickhouse_up.store(1, Ordering::Relaxed);
    let writer = writer::Writer {
        client,
        log: log.clone(),
        log_id,
        cursor,
        metrics,
        clock,
        health,
        drops,
        read_buf: Vec::new(),
        replay_until: start,
        recovered: waiting,
        cfg: cfg.clone(),
        fences,
        hold: None,
        retry: writer_retry(cfg),
    };
    Ok((log, writer))
}

/// Open the log under `dir` and the live visits' log beside it
/// ([`visits_log_dir`]) (recovering what is there), put back the open
/// visits they hold, and start both writers and the visits' flusher.
pub fn spawn(
    client: clickhouse::Client,
    cfg: SinkConfig,
    dir: &Path,
    metrics: Arc<Metrics>,
    clock: SharedClock,
    fences: crate::store::fence::Fences,
    visits: Arc<OpenVisits>,
) -> Result<(SinkHandle, SinkTask), OpenError> {
    let drops = Arc::new(DropCounts::default());
    let health = Arc::new(Health::default());
    let (log, writer) = open_log(
        client.clone(),
        &cfg,
        dir,
        metrics.clone(),
        clock.clone(),
        fences.clone(),
        health.clone(),
        drops.clone(),
    )?;
    // The visits' log counts in its own metrics (the events' gauges stay
    // the events'); the flusher copies what /metrics shows.
    let visit_dir = visits_log_dir(dir);
    let visit_metrics = Arc::new(Metrics::default());
    // Visit versions arrive in one burst per visits flush: a batch need not
    // wait to grow, so a version is sent within 100 ms of being logged.
    let visit_cfg = SinkConfig {
        flush_interval: cfg.visits_batch_wait,
        ..cfg.clone()
    };
    let (visit_log, visit_writer) = open_log(
        client,
        &visit_cfg,
        &visit_dir,
        visit_metrics.clone(),
        clock.clone(),
        fences,
        Arc::new(Health::default()),
        Arc::new(DropCounts::default()),
    )?;
    let (versions, events) = visit_flush::replay(dir, &visit_dir, &visits);
    if versions + events > 0 {
        tracing::info!(
            versions,
            events,
            "open visits: versions and events from the logs put back"
        );
    }
    let (visits_stop, visits_rx) = tokio::sync::watch::channel(false);
    let visits_join = tokio::spawn(visit_flush::run(
        visits.clone(),
        visit_log.clone(),
        clock,
        metrics.clone(),
        visit_metrics,
        cfg.visits_flush_interval,
        visits_rx,
    ));
    let (stop_tx, stop_rx) = oneshot::channel();
    let join = tokio::spawn(writer.run(stop_rx));
    let (visit_stop_tx, visit_stop_rx) = oneshot::channel();
    let visit_join = tokio::spawn(visit_writer.run(visit_stop_rx));
    Ok((
        SinkHandle {
            log: log.clone(),
            durability: cfg.durability,
            metrics,
            drops,
            visits,
        },
        SinkTask {
            log,
            visits_stop,
            visits_join,
            visit_log,
            visit_stop: visit_stop_tx,
            visit_join,
            stop: stop_tx,
            join,
            health,
        },
    ))
}

/// The writer's retry: from `retry_interval`, doubling to
/// `retry_max_interval`, jittered by a generator seeded from the OS.
fn writer_retry(cfg: &SinkConfig) -> Retry<StdRng> {
    Retry::new(
        Backoff::new(cfg.retry_interval, cfg.retry_max_interval),
        StdRng::from_os_rng(),
    )
}
