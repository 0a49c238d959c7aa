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
    /// Whether events rows are stamped with their visit fragment's id
    /// before they are logged.
    visits: VisitIds,
}

/// Whether a sink stamps events rows with their visit fragment's id
/// ([`crate::visits::visit_id`]). `tacit serve` always does; the baseline
/// of `make bench-visits` (events stored alone) does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitIds {
    Stamped,
    Unstamped,
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

    /// Append the row, an events row stamped with its visit id first (so a
    /// replay of the log carries the same id); resolves when it may be
    /// acknowledged (synced to disk, or at once with `durability =
    /// "memory"`).
    pub async fn submit(&self, ev: &impl StoredRow) -> Result<(), SinkError> {
        let wait = self.durability != Durability::Memory;
        let appended = ROW.with(|b| {
            let mut b = b.borrow_mut();
            b.clear();
            ev.write_row_binary(&mut b);
            if self.visits == VisitIds::Stamped {
                if let Some((ts, visitor_id)) = ev.visit_key() {
                    row::stamp(&mut b, crate::visits::visit_id(visitor_id, ts));
                }
            }
            self.log.append(&b, wait)
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
    stop: oneshot::Sender<()>,
    join: tokio::task::JoinHandle<()>,
    pub health: Arc<Health>,
}

impl SinkTask {
    /// Sync what is buffered, then deliver what ClickHouse will take now;
    /// the rest stays in the log for the next start.
    pub async fn shutdown(self) {
        let log = self.log.clone();
        let _ = tokio::task::spawn_blocking(move || log.close()).await;
        let _ = self.stop.send(());
        let _ = self.join.await;
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

/// Open the log under `dir` (recovering what is there) and start the
/// writer.
pub fn spawn(
    client: clickhouse::Client,
    cfg: SinkConfig,
    dir: &Path,
    metrics: Arc<Metrics>,
    clock: SharedClock,
    fences: crate::store::fence::Fences,
    visits: VisitIds,
) -> Result<(SinkHandle, SinkTask), OpenError> {
    let drops = Arc::new(DropCounts::default());
    let health = Arc::new(Health::default());
    let (log, writer) = open_log(
        client,
        &cfg,
        dir,
        metrics.clone(),
        clock,
        fences,
        health.clone(),
        drops.clone(),
    )?;
    // An earlier version's log of visit versions (`wal-visits/`): its
    // rows have no table any more; removed, with its quarantine.
    let old = dir.with_file_name("wal-visits");
    if old.is_dir() {
        match std::fs::remove_dir_all(&old) {
            Ok(()) => {
                tracing::info!(dir = %old.display(), "removed the visit versions' log of an earlier version")
            }
            Err(e) => {
                tracing::warn!(error = %e, dir = %old.display(), "cannot remove the visit versions' log of an earlier version")
            }
        }
    }
    let (stop_tx, stop_rx) = oneshot::channel();
    let join = tokio::spawn(writer.run(stop_rx));
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
