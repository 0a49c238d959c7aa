//! The write-ahead log: every stored row is appended here before its hit is
//! answered, and the writer (`writer.rs`) reads it back to ClickHouse.
//!
//! One appender thread owns the active segment. Request handlers frame
//! their row and copy it into a shared buffer ([`Log::append`]); the
//! appender swaps the buffer out, writes it with one `pwrite`, and makes it
//! durable with one `fdatasync` (group commit: one sync covers every row
//! appended since the last, bounded by `commit_max_rows` and
//! `commit_max_delay`). It then publishes the new durable end
//! ([`Durable`]); handlers waiting on it ([`Log::wait_durable`]) answer.
//! Waking a task on another thread's runtime costs a syscall (the runtime
//! is parked in `epoll_wait`), so each I/O thread runs a relay
//! ([`Log::relay_here`], `relay.rs`): the appender hands it the group's waiters of that
//! thread in one message, and the relay wakes them locally.
//! A write or sync that fails (a full disk) is cut back to the last whole
//! record, and the rows of that group are answered 503: nothing is
//! acknowledged that is not on disk. With `sync_every`
//! (`durability = "process"`) there are no groups: handlers write their
//! own rows (`direct.rs`) and this thread publishes, syncs and makes the
//! next segment ahead, so no handler waits on a sync.
//!
//! Segments are named by a 16-hex-digit id and roll at `segment_bytes`. On
//! open, every segment is scanned; a torn tail (a crash mid-write) is cut
//! off, its bytes counted, and a fresh segment is started. The log is
//! bounded by bytes on disk (`max_bytes`), and its in-memory buffer too.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use super::direct::{self, Active};
use super::relay::{Relays, Waiting};
pub use super::segment::{count_from, each_unacked, segment_ids, segment_path, Recovered};
use super::segment::{io, new_segment, recover_segment, sync_dir};

use super::record::{self, HEADER};
use crate::model::sync::lock;
use crate::telemetry::metrics::Metrics;

/// A place in the log: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Pos {
    pub seg: u64,
    pub off: u64,
}

/// What is durable: every record numbered below `seq` is resolved (on disk,
/// or failed), and every byte before `end` is on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Durable {
    pub seq: u64,
    pub end: Pos,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub dir: PathBuf,
    pub segment_bytes: u64,
    pub max_bytes: u64,
    pub buffer_max_bytes: usize,
    pub commit_max_rows: usize,
    pub commit_max_delay: Duration,
    /// `None`: each group is synced before its rows are answered. `Some(d)`:
    /// rows are answered once written (the OS holds them, so a crash of
    /// tacit loses none), and the segment is synced at most `d` after its
    /// first unsynced write (a power loss can lose that much).
    pub sync_every: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    #[error("write-ahead log {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("write-ahead log {0}: another tacit process is using it (each process needs its own server.data_dir)")]
    InUse(PathBuf),
}

/// Why a row was not taken or not made durable; each is a 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    #[error("the write-ahead log is full")]
    LogFull,
    #[error("the write-ahead log buffer is full")]
    BufferFull,
    #[error("the write-ahead log could not be written (disk full?)")]
    WriteFailed,
    #[error("the write-ahead log is closed")]
    Closed,
}

/// Told whether its row is on disk (`true`) or its write failed.
pub type Waiter = oneshot::Receiver<bool>;

struct Pending {
    buf: Vec<u8>,
    /// One per row in `buf` whose handler waits (in `buf` order): the
    /// appender wakes exactly these after the sync, no one else.
    /// With the relay of the thread each waits on (`None`: woken directly).
    waiters: Vec<Waiting>,
    /// Sequence number of the first record in `buf`.
    first_seq: u64,
    count: u64,
    oldest: Option<Instant>,
    closed: bool,
}

pub(super) struct Shared {
    pub(super) cfg: LogConfig,
    pending: Mutex<Pending>,
    wake: Condvar,
    pub(super) durable: watch::Sender<Durable>,
    /// One per I/O thread running a relay, by relay id.
    relays: Relays,
    /// Bytes of every segment on disk.
    pub(super) disk_bytes: AtomicU64,
    pub(super) metrics: Arc<Metrics>,
    /// With `sync_every`: the segment the handlers write directly.
    pub(super) active: Option<Mutex<Active>>,
}

/// The write-ahead log (append side). Cheap to share behind an `Arc`.
pub struct Log {
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Held (locked) while this process owns the directory.
    _lock: File,
}

