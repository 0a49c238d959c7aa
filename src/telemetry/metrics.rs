//! Process counters and gauges, exported on the admin listener's `/metrics`
//! in the Prometheus text format. Labels never carry personal data: only
//! fixed reasons and outcomes.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::model::{DropReason, Rejection};

/// Upper bounds of the fsync latency buckets, in microseconds.
const FSYNC_BUCKETS_US: [u64; 12] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 1_000_000,
];

/// A cumulative latency histogram with fixed buckets (Prometheus
/// `histogram`): lock-free, one atomic add per bucket crossed.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; FSYNC_BUCKETS_US.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        for (b, le) in self.buckets.iter().zip(FSYNC_BUCKETS_US) {
            if us <= le {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        get(&self.count)
    }

    fn render(&self, s: &mut String, name: &str, help: &str) {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, le) in self.buckets.iter().zip(FSYNC_BUCKETS_US) {
            let _ = writeln!(s, "{name}_bucket{{le=\"{}\"}} {}", le as f64 / 1e6, get(b));
        }
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {}", self.count());
        let _ = writeln!(s, "{name}_sum {}", get(&self.sum_us) as f64 / 1e6);
        let _ = writeln!(s, "{name}_count {}", self.count());
    }
}

#[derive(Default)]
pub struct Metrics {
    pub hits_accepted: AtomicU64,
    /// Rows logged whose client left before its answer (stored, unanswered).
    pub hits_unanswered: AtomicU64,
    pub hits_rejected: [AtomicU64; Rejection::COUNT],
    pub hits_dropped: [AtomicU64; DropReason::COUNT],
    /// Hits answered 503 because the log (or its buffer) was full.
    pub log_full: AtomicU64,
    /// Hits answered 503 because their log write failed (disk full).
    pub wal_write_failed_rows: AtomicU64,
    pub rows_written: AtomicU64,
    /// Rows not written because a purge fence keeps their site's range out.
    pub rows_fenced: AtomicU64,
    /// Email opens and clicks stored: `[human, machine]`.
    pub email_events: [AtomicU64; 2],
    /// Clicks redirected but not stored (the log was full or failed).
    pub email_clicks_unlogged: AtomicU64,
    pub batches_written: AtomicU64,
    pub flush_errors: AtomicU64,
    /// Rows found in the log at startup and later written.
    pub rows_replayed: AtomicU64,
    pub rows_quarantined: AtomicU64,
    /// Quarantined rows deleted because their day passed the event TTL.
    pub quarantine_expired_rows: AtomicU64,
    /// Rows held in the quarantine files now.
    pub quarantine_rows: AtomicI64,
    pub wal_bytes: AtomicI64,
    pub wal_discarded_bytes: AtomicU64,
    pub wal_syncs: AtomicU64,
    pub wal_rows: AtomicU64,
    pub wal_fsync: Histogram,
    /// Periodic syncs (`durability = "process"`) that failed after their rows were answered.
    pub wal_sync_failures: AtomicU64,
    /// Age in milliseconds of the oldest row not yet acknowledged by ClickHouse.
    pub wal_oldest_unacked_ms: AtomicI64,
    /// Rows in the log not yet acknowledged by ClickHouse.
    pub wal_unacked_rows: AtomicI64,
    pub clickhouse_up: AtomicI64,
    /// Bot patterns that gave up on an agent (it was counted as a bot).
    pub bot_pattern_errors: std::sync::Arc<AtomicU64>,
}

