//! The restart: the open visits are put back in memory before the first
//! hit is served, so a restart (or a `SIGKILL`) does not split a visit
//! that had a stored version. First the newest stored version of each
//! visit of the last hour that is not closed (`visits FINAL`), then what
//! the write-ahead log still holds (newer visit versions, and events not
//! yet in a version: `sink` replays them through [`OpenVisits::observe`],
//! the code live hits take). What can still differ (a hit acknowledged but
//! in no version that reached the disk or the engine, put in the wrong
//! place) is reconciled by the rollup, which recomputes every closed day
//! from its events.

use super::{OpenVisits, Stored};
use crate::store::{Store, StoreError};

/// How far back open visits are read: any visit that can still be extended
/// ended within the last 30 minutes. Older ones are put back too (a visit
/// closed by time has no closing version) and forgotten at the first flush
/// without a version, unless a replayed hit of the log changed them.
pub const RELOAD_BACK_MS: i64 = 3_600_000;

#[derive(clickhouse::Row, serde::Deserialize)]
struct Row {
    site: String,
    day: u16,
    visitor_id: u64,
    id: i64,
    start: i64,
    end: i64,
    referrer_source: String,
    channel: String,
    utm_campaign: String,
    country: String,
    device: String,
    event_names: Vec<String>,
    pages: Vec<String>,
    engaged_ms: u64,
    scroll_depth: u8,
    version: u64,
}

const SQL: &str = "SELECT toString(site) AS site, day, visitor_id, toUnixTimestamp64Milli(visit_id) AS id,
       toUnixTimestamp64Milli(start) AS start, toUnixTimestamp64Milli(end) AS end,
       toString(referrer_source) AS referrer_source, toString(channel) AS channel, utm_campaign,
       toString(country) AS country, toString(device) AS device,
       arrayMap(x -> toString(x), event_names) AS event_names, pages, engaged_ms, scroll_depth, version
FROM visits FINAL
WHERE day >= toDate(fromUnixTimestamp64Milli({since:Int64}, 'UTC'))
  AND end >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
  AND closed = 0 AND events > 0";

/// Put back the open visits stored in the engine; returns how many.
pub async fn from_store(
    store: &Store,
    visits: &OpenVisits,
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
        visits.restore(
            Stored {
                site: r.site,
                day: r.day as i32,
                visitor_id: r.visitor_id,
                id: r.id,
                start: r.start,
                end: r.end,
                referrer_source: r.referrer_source,
                channel: r.channel,
                utm_campaign: r.utm_campaign,
                country: r.country,
                device: r.device,
                event_names: r.event_names,
                pages: r.pages,
                engaged_ms: r.engaged_ms,
                scroll_depth: r.scroll_depth,
                closed: false,
                version: r.version,
            }
            .into_visit(),
        );
    }
    Ok(n)
}