impl Log {
    /// Open (recovering what a previous process left) and start the
    /// appender on a new segment.
    pub fn open(cfg: LogConfig, metrics: Arc<Metrics>) -> Result<(Log, Recovered), LogError> {
        fs::create_dir_all(&cfg.dir).map_err(io(&cfg.dir))?;
        let lock_path = cfg.dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        if lock.try_lock().is_err() {
            return Err(LogError::InUse(cfg.dir.clone()));
        }
        let mut rec = Recovered::default();
        let mut disk = 0;
        let ids = segment_ids(&cfg.dir)?;
        for &id in &ids {
            let p = segment_path(&cfg.dir, id);
            let (n, discarded) = recover_segment(&p)?;
            rec.records += n;
            rec.discarded_bytes += discarded;
            if let Ok(m) = fs::metadata(&p) {
                disk += m.len();
                if rec.first.is_none() {
                    rec.first = Some(id);
                }
            }
        }
        if rec.discarded_bytes > 0 {
            tracing::warn!(
                bytes = rec.discarded_bytes,
                "write-ahead log: cut a torn or damaged tail on recovery"
            );
        }
        metrics
            .wal_discarded_bytes
            .fetch_add(rec.discarded_bytes, Ordering::Relaxed);
        let active = ids.last().map_or(1, |l| l + 1);
        let path = segment_path(&cfg.dir, active);
        let file = new_segment(&path)?;
        sync_dir(&cfg.dir)?;
        disk += HEADER;
        rec.first.get_or_insert(active);
        let (durable, _) = watch::channel(Durable {
            seq: 0,
            end: Pos {
                seg: active,
                off: HEADER,
            },
        });
        metrics.wal_bytes.store(disk as i64, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(1 << 20),
                waiters: Vec::new(),
                first_seq: 0,
                count: 0,
                oldest: None,
                closed: false,
            }),
            wake: Condvar::new(),
            durable,
            relays: Relays::default(),
            disk_bytes: AtomicU64::new(disk),
            metrics,
            active: cfg
                .sync_every
                .is_some()
                .then(|| file.try_clone().map(|f| Mutex::new(Active::new(f, active))))
                .transpose()
                .map_err(io(&path))?,
            cfg,
        });
        let s = shared.clone();
        let run: Box<dyn FnOnce() + Send> = match s.cfg.sync_every {
            Some(every) => Box::new(move || direct::timer(s, every)),
            None => Box::new(move || appender(s, active, file)),
        };
        let thread = std::thread::Builder::new()
            .name("tacit-wal".into())
            .spawn(run)
            .map_err(io(&path))?;
        Ok((
            Log {
                shared,
                thread: Mutex::new(Some(thread)),
                _lock: lock,
            },
            rec,
        ))
    }

    /// Frame and queue one row; with `wait`, also a [`Waiter`] told when it
    /// is on disk. Refuses when the log or its buffer is full.
    pub fn append(&self, payload: &[u8], wait: bool) -> Result<Option<Waiter>, AppendError> {
        if payload.len() > record::MAX_PAYLOAD {
            return Err(AppendError::BufferFull);
        }
        let s = &self.shared;
        if s.active.is_some() {
            return direct::write(s, payload).map(|()| None);
        }
        let framed = record::FRAME + payload.len();
        let mut p = lock(&s.pending);
        if p.closed {
            return Err(AppendError::Closed);
        }
        if p.buf.len() + framed > s.cfg.buffer_max_bytes {
            return Err(AppendError::BufferFull);
        }
        if s.disk_bytes.load(Ordering::Relaxed) + (p.buf.len() + framed) as u64 > s.cfg.max_bytes {
            return Err(AppendError::LogFull);
        }
        record::frame(&mut p.buf, payload);
        let waiter = wait.then(|| {
            let (tx, rx) = oneshot::channel();
            p.waiters.push((Relays::current(), tx));
            rx
        });
        p.count += 1;
        if p.count == 1 {
            p.oldest = Some(Instant::now());
            s.wake.notify_one();
        } else if p.count as usize >= s.cfg.commit_max_rows {
            s.wake.notify_one();
        }
        Ok(waiter)
    }

    /// Start this thread's relay on its (current-thread) runtime: from now
    /// on, rows appended on this thread are woken by one message per group
    /// to the relay, which wakes them without a syscall each.
    pub fn relay_here(&self) {
        self.shared.relays.here();
    }

    /// Resolves when the row of `waiter` is on disk, or its write failed.
    pub async fn wait_durable(waiter: Waiter) -> Result<(), AppendError> {
        match waiter.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AppendError::WriteFailed),
            Err(_) => Err(AppendError::Closed),
        }
    }

    /// Follow the durable end (the writer reads up to it).
    pub fn durable(&self) -> watch::Receiver<Durable> {
        self.shared.durable.subscribe()
    }

    pub fn dir(&self) -> &Path {
        &self.shared.cfg.dir
    }

    /// The writer deleted a segment of this many bytes.
    pub fn released(&self, bytes: u64) {
        let left = self
            .shared
            .disk_bytes
            .fetch_sub(bytes, Ordering::Relaxed)
            .saturating_sub(bytes);
        self.shared
            .metrics
            .wal_bytes
            .store(left as i64, Ordering::Relaxed);
    }

    /// Rows buffered or being written, not yet durable.
    pub fn pending_rows(&self) -> u64 {
        lock(&self.shared.pending).count
    }

    /// Stop taking rows, write and sync what is buffered, stop the appender.
    pub fn close(&self) {
        lock(&self.shared.pending).closed = true;
        if let Some(a) = &self.shared.active {
            lock(a).close();
        }
        self.shared.wake.notify_one();
        if let Some(t) = lock(&self.thread).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.close();
    }
}

