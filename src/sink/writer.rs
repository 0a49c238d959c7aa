//! The writer: reads the write-ahead log from the acknowledged position and
//! inserts it into `events`, batch by batch, in log order.
//!
//! A batch is a range of one segment. Its range goes into the cursor
//! (synced) before it is sent, with an `insert_deduplication_token` made of
//! the log's id and that range: a retry, or a resend after a crash, carries
//! the same token, so an insert that committed but whose reply was lost is
//! not stored twice. A connectivity failure or timeout retries the same
//! batch; ClickHouse refusing the data itself (a parse or type error) splits
//! the batch in halves until the refused rows are found, which go to the
//! quarantine (`quarantine.rs`: a file per day, deleted at the event TTL):
//! the rows around them still land. A segment is deleted once every row
//! in it is acknowledged.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use tokio::sync::{oneshot, watch};

use super::batch::Batch;
use super::classify::{classify, Failure};
use super::cursor::{Cursor, InFlight, State};
use super::drops::DropCounts;
pub use super::health::Health;
use super::log::{Durable, Log, Pos};
use super::record::HEADER;
use super::segment;
use crate::config::SinkConfig;
use crate::model::backoff::Retry;
use crate::model::clock::{day_of, SharedClock};
use crate::telemetry::metrics::Metrics;

pub struct Writer {
    pub client: clickhouse::Client,
    pub cfg: SinkConfig,
    pub log: Arc<Log>,
    pub log_id: String,
    pub cursor: Cursor,
    pub metrics: Arc<Metrics>,
    pub clock: SharedClock,
    pub health: Arc<Health>,
    pub drops: Arc<DropCounts>,
    /// Reused by every read of the log.
    pub read_buf: Vec<u8>,
    /// Rows before this position were in the log when the process started.
    pub replay_until: Pos,
    /// Rows found in the log at startup (for the unacknowledged count).
    pub recovered: u64,
    /// Purge fences: held from a batch's first send until it is
    /// acknowledged, so a purge never deletes behind a send in flight.
    pub fences: crate::store::fence::Fences,
    pub hold: Option<crate::store::fence::WriterGuard>,
    /// The wait before a failed read or send is tried again.
    pub retry: Retry<StdRng>,
}

/// The steps of the writer's loop. Each is one method of [`Writer`] that
/// returns the next; every wait is its own step, so the one place a step
/// can end the loop is in the step's own code.
enum Step {
    /// Run the periodic chores if due, then read the next batch from the
    /// log (exactly the range in flight, if there is one).
    Read,
    /// Reading the log failed: wait a retry interval, then read again.
    ReadFailed,
    /// Every durable row is delivered: wait for more, or for the chores.
    CaughtUp,
    /// A batch smaller than `batch_rows` and younger than the flush
    /// interval: wait until it is old enough or a full batch is durable.
    Grow { deadline: Instant },
    /// Record the batch's range in the cursor, send it, acknowledge it.
    Send(Batch),
    /// The send failed (the rows stay in the log): wait a retry interval,
    /// then send the same range again with the same token.
    SendFailed,
    /// Write the last drop counts and end.
    Stop,
}

/// What the writer's loop carries from one step to the next.
struct Progress {
    stop: oneshot::Receiver<()>,
    /// A stop was asked for: deliver what is durable and end.
    stopping: bool,
    durable: DurableRx,
    /// Rows delivered since the start (the unacknowledged count).
    delivered: u64,
    /// Where the next read starts.
    read: Pos,
    /// A range to resend exactly as it was: a different range would carry
    /// a different token.
    forced: Option<InFlight>,
    /// When the batch now growing was first read.
    pending_since: Option<Instant>,
    /// When the drop counts are written next.
    drops_due: Instant,
    /// The quarantine is checked when the day changes, and every minute.
    quarantine_checked: QuarantineCheck,
}

/// The day (of the injected clock) and the instant of the last check.
struct QuarantineCheck {
    day: i32,
    at: Instant,
}

impl Progress {
    /// Until a stop is asked for; never, once it was (the receiver is
    /// done).
    async fn stop_asked(&mut self) {
        if self.stopping {
            std::future::pending::<()>().await;
        }
        let _ = (&mut self.stop).await;
    }

