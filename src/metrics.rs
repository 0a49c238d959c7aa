//! Process counters and gauges, exported on the admin listener's `/metrics`
//! in the Prometheus text format. Labels never carry personal data: only
//! fixed reasons and outcomes.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::model::{DropReason, Rejection};

#[derive(Default)]
pub struct Metrics {
    pub hits_accepted: AtomicU64,
    pub hits_rejected: [AtomicU64; Rejection::COUNT],
    pub hits_dropped: [AtomicU64; DropReason::COUNT],
    pub queue_full: AtomicU64,
    pub queue_depth: AtomicI64,
    pub rows_written: AtomicU64,
    pub batches_written: AtomicU64,
    pub flush_errors: AtomicU64,
    pub rows_spooled: AtomicU64,
    pub rows_replayed: AtomicU64,
    pub rows_lost_spool_full: AtomicU64,
    pub spool_bytes: AtomicI64,
    pub spool_segments: AtomicI64,
    pub clickhouse_up: AtomicI64,
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
            "tacit_queue_full_total",
            "Hits refused with 503 because the queue was full.",
            get(&self.queue_full),
        );
        counter(
            "tacit_rows_written_total",
            "Rows written to ClickHouse.",
            get(&self.rows_written),
        );
        counter(
            "tacit_batches_written_total",
            "Batches written to ClickHouse.",
            get(&self.batches_written),
        );
        counter(
            "tacit_flush_errors_total",
            "Failed batch writes (rows kept in the spool).",
            get(&self.flush_errors),
        );
        counter(
            "tacit_rows_spooled_total",
            "Rows written to the on-disk spool.",
            get(&self.rows_spooled),
        );
        counter(
            "tacit_rows_replayed_total",
            "Spooled rows later written to ClickHouse.",
            get(&self.rows_replayed),
        );
        counter(
            "tacit_rows_lost_spool_full_total",
            "Rows discarded because the spool hit its size limit.",
            get(&self.rows_lost_spool_full),
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
            "tacit_queue_depth",
            "Events waiting in memory for the writer.",
            self.queue_depth.load(Ordering::Relaxed),
        );
        gauge(
            "tacit_spool_bytes",
            "Bytes in the on-disk spool.",
            self.spool_bytes.load(Ordering::Relaxed),
        );
        gauge(
            "tacit_spool_segments",
            "Segments in the on-disk spool.",
            self.spool_segments.load(Ordering::Relaxed),
        );
        gauge(
            "tacit_clickhouse_up",
            "1 if the last write to ClickHouse succeeded.",
            self.clickhouse_up.load(Ordering::Relaxed),
        );
        s
    }
}
