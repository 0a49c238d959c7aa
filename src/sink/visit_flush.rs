//! Live visits to the log: every `sink.visits_flush_interval_ms` the open
//! visits ([`crate::visits::OpenVisits`]) hand over the versions that
//! changed (a visit closed by time is written only if it changed), were
//! closed early at the memory cap or were retracted,
//! and each is appended to the visits' own write-ahead log
//! (`wal-visits/` beside `wal/`, opened and delivered by the same code as the events'
//! log, so its rows never cut an events batch). From there its writer
//! delivers them like events (in log order, with the range's
//! deduplication token, exactly once), to `visits`, whose
//! `ReplacingMergeTree(version)` keeps the newest version of each visit.
//! Nobody waits for these rows to be synced: a visit version lost with an
//! unsynced tail is rewritten by the visit's next change, and a closed
//! day's visits are recomputed from its events by the rollup in any case.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::log::Log;
use super::row::StoredRow;
use crate::model::clock::SharedClock;
use crate::telemetry::metrics::Metrics;
use crate::visits::OpenVisits;

/// Append the versions due now; returns how many were logged. `metrics`
/// are the process's; `log_metrics` the visits' log's own.
pub fn flush(
    visits: &OpenVisits,
    log: &Log,
    now_ms: i64,
    metrics: &Metrics,
    log_metrics: &Metrics,
) -> usize {
    // Every version encoded into one buffer (no allocation per version),
    // appended once the shards' locks are released.
    let mut buf: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    visits.drain(now_ms, |v| {
        v.write_row_binary(&mut buf);
        ends.push(buf.len());
    });
    let st = &visits.stats;
    let copy = |from: &std::sync::atomic::AtomicU64, to: &std::sync::atomic::AtomicU64| {
        to.store(from.load(Ordering::Relaxed), Ordering::Relaxed)
    };
    copy(&st.evicted, &metrics.visits_evicted);
    copy(&st.merged, &metrics.visits_merged);
    copy(&log_metrics.rows_written, &metrics.visit_rows_written);
    let level = |from: &std::sync::atomic::AtomicI64, to: &std::sync::atomic::AtomicI64| {
        to.store(from.load(Ordering::Relaxed), Ordering::Relaxed)
    };
    level(&st.open, &metrics.visits_open);
    level(&st.bytes, &metrics.visits_bytes);
    let mut logged = 0;
    let mut from = 0;
    for &to in &ends {
        let r = &buf[from..to];
        from = to;
        match log.append(r, false) {
            Ok(_) => logged += 1,
            Err(_) => {
                metrics.visit_rows_unlogged.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    metrics
        .visit_versions
        .fetch_add(logged as u64, Ordering::Relaxed);
    logged
}

/// Put back what the log still holds (on start, before any hit): the
/// newest logged version of each visit replaces an older one in memory,
/// then each event row not yet in a visit in memory joins its visit
/// through [`OpenVisits::observe`], as a live hit does. Returns the
/// (versions, events) replayed.
pub fn replay(
    dir: &std::path::Path,
    visit_dir: &std::path::Path,
    visits: &OpenVisits,
) -> (usize, usize) {
    let mut versions: Vec<crate::visits::Visit> = Vec::new();
    let mut hits = Vec::new();
    for d in [visit_dir, dir] {
        let r = super::segment::each_unacked_row(d, |payload| {
            if let Some(v) = super::row::visit_of(payload) {
                versions.push(v);
            } else if super::row::visit_hit(payload).is_some() {
                hits.push(payload.to_vec());
            }
            true
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot read a log back for the open visits");
        }
    }
    let n = versions.len();
    for v in versions {
        visits.restore(v);
    }
    let mut replayed = 0;
    for h in hits.iter().filter_map(|row| super::row::visit_hit(row)) {
        if h.visitor_id != 0 && !visits.covers(&h) {
            visits.observe(&h);
            replayed += 1;
        }
    }
    (n, replayed)
}

/// Flush every `every` until `stop` says so, then once more (the changes
/// of the last interval), before the log closes. `every` is measured on
/// the wall and on the collector's clock, whichever passes first: the same
/// with the system clock; with an injected clock running faster (a bench's
/// compressed day) versions are written per interval of the day's time, as
/// they would be in real time.
pub async fn run(
    visits: Arc<OpenVisits>,
    log: Arc<Log>,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    log_metrics: Arc<Metrics>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let step = every.min(Duration::from_millis(50));
    let mut tick = tokio::time::interval(step);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let every_ms = every.as_millis() as i64;
    let mut wall = tokio::time::Instant::now();
    let mut last = clock.now_ms();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let now = clock.now_ms();
        if wall.elapsed() < every && now.saturating_sub(last) < every_ms {
            continue;
        }
        wall = tokio::time::Instant::now();
        last = now;
        flush(&visits, &log, now, &metrics, &log_metrics);
    }
    flush(&visits, &log, clock.now_ms(), &metrics, &log_metrics);
}