    /// A pause of `interval`, cut short by a stop.
    async fn pause(&mut self, interval: Duration) {
        tokio::select! {
            biased;
            _ = self.stop_asked() => self.stopping = true,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

impl Writer {
    pub async fn run(mut self, stop: oneshot::Receiver<()>) {
        self.health.alive.store(true, Ordering::Relaxed);
        self.health
            .last_progress_ms
            .store(self.clock.now_ms(), Ordering::Relaxed);
        let read = self.cursor.state().acked;
        self.delete_finished(read).await;
        let mut p = Progress {
            stop,
            stopping: false,
            durable: self.log.durable(),
            delivered: 0,
            read,
            forced: self.cursor.state().inflight,
            pending_since: None,
            drops_due: Instant::now() + self.cfg.flush_interval,
            quarantine_checked: QuarantineCheck {
                day: i32::MIN,
                at: Instant::now(),
            },
        };
        let mut step = Step::Read;
        loop {
            step = match step {
                Step::Read => self.read(&mut p).await,
                Step::ReadFailed => {
                    p.pause(self.retry.next_delay()).await;
                    if p.stopping {
                        Step::Stop
                    } else {
                        Step::Read
                    }
                }
                Step::CaughtUp => self.caught_up(&mut p).await,
                Step::Grow { deadline } => self.grow(&mut p, deadline).await,
                Step::Send(batch) => self.send(&mut p, batch).await,
                Step::SendFailed => {
                    p.pause(self.retry.next_delay()).await;
                    Step::Read
                }
                Step::Stop => break,
            };
        }
        self.drops
            .write(&self.client, self.cfg.insert_timeout)
            .await;
        self.health.alive.store(false, Ordering::Relaxed);
        tracing::info!(
            rows_written = self.metrics.rows_written.load(Ordering::Relaxed),
            unacked = self.metrics.wal_unacked_rows.load(Ordering::Relaxed),
            "sink stopped"
        );
    }

    /// The drop counts written every flush interval, and the quarantine's
    /// expiry checked with them.
    async fn chores(&self, p: &mut Progress) {
        if Instant::now() < p.drops_due {
            return;
        }
        self.drops
            .write(&self.client, self.cfg.insert_timeout)
            .await;
        let today = day_of(self.clock.now_ms());
        let last = &p.quarantine_checked;
        if today != last.day || last.at.elapsed() >= Duration::from_secs(60) {
            self.expire_quarantine(today).await;
            p.quarantine_checked = QuarantineCheck {
                day: today,
                at: Instant::now(),
            };
        }
        p.drops_due = Instant::now() + self.cfg.flush_interval;
    }

    /// [`Step::Read`]: the next batch, and whether to send it now.
    async fn read(&mut self, p: &mut Progress) -> Step {
        self.chores(p).await;
        let end = p.durable.borrow_and_update().end;
        // A range that was in flight is resent exactly as it was, at once.
        let resend = p.forced.take();
        let batch = match self.read_batch(&mut p.read, end, resend).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the write-ahead log");
                p.forced = resend;
                return Step::ReadFailed;
            }
        };
        let unacked = self.unacked(p.delivered);
        self.metrics
            .wal_unacked_rows
            .store(unacked.max(0), Ordering::Relaxed);
        self.health.waiting.store(unacked.max(0), Ordering::Relaxed);
        let Some(batch) = batch else {
            return Step::CaughtUp;
        };
        if let Some(ts) = batch.first_ts_ms {
            self.metrics
                .wal_oldest_unacked_ms
                .store((self.clock.now_ms() - ts).max(0), Ordering::Relaxed);
        }
        // Let a small batch grow until it is old enough.
        let since = *p.pending_since.get_or_insert_with(Instant::now);
        if !p.stopping
            && resend.is_none()
            && batch.rows() < self.cfg.batch_rows
            && since.elapsed() < self.cfg.flush_interval
        {
            p.read = batch.start();
            return Step::Grow {
                deadline: since + self.cfg.flush_interval,
            };
        }
        p.pending_since = None;
        Step::Send(batch)
    }

    /// [`Step::CaughtUp`]: progress reported; end if stopping, else wait.
    async fn caught_up(&self, p: &mut Progress) -> Step {
        self.metrics
            .wal_oldest_unacked_ms
            .store(0, Ordering::Relaxed);
        self.health
            .last_progress_ms
            .store(self.clock.now_ms(), Ordering::Relaxed);
        p.pending_since = None;
        if p.stopping {
            return Step::Stop;
        }
        tokio::select! {
            biased;
            _ = &mut p.stop => p.stopping = true,
            r = p.durable.changed() => if r.is_err() { p.stopping = true },
            _ = tokio::time::sleep_until(p.drops_due.into()) => {}
        }
        Step::Read
    }

    /// [`Step::Grow`]: wake for the deadline, or once enough rows are
    /// durable for a full batch (not on every group commit: each wake
    /// rereads).
    async fn grow(&self, p: &mut Progress, deadline: Instant) -> Step {
        loop {
            tokio::select! {
                biased;
                _ = &mut p.stop => { p.stopping = true; break }
                _ = tokio::time::sleep_until(deadline.into()) => break,
                r = p.durable.changed() => {
                    if r.is_err() {
                        p.stopping = true;
                        break;
                    }
                    if self.unacked(p.delivered) >= self.cfg.batch_rows as i64 {
                        break;
                    }
                }
            }
        }
        Step::Read
    }

    /// [`Step::Send`]: deliver the batch; acknowledged only once it is in.
    async fn send(&mut self, p: &mut Progress, batch: Batch) -> Step {
        match self.deliver(&batch).await {
            Ok(n) => {
                p.delivered += n as u64;
                p.read = self.acknowledge(&batch).await;
                self.health
                    .last_progress_ms
                    .store(self.clock.now_ms(), Ordering::Relaxed);
                Step::Read
            }
            Err(e) => {
                Metrics::inc(&self.metrics.flush_errors);
                self.metrics.clickhouse_up.store(0, Ordering::Relaxed);
                tracing::warn!(
                    rows = batch.rows(),
                    error = %crate::store::log_safe(&e),
                    "write to ClickHouse failed; the rows stay in the log and are retried"
                );
                // Send the same range again, with the same token.
                p.read = batch.start();
                p.forced = Some(InFlight {
                    seg: batch.seg,
                    start: batch.offsets[0],
                    end: batch.offsets[batch.rows()],
                });
                if p.stopping {
                    Step::Stop // the rows are safe in the log for the next start
                } else {
                    Step::SendFailed
                }
            }
        }
    }

    /// Read the next batch at or after `read`, up to the durable `end`:
    /// exactly `forced` if given (a batch that was in flight).
    async fn read_batch(
        &mut self,
        read: &mut Pos,
        end: Pos,
        forced: Option<InFlight>,
    ) -> std::io::Result<Option<Batch>> {
        if let Some(InFlight {
            seg,
            start: a,
            end: z,
        }) = forced
        {
            *read = Pos { seg, off: a };
            let len = segment::len(self.log.dir(), seg).await?;
            let mut b = self.read_range(seg, a, z.min(len), usize::MAX).await?;
            if b.offsets[b.rows()] < z {
                tracing::warn!(
                    segment = seg,
                    "a batch in flight before a restart is shorter now; resending what is left"
                );
                b.sent_end = Some(z);
            }
            if b.rows() == 0 {
                *read = Pos {
                    seg,
                    off: z.min(len),
                };
                return Ok(None);
            }
            return Ok(Some(b));
        }
        loop {
            if *read >= end {
                return Ok(None);
            }
            let seg_end = if read.seg == end.seg {
                end.off
            } else {
                segment::len(self.log.dir(), read.seg).await.unwrap_or(0)
            };
            let off = read.off.max(HEADER);
            if off >= seg_end {
                // This sealed segment is done: go to the next one there is.
                let next = segment::next_after(self.log.dir(), read.seg)
                    .await?
                    .unwrap_or(end.seg);
                *read = Pos {
                    seg: next,
                    off: HEADER,
                };
                continue;
            }
            let b = self
                .read_range(read.seg, off, seg_end, self.cfg.batch_rows)
                .await?;
            if b.rows() == 0 {
                // Damage in a sealed segment: what follows cannot be trusted.
                tracing::error!(
                    segment = read.seg,
                    offset = off,
                    "damaged log record; skipping the rest of the segment"
                );
                self.metrics
                    .wal_discarded_bytes
                    .fetch_add(seg_end - off, Ordering::Relaxed);
                *read = Pos {
                    seg: read.seg,
                    off: seg_end,
                };
                continue;
            }
            *read = Pos {
                seg: read.seg,
                off: b.offsets[b.rows()],
            };
            return Ok(Some(b));
        }
    }

    async fn read_range(
        &mut self,
        seg: u64,
        a: u64,
        z: u64,
        max_rows: usize,
    ) -> std::io::Result<Batch> {
        let cap = (z - a).min(self.cfg.batch_bytes as u64) as usize;
        // One read buffer for the writer's life: no zeroing and faulting
        // in a fresh one per batch.
        if self.read_buf.len() < cap {
            self.read_buf.resize(cap, 0);
        }
        let buf = std::mem::take(&mut self.read_buf);
        let (buf, read) = segment::read_exact(self.log.dir(), seg, a, buf, cap).await;
        let batch = read.map(|()| Batch::frame(&buf[..cap], seg, a, max_rows));
        self.read_buf = buf;
        batch
    }

    /// Rows durable in the log and not yet delivered.
    fn unacked(&self, delivered: u64) -> i64 {
        (self.recovered + self.metrics.wal_rows.load(Ordering::Relaxed)) as i64 - delivered as i64
    }

    fn token(&self, seg: u64, a: u64, z: u64) -> String {
        format!("{}-{seg:x}-{a}-{z}", self.log_id)
    }

    async fn insert(
        &self,
        b: &Batch,
        (i, j): (usize, usize),
        token: String,
    ) -> Result<(), clickhouse::error::Error> {
        let t = self.cfg.insert_timeout;
        let table = b.table;
        // Rows a purge fence keeps out are not sent (the same rows every
        // time this range is resent under this view, so the token holds).
        let rows: Vec<&[u8]> = (i..j)
            .map(|r| b.row(r))
            .filter(|row| {
                let fenced = self.hold.as_ref().is_some_and(|g| {
                    !g.is_empty()
                        && crate::sink::row::site_and_ts(row).is_some_and(|(s, ts)| g.blocks(s, ts))
                });
                !fenced
            })
            .collect();
        let kept = rows.len();
        if kept < j - i {
            self.metrics
                .rows_fenced
                .fetch_add((j - i - kept) as u64, Ordering::Relaxed);
        }
        if kept == 0 {
            return Ok(());
        }
        let bytes = rows.iter().map(|r| r.len()).sum();
        // As a Native block (much cheaper for the engine to parse); rows
        // that do not parse go as they are and are refused, then isolated.
        let (sql, body) = match super::native::block(
            &table.columns(),
            table.types(),
            rows.iter().copied(),
            bytes,
        ) {
            Some(block) => (table.insert_sql("Native"), Bytes::from(block)),
            None => (table.insert_sql("RowBinary"), Bytes::from(rows.concat())),
        };
        let mut ins = self
            .client
            .insert_formatted_with(sql)
            .with_setting("insert_deduplication_token", token)
            .with_timeouts(Some(t), Some(t));
        crate::store::timed(t, ins.send(body)).await?;
        crate::store::timed(t, ins.end()).await
    }

    /// Send a batch, splitting out rows ClickHouse refuses. Returns the
    /// rows delivered (written or quarantined).
    async fn deliver(&mut self, b: &Batch) -> Result<usize, clickhouse::error::Error> {
        let n = b.rows();
        let (a, z) = (b.offsets[0], b.offsets[n]);
        if self.hold.is_none() {
            self.hold = self.fences.writer(self.cfg.retry_interval).await;
            if self.hold.is_none() {
                return Err(clickhouse::error::Error::Custom(
                    "purge fences unknown (ClickHouse unreachable); not sending".into(),
                ));
            }
        }
        let mut st = self.cursor.state();
        st.inflight = Some(InFlight {
            seg: b.seg,
            start: a,
            end: b.sent_end.unwrap_or(z),
        });
        if let Err(e) = self.cursor.set(st, true).await {
            // Unrecorded, a crash could resend these rows as another range.
            tracing::error!(error = %e, "cannot write the log cursor; not sending");
            return Err(clickhouse::error::Error::Custom(format!(
                "cannot write the log cursor: {e}"
            )));
        }
        let mut stack = vec![(0, n)];
        while let Some((i, j)) = stack.pop() {
            let (x, mut y) = b.range(i, j);
            if (i, j) == (0, n) {
                y = b.sent_end.unwrap_or(y);
            }
            match self
                .insert(b, (i, j), self.token(b.seg, x, y))
                .await
                .map_err(classify)
            {
                Ok(()) => {
                    self.wrote(b.seg, x, j - i);
                }
                Err(Failure::Data(e)) if j - i == 1 => {
                    self.quarantine(b, i, &e).await;
                }
                Err(Failure::Data(_)) => {
                    let m = (i + j) / 2;
                    stack.push((m, j));
                    stack.push((i, m));
                }
                Err(Failure::Retry(e)) => return Err(e),
            }
        }
        Ok(n)
    }

    fn wrote(&self, seg: u64, start: u64, rows: usize) {
        self.metrics
            .rows_written
            .fetch_add(rows as u64, Ordering::Relaxed);
        if (Pos { seg, off: start }) < self.replay_until {
            self.metrics
                .rows_replayed
                .fetch_add(rows as u64, Ordering::Relaxed);
        }
        Metrics::inc(&self.metrics.batches_written);
        self.metrics.clickhouse_up.store(1, Ordering::Relaxed);
    }

    /// Delete the quarantine's day files past the event TTL (by the
    /// injected clock), and count what is left.
    async fn expire_quarantine(&self, today: i32) {
        let dir = self.log.dir().to_path_buf();
        let ttl = self.cfg.quarantine_ttl_days;
        let Ok((expired, held)) = tokio::task::spawn_blocking(move || {
            let expired = super::quarantine::expire(&dir, today, ttl);
            (expired, super::quarantine::rows_held(&dir, today))
        })
        .await
        else {
            return;
        };
        match expired {
            Ok(n) => {
                self.metrics
                    .quarantine_expired_rows
                    .fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => tracing::error!(error = %e, "cannot expire the quarantine files"),
        }
        if let Ok(n) = held {
            self.metrics
                .quarantine_rows
                .store(n as i64, Ordering::Relaxed);
        }
    }

    async fn quarantine(&self, b: &Batch, i: usize, e: &clickhouse::error::Error) {
        let (dir, today, table) = (
            self.log.dir().to_path_buf(),
            day_of(self.clock.now_ms()),
            b.table,
        );
        let (row, reason, metrics) = (
            b.row(i).to_vec(),
            crate::store::log_safe(e),
            self.metrics.clone(),
        );
        let _ = tokio::task::spawn_blocking(move || {
            super::quarantine::keep(&dir, today, table, &row, &reason, &metrics)
        })
        .await;
        tracing::error!(
            segment = b.seg,
            offset = b.offsets[i],
            error = %crate::store::log_safe(e),
            "ClickHouse refused a row as invalid; moved to the quarantine file"
        );
    }

    /// The batch is in: advance the cursor, delete finished segments.
    async fn acknowledge(&mut self, b: &Batch) -> Pos {
        self.hold = None;
        self.retry.reset();
        let acked = Pos {
            seg: b.seg,
            off: b.offsets[b.rows()],
        };
        if let Err(e) = self
            .cursor
            .set(
                State {
                    acked,
                    inflight: None,
                },
                false,
            )
            .await
        {
            tracing::error!(error = %e, "cannot write the log cursor");
        }
        self.delete_finished(acked).await;
        acked
    }

    /// Delete every sealed segment whose rows are all acknowledged: rows
    /// leave the disk as soon as ClickHouse has them.
    async fn delete_finished(&self, acked: Pos) {
        let active = self.log.durable().borrow().end.seg;
        let freed = segment::delete_acked(self.log.dir(), active, acked).await;
        if freed > 0 {
            self.log.released(freed);
        }
    }
}

/// A durable end to wait on, for tests of the writer.
pub type DurableRx = watch::Receiver<Durable>;

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
