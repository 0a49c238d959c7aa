//! Direct writes, for `durability = "process"`: the handler writes its own
//! framed row to the active segment (one `pwrite` under a lock, the way a
//! web server writes its access log) and answers at once. Once written,
//! the row is in the kernel's page cache, so a crash or kill of tacit
//! cannot lose it; a power loss can lose what was not synced yet.
//!
//! A timer thread (`tacit-wal`) publishes the written end to the writer
//! every few milliseconds (not once per row: each publish wakes the
//! writer) and syncs the segment at most `sync_every` after its first
//! unsynced write. It also does every slow file operation, so that a
//! handler (on an I/O thread's runtime, holding the segment lock) only ever
//! writes: once the active segment is half full it makes the next one
//! (created, header synced, directory synced) and keeps it ready; the
//! handler that fills the segment swaps the ready one in, and the timer
//! syncs the sealed segment at its next tick. While the next segment is
//! not ready yet (a disk that refuses it), rows go on into the current one,
//! past `segment_bytes`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::log::{roll, AppendError, Durable, Pos, Shared};
use super::record::{self, HEADER};
use super::segment::segment_path;
use crate::model::sync::lock;

/// How often the written end is published to the writer.
const PUBLISH: Duration = Duration::from_millis(5);

/// The active segment, written by the handlers themselves.
pub(super) struct Active {
    file: Arc<File>,
    seg: u64,
    len: u64,
    /// Records written since the log was opened.
    seq: u64,
    /// When the oldest write not yet synced happened.
    unsynced: Option<Instant>,
    /// The next segment, made ahead by the timer thread.
    spare: Option<File>,
    /// Segments filled with writes not synced yet: the timer syncs them.
    sealed: Vec<Arc<File>>,
    scratch: Vec<u8>,
    /// Failed attempts to make the next segment (logged at powers of two).
    roll_failures: u64,
    closed: bool,
}

impl Active {
    pub(super) fn new(file: File, seg: u64) -> Active {
        Active {
            file: Arc::new(file),
            seg,
            len: HEADER,
            seq: 0,
            unsynced: None,
            spare: None,
            sealed: Vec::new(),
            scratch: Vec::with_capacity(1024),
            roll_failures: 0,
            closed: false,
        }
    }

    pub(super) fn close(&mut self) {
        self.closed = true;
    }
}

/// Write one row now. The caller answers as soon as this returns `Ok`.
pub(super) fn write(s: &Shared, payload: &[u8]) -> Result<(), AppendError> {
    let Some(active) = &s.active else {
        return Err(AppendError::Closed);
    };
    let framed = (record::FRAME + payload.len()) as u64;
    let mut a = lock(active);
    if a.closed {
        return Err(AppendError::Closed);
    }
    if s.disk_bytes.load(Ordering::Relaxed) + framed > s.cfg.max_bytes {
        return Err(AppendError::LogFull);
    }
    if a.len > HEADER && a.len + framed > s.cfg.segment_bytes {
        // Swap in the segment the timer made ready; it syncs the old one.
        // None ready: this row goes in the current segment.
        if let Some(next) = a.spare.take() {
            let old = std::mem::replace(&mut a.file, Arc::new(next));
            if a.unsynced.take().is_some() {
                a.sealed.push(old);
            }
            a.seg += 1;
            a.len = HEADER;
            s.disk_bytes.fetch_add(HEADER, Ordering::Relaxed);
        }
    }
    let a = &mut *a;
    a.scratch.clear();
    record::frame(&mut a.scratch, payload);
    match a.file.write_all_at(&a.scratch, a.len) {
        Ok(()) => {
            a.len += framed;
            a.seq += 1;
            a.unsynced.get_or_insert_with(Instant::now);
            let disk = s.disk_bytes.fetch_add(framed, Ordering::Relaxed) + framed;
            s.metrics.wal_bytes.store(disk as i64, Ordering::Relaxed);
            s.metrics.wal_rows.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            // Cut back to the last whole record; this row is refused.
            let _ = a.file.set_len(a.len);
            let failed = s
                .metrics
                .wal_write_failed_rows
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            // Each hit writes on its own: log at powers of two, not per hit.
            if failed.is_power_of_two() {
                tracing::error!(error = %e, failed, "write-ahead log write failed; rows refused with 503");
            }
            Err(AppendError::WriteFailed)
        }
    }
}

/// A sync of rows that were answered already: a failure cannot be answered
/// any more, so it is counted and logged.
fn sync(s: &Shared, file: &File) {
    let started = Instant::now();
    let result = file.sync_data();
    s.metrics.wal_fsync.observe(started.elapsed());
    s.metrics.wal_syncs.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = result {
        s.metrics.wal_sync_failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %e, "write-ahead log sync failed; answered rows may not survive a power loss");
    }
}

/// The timer thread: sync sealed segments, sync the active one when due,
/// publish the written end, make the next segment when the active one is
/// half full; after close, a last sync and publish.
pub(super) fn timer(s: Arc<Shared>, every: Duration) {
    let Some(active) = &s.active else { return };
    loop {
        let (file, end, seq, due, closed, sealed, prepare) = {
            let mut a = lock(active);
            let due = a.unsynced.is_some_and(|t| a.closed || t.elapsed() >= every);
            if due {
                a.unsynced = None;
            }
            let end = Pos {
                seg: a.seg,
                off: a.len,
            };
            let prepare = (!a.closed && a.spare.is_none() && a.len >= s.cfg.segment_bytes / 2)
                .then_some(a.seg + 1);
            let sealed = std::mem::take(&mut a.sealed);
            (a.file.clone(), end, a.seq, due, a.closed, sealed, prepare)
        };
        for f in &sealed {
            sync(&s, f);
        }
        if due {
            sync(&s, &file);
        }
        if s.durable.borrow().end != end {
            s.durable.send_replace(Durable { seq, end });
        }
        if let Some(seg) = prepare {
            prepare_next(&s, active, seg);
        }
        if closed {
            if let Some(spare) = lock(active).spare.take() {
                drop(spare);
                let _ = std::fs::remove_file(segment_path(&s.cfg.dir, end.seg + 1));
            }
            return;
        }
        std::thread::sleep(PUBLISH);
    }
}

/// Make segment `seg` (the one after the active segment) and keep it ready.
fn prepare_next(s: &Shared, active: &std::sync::Mutex<Active>, seg: u64) {
    match roll(s, seg) {
        Ok(f) => lock(active).spare = Some(f),
        Err(e) => {
            let mut a = lock(active);
            a.roll_failures += 1;
            if a.roll_failures.is_power_of_two() {
                tracing::error!(error = %e, failures = a.roll_failures, "cannot start a new log segment");
            }
        }
    }
}
