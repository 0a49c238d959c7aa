//! Process counters and gauges, exported on the admin listener's `/metrics`
//! in the Prometheus text format (0.0.4), encoded by `prometheus-client`.
//! Labels never carry personal data: only the closed reasons and classes,
//! whose label values are their stable names.
//!
//! The hot path touches plain atomics (one relaxed add per event, no lock);
//! a scrape snapshots them into a fresh `prometheus_client` registry.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{
    EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::model::email::EmailClass;
use crate::model::{DropReason, Rejection};

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the fsync latency buckets, in microseconds.
const FSYNC_BUCKETS_US: [u64; 12] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 1_000_000,
];

/// A latency histogram with fixed buckets (Prometheus `histogram`):
/// lock-free, one atomic add in the bucket it falls in (the encoder makes
/// the counts cumulative).
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; FSYNC_BUCKETS_US.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        if let Some(i) = FSYNC_BUCKETS_US.iter().position(|&le| us <= le) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        get(&self.count)
    }

    fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            sum: get(&self.sum_us) as f64 / 1e6,
            count: self.count(),
            buckets: self
                .buckets
                .iter()
                .zip(FSYNC_BUCKETS_US)
                .map(|(b, le)| (le as f64 / 1e6, get(b)))
                .collect(),
        }
    }
}

/// A [`Histogram`] read at one scrape, in seconds.
#[derive(Debug)]
struct HistogramSnapshot {
    sum: f64,
    count: u64,
    /// (upper bound, observations in this bucket only).
    buckets: Vec<(f64, u64)>,
}

impl EncodeMetric for HistogramSnapshot {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &self.buckets, None)
    }
    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// A closed set whose members label a counter: [`DropReason`],
/// [`Rejection`], [`EmailClass`].
pub trait Closed: Copy + Send + Sync + 'static {
    const ALL: &'static [Self];
    fn index(self) -> usize;
    fn label(self) -> &'static str;
}

macro_rules! closed {
    ($($t:ty),+) => {$(
        impl Closed for $t {
            const ALL: &'static [Self] = <$t as strum::VariantArray>::VARIANTS;
            fn index(self) -> usize {
                self as usize
            }
            fn label(self) -> &'static str {
                self.as_str()
            }
        }
        impl EncodeLabelValue for $t {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                std::fmt::Write::write_str(encoder, self.label())
            }
        }
    )+};
}

closed!(DropReason, Rejection, EmailClass);

/// The label set of the drop counter.
#[derive(Debug, Clone, EncodeLabelSet)]
struct DropLabels {
    reason: DropReason,
}

impl From<DropReason> for DropLabels {
    fn from(reason: DropReason) -> Self {
        DropLabels { reason }
    }
}

/// The label set of the rejection counter.
#[derive(Debug, Clone, EncodeLabelSet)]
struct RejectionLabels {
    reason: Rejection,
}

impl From<Rejection> for RejectionLabels {
    fn from(reason: Rejection) -> Self {
        RejectionLabels { reason }
    }
}

/// The label set of the email counter.
#[derive(Debug, Clone, EncodeLabelSet)]
struct ByClass {
    class: EmailClass,
}

impl From<EmailClass> for ByClass {
    fn from(class: EmailClass) -> Self {
        ByClass { class }
    }
}

/// One counter per member of a closed set, indexed by it: no lock, no map.
pub struct Tally<E: Closed> {
    counts: Box<[AtomicU64]>,
    _set: PhantomData<E>,
}

impl<E: Closed> Default for Tally<E> {
    fn default() -> Self {
        Self {
            counts: E::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            _set: PhantomData,
        }
    }
}

impl<E: Closed> Tally<E> {
    pub fn inc(&self, e: E) {
        self.counts[e.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, e: E) -> u64 {
        get(&self.counts[e.index()])
    }

    /// The counts now, one labelled series per member, in declaration order.
    fn snapshot<L: From<E>>(&self) -> Family<L> {
        Family(E::ALL.iter().map(|&e| (L::from(e), self.get(e))).collect())
    }
}

/// A labelled counter family read at one scrape.
#[derive(Debug)]
struct Family<L>(Vec<(L, u64)>);

impl<L: EncodeLabelSet + std::fmt::Debug> EncodeMetric for Family<L> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, v) in &self.0 {
            encoder
                .encode_family(labels)?
                .encode_counter::<NoLabelSet, _, u64>(v, None)?;
        }
        Ok(())
    }
    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

