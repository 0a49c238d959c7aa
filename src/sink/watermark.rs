//! How far this collector's write-ahead log is delivered, reported to
//! `wal_watermarks` every few seconds: the number of rows ClickHouse has
//! not acknowledged and the receive time of the oldest of them. Partner
//! exports release a period only once every collector that reports has
//! delivered every row received before the period's end
//! (`export::settle`). Nothing about the rows themselves is reported.

use std::path::Path;
use std::time::Duration;

use super::log::each_unacked;
use crate::model::clock::SharedClock;

/// How often a collector reports.
pub const EVERY: Duration = Duration::from_secs(15);

/// At most this many unacknowledged rows are read per report: the oldest
/// rows come first in the log (rows are appended as they are received,
/// within milliseconds of order), so a long backlog after an outage costs
/// no more than this.
const MAX_SCAN: u64 = 100_000;

/// Rows of the log under `dir` not yet acknowledged (counted up to
/// [`MAX_SCAN`]), and the smallest receive time (ms) among those read.
pub fn pending(dir: &Path) -> (u64, Option<i64>) {
    let (mut n, mut oldest) = (0u64, None::<i64>);
    let _ = each_unacked(dir, |_, ts| {
        n += 1;
        oldest = Some(oldest.map_or(ts, |o| o.min(ts)));
        n < MAX_SCAN
    });
    (n, oldest)
}

#[derive(clickhouse::Row, serde::Serialize)]
struct Row<'a> {
    log_id: &'a str,
    reported_at: i64,
    oldest_pending: i64,
    pending: u64,
}

/// Report the log under `dir` once, at `now_ms`.
pub async fn report(
    client: &clickhouse::Client,
    dir: &Path,
    now_ms: i64,
) -> Result<(), clickhouse::error::Error> {
    let log_id = std::fs::read_to_string(dir.join("log-id")).unwrap_or_default();
    let (n, oldest) = pending(dir);
    let mut ins = client.insert::<Row<'_>>("wal_watermarks").await?;
    ins.write(&Row {
        log_id: log_id.trim(),
        reported_at: now_ms,
        oldest_pending: oldest.unwrap_or(now_ms),
        pending: n,
    })
    .await?;
    ins.end().await
}

/// Report every [`EVERY`] until `stop` turns true.
pub async fn run(
    client: clickhouse::Client,
    dir: std::path::PathBuf,
    clock: SharedClock,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        if let Err(e) = report(&client, &dir, clock.now_ms()).await {
            tracing::warn!(error = %crate::store::log_safe(&e), "write-ahead log report failed");
        }
    }
}