fn get(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

impl Metrics {
    pub fn inc(a: &AtomicU64) {
        a.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dropped(&self, r: DropReason) -> u64 {
        get(&self.hits_dropped[r as usize])
    }

    pub fn rejected(&self, r: Rejection) -> u64 {
        get(&self.hits_rejected[r as usize])
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(2048);
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            "tacit_hits_accepted_total",
            "Hits accepted and queued for storage.",
            get(&self.hits_accepted),
        );
        counter(
            "tacit_hits_unanswered_total",
            "Hits logged for storage whose client left before the answer (stored all the same).",
            get(&self.hits_unanswered),
        );
        counter(
            "tacit_log_full_total",
            "Hits refused with 503 because the write-ahead log or its buffer was full.",
            get(&self.log_full),
        );
        counter(
            "tacit_wal_write_failed_total",
            "Hits refused with 503 because their log write or sync failed (disk full).",
            get(&self.wal_write_failed_rows),
        );
        counter(
            "tacit_rows_written_total",
            "Rows written to ClickHouse.",
            get(&self.rows_written),
        );
        counter(
            "tacit_rows_fenced_total",
            "Rows from the log not written because a purge removed their site's range.",
            get(&self.rows_fenced),
        );
        counter(
            "tacit_email_clicks_unlogged_total",
            "Email clicks redirected but not stored: the log was full or failed.",
            get(&self.email_clicks_unlogged),
        );
        counter(
            "tacit_batches_written_total",
            "Batches written to ClickHouse.",
            get(&self.batches_written),
        );
        counter(
            "tacit_flush_errors_total",
            "Failed batch writes (the rows stay in the log and are retried).",
            get(&self.flush_errors),
        );
        counter(
            "tacit_rows_replayed_total",
            "Rows found in the write-ahead log at startup and written since.",
            get(&self.rows_replayed),
        );
        counter(
            "tacit_rows_quarantined_total",
            "Rows ClickHouse refused as invalid, moved to the quarantine file.",
            get(&self.rows_quarantined),
        );
        counter(
            "tacit_quarantine_expired_rows_total",
            "Quarantined rows deleted with their day's file once older than the event TTL.",
            get(&self.quarantine_expired_rows),
        );
        counter(
            "tacit_bot_pattern_errors_total",
            "Bot pattern checks that gave up (backtracking limit); the agent was counted as a bot.",
            get(&self.bot_pattern_errors),
        );
        counter(
            "tacit_wal_discarded_bytes_total",
            "Bytes of torn or damaged log tails cut off on recovery.",
            get(&self.wal_discarded_bytes),
        );
        counter(
            "tacit_wal_syncs_total",
            "Log syncs: one fdatasync per group commit (durability = \"process\": per periodic sync).",
            get(&self.wal_syncs),
        );
        counter(
            "tacit_wal_sync_failures_total",
            "Periodic log syncs that failed after their rows were answered (durability = \"process\").",
            get(&self.wal_sync_failures),
        );
        counter(
            "tacit_wal_rows_total",
            "Rows made durable in the log.",
            get(&self.wal_rows),
        );
        self.wal_fsync.render(
            &mut s,
            "tacit_wal_fsync_seconds",
            "Time to write and fdatasync one log group (durability = \"process\": one periodic fdatasync).",
        );
        let _ = writeln!(s, "# HELP tacit_hits_rejected_total Hits answered 4xx, by reason.\n# TYPE tacit_hits_rejected_total counter");
        for &r in Rejection::ALL {
            let _ = writeln!(
                s,
                "tacit_hits_rejected_total{{reason=\"{}\"}} {}",
                r.as_str(),
                self.rejected(r)
            );
        }
        let _ = writeln!(s, "# HELP tacit_email_events_total Email opens and clicks logged, by class.\n# TYPE tacit_email_events_total counter");
        for (i, class) in ["human", "machine"].iter().enumerate() {
            let _ = writeln!(
                s,
                "tacit_email_events_total{{class=\"{class}\"}} {}",
                get(&self.email_events[i])
            );
        }
        let _ = writeln!(s, "# HELP tacit_hits_dropped_total Hits accepted but not stored, by reason.\n# TYPE tacit_hits_dropped_total counter");
        for &r in DropReason::ALL {
            let _ = writeln!(
                s,
                "tacit_hits_dropped_total{{reason=\"{}\"}} {}",
                r.as_str(),
                self.dropped(r)
            );
        }
        let mut gauge = |name: &str, help: &str, v: i64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            "tacit_wal_bytes",
            "Bytes of the write-ahead log on disk.",
            self.wal_bytes.load(Ordering::Relaxed),
        );
        gauge(
            "tacit_wal_unacked_rows",
            "Rows in the log not yet acknowledged by ClickHouse.",
            self.wal_unacked_rows.load(Ordering::Relaxed),
        );
        gauge(
            "tacit_wal_oldest_unacked_seconds",
            "Age of the oldest row not yet acknowledged by ClickHouse (0 when caught up).",
            self.wal_oldest_unacked_ms.load(Ordering::Relaxed) / 1000,
        );
        gauge(
            "tacit_quarantine_rows",
            "Rows held in the quarantine files (refused by ClickHouse, kept at most the event TTL).",
            self.quarantine_rows.load(Ordering::Relaxed),
        );
        gauge(
            "tacit_clickhouse_up",
            "1 if the last write to ClickHouse succeeded.",
            self.clickhouse_up.load(Ordering::Relaxed),
        );
        s
    }
}