/// The next group: its bytes, first sequence number, row count, waiters.
type Group = (Vec<u8>, u64, u64, Vec<Waiting>);

/// Take the next group of rows, waiting for the first one and then (up to
/// the commit delay) for more. `None` when closed and empty.
fn next_group(s: &Shared, spare: Vec<u8>) -> Option<Group> {
    let mut p = lock(&s.pending);
    while p.count == 0 && !p.closed {
        p = s.wake.wait(p).unwrap_or_else(|e| e.into_inner());
    }
    if p.count == 0 {
        return None;
    }
    if !s.cfg.commit_max_delay.is_zero() {
        let deadline = p.oldest.unwrap_or_else(Instant::now) + s.cfg.commit_max_delay;
        while (p.count as usize) < s.cfg.commit_max_rows && !p.closed {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            p = s
                .wake
                .wait_timeout(p, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
    let buf = std::mem::replace(&mut p.buf, spare);
    let waiters = std::mem::take(&mut p.waiters);
    let (first, n) = (p.first_seq, p.count);
    p.first_seq += n;
    p.count = 0;
    p.oldest = None;
    Some((buf, first, n, waiters))
}

/// Group commit (`durability = "wal"` and `"memory"`): write each group and
/// sync it, then wake its waiters.
fn appender(s: Arc<Shared>, mut seg: u64, mut file: File) {
    let mut len = HEADER;
    let mut spare = Vec::with_capacity(1 << 20);
    while let Some((mut buf, first, n, waiters)) = next_group(&s, spare) {
        if len > HEADER && len + buf.len() as u64 > s.cfg.segment_bytes {
            match roll(&s, seg + 1) {
                Ok(f) => {
                    seg += 1;
                    file = f;
                    len = HEADER;
                    s.disk_bytes.fetch_add(HEADER, Ordering::Relaxed);
                }
                Err(e) => tracing::error!(error = %e, "cannot start a new log segment"),
            }
        }
        let started = Instant::now();
        let result = file.write_all_at(&buf, len).and_then(|()| file.sync_data());
        s.metrics.wal_fsync.observe(started.elapsed());
        let ok = result.is_ok();
        match result {
            Ok(()) => {
                len += buf.len() as u64;
                let disk =
                    s.disk_bytes.fetch_add(buf.len() as u64, Ordering::Relaxed) + buf.len() as u64;
                s.metrics.wal_bytes.store(disk as i64, Ordering::Relaxed);
                s.metrics.wal_syncs.fetch_add(1, Ordering::Relaxed);
                s.metrics.wal_rows.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                // Cut back to the last whole record; these rows are refused.
                let _ = file.set_len(len);
                s.metrics
                    .wal_write_failed_rows
                    .fetch_add(n, Ordering::Relaxed);
                tracing::error!(rows = n, error = %e, "write-ahead log write failed; rows refused with 503");
            }
        }
        s.durable.send_replace(Durable {
            seq: first + n,
            end: Pos { seg, off: len },
        });
        s.relays.wake(waiters, ok);
        buf.clear();
        spare = buf;
    }
}

pub(super) fn roll(s: &Shared, seg: u64) -> Result<File, LogError> {
    let f = new_segment(&segment_path(&s.cfg.dir, seg))?;
    sync_dir(&s.cfg.dir)?;
    Ok(f)
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