#[derive(Default)]
pub struct Metrics {
    pub hits_accepted: AtomicU64,
    /// Rows logged whose client left before its answer (stored, unanswered).
    pub hits_unanswered: AtomicU64,
    pub hits_rejected: Tally<Rejection>,
    pub hits_dropped: Tally<DropReason>,
    /// Hits answered 503 because the log (or its buffer) was full.
    pub log_full: AtomicU64,
    /// Hits answered 503 because their log write failed (disk full).
    pub wal_write_failed_rows: AtomicU64,
    pub rows_written: AtomicU64,
    /// Rows not written because a purge fence keeps their site's range out.
    pub rows_fenced: AtomicU64,
    /// Email opens and clicks stored, by class.
    pub email_events: Tally<EmailClass>,
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

fn level(a: &AtomicI64) -> i64 {
    a.load(Ordering::Relaxed)
}

impl Metrics {
    pub fn inc(a: &AtomicU64) {
        a.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dropped(&self, r: DropReason) -> u64 {
        self.hits_dropped.get(r)
    }

    pub fn rejected(&self, r: Rejection) -> u64 {
        self.hits_rejected.get(r)
    }

    /// Every metric's value now, in a registry of its own. Counter names
    /// are given without `_total`, which the encoder appends; help texts
    /// without their final period, which the registry appends.
    fn registry(&self) -> Registry {
        let mut r = Registry::default();
        let counters: [(&str, &str, &AtomicU64); 17] = [
            ("tacit_hits_accepted", "Hits accepted and queued for storage", &self.hits_accepted),
            ("tacit_hits_unanswered", "Hits logged for storage whose client left before the answer (stored all the same)", &self.hits_unanswered),
            ("tacit_log_full", "Hits refused with 503 because the write-ahead log or its buffer was full", &self.log_full),
            ("tacit_wal_write_failed", "Hits refused with 503 because their log write or sync failed (disk full)", &self.wal_write_failed_rows),
            ("tacit_rows_written", "Rows written to ClickHouse", &self.rows_written),
            ("tacit_rows_fenced", "Rows from the log not written because a purge removed their site's range", &self.rows_fenced),
            ("tacit_email_clicks_unlogged", "Email clicks redirected but not stored: the log was full or failed", &self.email_clicks_unlogged),
            ("tacit_batches_written", "Batches written to ClickHouse", &self.batches_written),
            ("tacit_flush_errors", "Failed batch writes (the rows stay in the log and are retried)", &self.flush_errors),
            ("tacit_rows_replayed", "Rows found in the write-ahead log at startup and written since", &self.rows_replayed),
            ("tacit_rows_quarantined", "Rows ClickHouse refused as invalid, moved to the quarantine file", &self.rows_quarantined),
            ("tacit_quarantine_expired_rows", "Quarantined rows deleted with their day's file once older than the event TTL", &self.quarantine_expired_rows),
            ("tacit_bot_pattern_errors", "Bot pattern checks that gave up (backtracking limit); the agent was counted as a bot", &self.bot_pattern_errors),
            ("tacit_wal_discarded_bytes", "Bytes of torn or damaged log tails cut off on recovery", &self.wal_discarded_bytes),
            ("tacit_wal_syncs", "Log syncs: one fdatasync per group commit (durability = \"process\": per periodic sync)", &self.wal_syncs),
            ("tacit_wal_sync_failures", "Periodic log syncs that failed after their rows were answered (durability = \"process\")", &self.wal_sync_failures),
            ("tacit_wal_rows", "Rows made durable in the log", &self.wal_rows),
        ];
        for (name, help, v) in counters {
            r.register(name, help, ConstCounter::new(get(v)));
        }
        r.register(
            "tacit_wal_fsync_seconds",
            "Time to write and fdatasync one log group (durability = \"process\": one periodic fdatasync)",
            self.wal_fsync.snapshot(),
        );
        r.register(
            "tacit_hits_rejected",
            "Hits answered 4xx, by reason",
            self.hits_rejected.snapshot::<RejectionLabels>(),
        );
        r.register(
            "tacit_email_events",
            "Email opens and clicks logged, by class",
            self.email_events.snapshot::<ByClass>(),
        );
        r.register(
            "tacit_hits_dropped",
            "Hits accepted but not stored, by reason",
            self.hits_dropped.snapshot::<DropLabels>(),
        );
        let gauges: [(&str, &str, &AtomicI64); 4] = [
            ("tacit_wal_bytes", "Bytes of the write-ahead log on disk", &self.wal_bytes),
            ("tacit_wal_unacked_rows", "Rows in the log not yet acknowledged by ClickHouse", &self.wal_unacked_rows),
            ("tacit_quarantine_rows", "Rows held in the quarantine files (refused by ClickHouse, kept at most the event TTL)", &self.quarantine_rows),
            ("tacit_clickhouse_up", "1 if the last write to ClickHouse succeeded", &self.clickhouse_up),
        ];
        for (name, help, v) in gauges {
            r.register(name, help, ConstGauge::new(level(v)));
        }
        r.register(
            "tacit_wal_oldest_unacked_seconds",
            "Age of the oldest row not yet acknowledged by ClickHouse (0 when caught up)",
            ConstGauge::new(level(&self.wal_oldest_unacked_ms) as f64 / 1000.0),
        );
        r
    }

    /// Prometheus text exposition ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut s, &self.registry());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names and label names scraped by dashboards, alerts and benches.
    const SCRAPED: &[&str] = &[
        "tacit_hits_accepted_total ",
        "tacit_hits_unanswered_total ",
        "tacit_log_full_total ",
        "tacit_wal_write_failed_total ",
        "tacit_rows_written_total ",
        "tacit_rows_fenced_total ",
        "tacit_email_clicks_unlogged_total ",
        "tacit_batches_written_total ",
        "tacit_flush_errors_total ",
        "tacit_rows_replayed_total ",
        "tacit_rows_quarantined_total ",
        "tacit_quarantine_expired_rows_total ",
        "tacit_bot_pattern_errors_total ",
        "tacit_wal_discarded_bytes_total ",
        "tacit_wal_syncs_total ",
        "tacit_wal_sync_failures_total ",
        "tacit_wal_rows_total ",
        "tacit_wal_fsync_seconds_bucket{le=\"+Inf\"} ",
        "tacit_wal_fsync_seconds_sum ",
        "tacit_wal_fsync_seconds_count ",
        "tacit_hits_rejected_total{reason=\"bad_json\"} ",
        "tacit_email_events_total{class=\"machine\"} ",
        "tacit_hits_dropped_total{reason=\"rate_limited\"} ",
        "tacit_wal_bytes ",
        "tacit_wal_unacked_rows ",
        "tacit_wal_oldest_unacked_seconds ",
        "tacit_quarantine_rows ",
        "tacit_clickhouse_up ",
        "# TYPE tacit_hits_accepted_total counter\n",
        "# TYPE tacit_wal_fsync_seconds histogram\n",
        "# TYPE tacit_wal_bytes gauge\n",
    ];

    #[test]
    fn every_scraped_name_is_exposed() {
        let text = Metrics::default().render();
        for name in SCRAPED {
            assert!(text.contains(name), "{name:?} missing from:\n{text}");
        }
        assert!(!text.contains(".."), "a help text ends in two periods");
    }

    #[test]
    fn labels_are_the_closed_names_and_values_are_counted() {
        let m = Metrics::default();
        m.hits_dropped.inc(DropReason::Bot);
        m.hits_dropped.inc(DropReason::Bot);
        m.hits_rejected.inc(Rejection::BodyTooLarge);
        m.email_events.inc(EmailClass::Human);
        let text = m.render();
        assert!(text.contains("tacit_hits_dropped_total{reason=\"bot\"} 2\n"));
        assert!(text.contains("tacit_hits_dropped_total{reason=\"prefetch\"} 0\n"));
        assert!(text.contains("tacit_hits_rejected_total{reason=\"body_too_large\"} 1\n"));
        assert!(text.contains("tacit_email_events_total{class=\"human\"} 1\n"));
        let dropped = text.matches("tacit_hits_dropped_total{").count();
        assert_eq!(dropped, DropReason::COUNT, "one series per reason");
        assert_eq!(
            text.matches("tacit_hits_rejected_total{").count(),
            Rejection::COUNT
        );
    }

    #[test]
    fn the_seconds_gauge_keeps_its_fraction() {
        let m = Metrics::default();
        m.wal_oldest_unacked_ms.store(2_500, Ordering::Relaxed);
        assert!(m
            .render()
            .contains("tacit_wal_oldest_unacked_seconds 2.5\n"));
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.wal_fsync.observe(Duration::from_micros(40));
        m.wal_fsync.observe(Duration::from_micros(700));
        m.wal_fsync.observe(Duration::from_secs(3));
        let text = m.render();
        let bucket = |le: &str| {
            let key = format!("tacit_wal_fsync_seconds_bucket{{le=\"{le}\"}} ");
            let line = text.lines().find(|l| l.starts_with(&key)).unwrap();
            line[key.len()..].parse::<u64>().unwrap()
        };
        assert_eq!(bucket("+Inf"), 3);
        assert!(text.contains("tacit_wal_fsync_seconds_count 3\n"));
        let first = text
            .lines()
            .find(|l| l.starts_with("tacit_wal_fsync_seconds_bucket"))
            .unwrap();
        assert!(first.ends_with(" 1"), "{first}");
        assert!(
            text.contains("tacit_wal_fsync_seconds_sum 3.00074\n"),
            "{text}"
        );
    }
}
