//! The restart: the assigner is put back before the first hit is served,
//! so a restart (or a `SIGKILL`) does not start new visit ids for visits
//! still open. First the visits of the last 30 minutes (and the grace) as
//! the stored events hold them (per visitor-day and visit id: its first and
//! last hit), then the write-ahead log's undelivered rows, which carry
//! their ids already (`sink` reads them back and hands them to
//! [`super::Assigner::restore`] too). A hit acknowledged but lost (an
//! unsynced tail) changes nothing here; a split that remains (a row the
//! restart missed) is a fragment the views merge.

use super::{Assigner, GRACE_MS, VISIT_GAP_SECONDS};
use crate::store::{Store, StoreError};

/// How far back stored events are read: any visit that can still be
/// extended had a hit within the last 30 minutes (and the grace).
pub const RELOAD_BACK_MS: i64 = (VISIT_GAP_SECONDS + 1) * 1000 + GRACE_MS;

#[derive(clickhouse::Row, serde::Deserialize)]
struct Row {
    site: String,
    visitor_id: u64,
    visit_id: u64,
    start: i64,
    end: i64,
}

const SQL: &str = "SELECT toString(site) AS site, visitor_id, visit_id,
       toUnixTimestamp64Milli(min(ts)) AS start, toUnixTimestamp64Milli(max(ts)) AS end
FROM events
WHERE ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
  AND toDate(ts) >= toDate(fromUnixTimestamp64Milli({since:Int64}, 'UTC'))
  AND visitor_id != 0 AND visit_id != 0
GROUP BY site, toDate(ts), visitor_id, visit_id";

/// Put back the visits of the last 30 minutes the engine holds; returns
/// how many visit ids were read.
pub async fn from_store(
    store: &Store,
    visits: &Assigner,
    now_ms: i64,
) -> Result<usize, StoreError> {
    let rows: Vec<Row> = store
        .client()
        .query(SQL)
        .param("since", now_ms - RELOAD_BACK_MS)
        .fetch_all()
        .await?;
    let n = rows.len();
    for r in rows {
        visits.restore(&r.site, r.visitor_id, r.visit_id, r.start, r.end);
    }
    Ok(n)
}
