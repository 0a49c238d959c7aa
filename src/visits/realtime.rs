//! Realtime figures from the live visits (`live_visits`: an open day's
//! visits built from its events by the 30-minute rule): today's visits,
//! bounce rate and mean duration, current within the events' delivery
//! (`sink.flush_interval_ms`). No visitor id leaves the engine.

use crate::model::clock::format_day;
use crate::store::{Store, StoreError};

/// Visits of one site and UTC day so far.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Realtime {
    pub visits: u64,
    /// Visits with at most one event, over visits (0 without visits).
    pub bounce_rate: f64,
    /// Mean seconds between a visit's first and last hit.
    pub visit_duration_s: f64,
    pub pageviews: u64,
    /// Visits still open at the time asked: a hit now would still join
    /// them (their last hit at most 30 minutes ago, in whole seconds, and
    /// the day not over: after midnight a visitor's hits have a new id).
    pub open: u64,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Row {
    visits: u64,
    bounces: u64,
    duration_s: f64,
    pageviews: u64,
    open: u64,
}

/// The SQL, with `{site:String}`, `{day:Date}`, `{now:Int64}` (ms) and
/// `{live:UInt8}` (whether `now` is in `day`): a visit is open while
/// `now`'s second is at most the gap ([`super::VISIT_GAP_SECONDS`]) after
/// its last hit's, on its own day.
pub const SQL: &str = "SELECT count() AS visits, toUInt64(sum(bounced)) AS bounces,
       sum(duration_s) AS duration_s, toUInt64(sum(pageviews)) AS pageviews,
       toUInt64(countIf({live:UInt8} AND toUnixTimestamp(end) + {gap:Int64} >= intDiv({now:Int64}, 1000))) AS open
FROM live_visits WHERE site = {site:String} AND day = {day:Date}";

/// Today's (or any live day's) figures for `site`, at `now_ms`.
pub async fn figures(
    store: &Store,
    site: &str,
    day: i32,
    now_ms: i64,
) -> Result<Realtime, StoreError> {
    let r: Row = store
        .client()
        .query(SQL)
        .param("site", site)
        .param("day", format_day(day))
        .param("now", now_ms)
        .param("gap", super::VISIT_GAP_SECONDS)
        .param("live", u8::from(crate::model::clock::day_of(now_ms) == day))
        .fetch_one()
        .await?;
    let per = |x: f64| {
        if r.visits == 0 {
            0.0
        } else {
            x / r.visits as f64
        }
    };
    Ok(Realtime {
        visits: r.visits,
        bounce_rate: per(r.bounces as f64),
        visit_duration_s: per(r.duration_s),
        pageviews: r.pageviews,
        open: r.open,
    })
}
