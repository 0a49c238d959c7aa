//! The batching writer. Request handlers hand events to a bounded queue
//! ([`SinkHandle::submit`]; when it is full the hit is refused with 503 and
//! counted, never silently dropped). One writer task owns the batch: it
//! flushes by rows or period, keeps every row until ClickHouse acknowledges
//! its insert, spools failed batches to disk, and replays the spool when
//! ClickHouse answers again. On shutdown it drains the queue, flushes, and
//! spools whatever could not be written: nothing accepted is lost.

pub mod spool;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use tokio::sync::{mpsc, oneshot};

use crate::model::clock::SharedClock;
use crate::config::SinkConfig;
use crate::model::sync::lock;
use crate::model::DropReason;
use crate::metrics::Metrics;
use crate::privacy::Event;
use spool::Spool;

#[derive(clickhouse::Row, serde::Serialize)]
struct DropRow<'a> {
    day: u16,
    site: &'a str,
    reason: &'a str,
    hits: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("queue full")]
    Full,
    #[error("sink is shut down")]
    Closed,
}

type DropKey = (i32, &'static str, DropReason);

/// Dropped-hit counts waiting to be written to `dropped_hits`.
#[derive(Default)]
struct DropCounts(Mutex<HashMap<DropKey, u64>>);

/// The request side: cheap to clone.
#[derive(Clone)]
pub struct SinkHandle {
    tx: mpsc::Sender<Event>,
    metrics: Arc<Metrics>,
    drops: Arc<DropCounts>,
}

impl SinkHandle {
    /// Count a dropped hit for the data-quality aggregate.
    pub fn count_drop(&self, day: i32, site: &'static str, reason: DropReason) {
        *lock(&self.drops.0)
            .entry((day, site, reason))
            .or_insert(0) += 1;
    }

    pub fn submit(&self, ev: Event) -> Result<(), SinkError> {
        match self.tx.try_send(ev) {
            Ok(()) => {
                self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                Metrics::inc(&self.metrics.queue_full);
                Err(SinkError::Full)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(SinkError::Closed),
        }
    }
}

/// The writer task's handle: ask it to drain and stop.
pub struct SinkTask {
    stop: oneshot::Sender<()>,
    join: tokio::task::JoinHandle<()>,
}

impl SinkTask {
    /// Drain the queue, flush, replay what can be replayed, then return.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.join.await;
    }
}

pub fn spawn(
    client: clickhouse::Client,
    cfg: SinkConfig,
    spool: Spool,
    metrics: Arc<Metrics>,
    clock: SharedClock,
) -> (SinkHandle, SinkTask) {
    let (tx, rx) = mpsc::channel(cfg.queue_capacity);
    let (stop_tx, stop_rx) = oneshot::channel();
    let drops = Arc::new(DropCounts::default());
    let writer = Writer {
        drops: drops.clone(),
        client,
        batch: Vec::with_capacity(cfg.batch_rows.min(100_000)),
        cfg,
        spool,
        metrics: metrics.clone(),
        clock,
        next_replay: Instant::now(),
    };
    let join = tokio::spawn(writer.run(rx, stop_rx));
    (
        SinkHandle { tx, metrics, drops },
        SinkTask {
            stop: stop_tx,
            join,
        },
    )
}

struct Writer {
    drops: Arc<DropCounts>,
    client: clickhouse::Client,
    cfg: SinkConfig,
    batch: Vec<Event>,
    spool: Spool,
    metrics: Arc<Metrics>,
    clock: SharedClock,
    next_replay: Instant,
}

/// How long the writer lets events gather between receives.
const COALESCE: Duration = Duration::from_millis(5);

fn new_token() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Event>, mut stop: oneshot::Receiver<()>) {
        self.refresh_spool_gauges();
        let mut tick =
            tokio::time::interval(self.cfg.flush_interval.min(Duration::from_millis(250)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch_started: Option<Instant> = None;
        let mut drops_due = Instant::now();
        loop {
            let room = self.cfg.batch_rows.saturating_sub(self.batch.len()).max(1);
            tokio::select! {
                biased;
                _ = &mut stop => break,
                n = rx.recv_many(&mut self.batch, room) => {
                    if n == 0 {
                        break;
                    }
                    self.metrics.queue_depth.fetch_sub(n as i64, Ordering::Relaxed);
                    batch_started.get_or_insert_with(Instant::now);
                    if self.batch.len() >= self.cfg.batch_rows {
                        self.flush().await;
                        batch_started = None;
                    } else {
                        // Let events gather in the queue instead of waking
                        // this task for each one: a hit costs a send, not a
                        // thread wake-up. Adds at most this much to the
                        // flush delay.
                        tokio::time::sleep(COALESCE).await;
                    }
                },
                _ = tick.tick() => {
                    if batch_started.is_some_and(|t| t.elapsed() >= self.cfg.flush_interval) {
                        self.flush().await;
                        batch_started = None;
                    }
                    self.replay_due().await;
                    if drops_due.elapsed() >= self.cfg.flush_interval {
                        self.write_drops().await;
                        drops_due = Instant::now();
                    }
                }
            }
        }
        // Shutdown: take everything already queued, then write it.
        rx.close();
        while let Some(ev) = rx.recv().await {
            self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
            self.batch.push(ev);
            if self.batch.len() >= self.cfg.batch_rows {
                self.flush().await;
            }
        }
        self.flush().await;
        self.next_replay = Instant::now();
        self.replay_due().await;
        self.write_drops().await;
        tracing::info!(
            rows_written = self.metrics.rows_written.load(Ordering::Relaxed),
            spool_segments = self.metrics.spool_segments.load(Ordering::Relaxed),
            "sink stopped"
        );
    }

    /// Write dropped-hit counts; on failure they are kept for the next try.
    async fn write_drops(&self) {
        let counts: Vec<(DropKey, u64)> =
            lock(&self.drops.0).drain().collect();
        if counts.is_empty() {
            return;
        }
        let result = async {
            let mut ins = self.client.insert::<DropRow>("dropped_hits").await?;
            for ((day, site, reason), hits) in &counts {
                ins.write(&DropRow {
                    day: *day as u16,
                    site,
                    reason: reason.as_str(),
                    hits: *hits,
                })
                .await?;
            }
            ins.end().await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %crate::store::log_safe(&e), "cannot write dropped-hit counts; will retry");
            let mut m = lock(&self.drops.0);
            for (k, n) in counts {
                *m.entry(k).or_insert(0) += n;
            }
        }
    }

    async fn insert(&self, rows: &[Event], token: &str) -> Result<(), clickhouse::error::Error> {
        let mut insert = self
            .client
            .insert::<Event>("events")
            .await?
            .with_setting("insert_deduplication_token", token)
            .with_timeouts(Some(Duration::from_secs(10)), Some(Duration::from_secs(30)));
        for r in rows {
            insert.write(r).await?;
        }
        insert.end().await
    }

    async fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let rows = std::mem::take(&mut self.batch);
        let token = new_token();
        // While a spool backlog exists, keep order: new batches go behind it.
        let backlog = self.metrics.spool_segments.load(Ordering::Relaxed) > 0;
        if !backlog {
            match self.insert(&rows, &token).await {
                Ok(()) => {
                    self.wrote(rows.len());
                    return;
                }
                Err(e) => {
                    Metrics::inc(&self.metrics.flush_errors);
                    self.metrics.clickhouse_up.store(0, Ordering::Relaxed);
                    tracing::warn!(
                        rows = rows.len(),
                        error = %crate::store::log_safe(&e),
                        "write to ClickHouse failed; spooling batch"
                    );
                    self.next_replay = Instant::now() + self.cfg.retry_interval;
                }
            }
        }
        self.spool_batch(&rows, &token);
    }

    fn spool_batch(&mut self, rows: &[Event], token: &str) {
        match self.spool.write(token, rows, self.clock.now_ms()) {
            Ok(_) => {
                self.metrics
                    .rows_spooled
                    .fetch_add(rows.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                self.metrics
                    .rows_lost_spool_full
                    .fetch_add(rows.len() as u64, Ordering::Relaxed);
                tracing::error!(rows = rows.len(), error = %e, "cannot spool batch; rows discarded");
            }
        }
        self.refresh_spool_gauges();
    }

    fn wrote(&self, n: usize) {
        self.metrics
            .rows_written
            .fetch_add(n as u64, Ordering::Relaxed);
        Metrics::inc(&self.metrics.batches_written);
        self.metrics.clickhouse_up.store(1, Ordering::Relaxed);
    }

    fn refresh_spool_gauges(&self) {
        let segs = self.spool.segments().map(|s| s.len()).unwrap_or(0);
        self.metrics
            .spool_segments
            .store(segs as i64, Ordering::Relaxed);
        self.metrics
            .spool_bytes
            .store(self.spool.bytes() as i64, Ordering::Relaxed);
    }

    /// Replay spooled segments, oldest first, until one fails.
    async fn replay_due(&mut self) {
        if self.metrics.spool_segments.load(Ordering::Relaxed) == 0
            || Instant::now() < self.next_replay
        {
            return;
        }
        let segments = match self.spool.segments() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot list spool");
                return;
            }
        };
        for path in segments {
            let seg = match self.spool.read(&path) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "quarantining unreadable spool segment");
                    self.spool.quarantine(&path);
                    continue;
                }
            };
            match self.insert(&seg.rows, &seg.token).await {
                Ok(()) => {
                    self.wrote(seg.rows.len());
                    self.metrics
                        .rows_replayed
                        .fetch_add(seg.rows.len() as u64, Ordering::Relaxed);
                    if let Err(e) = self.spool.remove(&seg.path) {
                        tracing::error!(error = %e, "cannot remove replayed segment");
                    }
                    tracing::info!(rows = seg.rows.len(), "replayed spooled batch");
                }
                Err(e) => {
                    Metrics::inc(&self.metrics.flush_errors);
                    self.metrics.clickhouse_up.store(0, Ordering::Relaxed);
                    tracing::warn!(error = %crate::store::log_safe(&e), "replay failed; will retry");
                    self.next_replay = Instant::now() + self.cfg.retry_interval;
                    break;
                }
            }
        }
        self.refresh_spool_gauges();
    }
}
