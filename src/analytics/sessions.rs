//! A closed day's visits, from its events, into `sessions`. A visit is a
//! run of one visitor's hits on one site with no gap over 30 minutes.
//! Visitor ids are per UTC day (the salt rotates), so a day is a closed
//! unit.
//!
//! An open day's visits are built from its events at query time (view
//! `live_visits`, merging the half-hour fragments the collectors' visit
//! ids mark: `visits/`). This module recomputes a closed day's visits from
//! its events into `sessions` when the day is rolled up (the source of
//! truth for closed days: late rows count), and holds the rule's SQL
//! that `tacit import` runs over its staged rows. Readers take the newest
//! version of each visit (`FINAL`); a recomputation deletes the older ones.

use crate::model::clock::format_day;
use crate::store::{Store, StoreError};

/// Inactivity that ends a visit.
pub const VISIT_GAP_SECONDS: u32 = 30 * 60;

const MS_PER_DAY: i64 = 86_400_000;

/// Columns of a visit as the recomputation writes them (`steps`, migration
/// 0020, is left to its column default in `sessions`).
const VISIT_COLUMNS: &str =
    "site, day, visitor_id, start, end, pageviews, events, entry_page, exit_page, \
     referrer_source, channel, utm_campaign, country, device, event_names, pages, version";

/// Visits from segments: each segment is either one event or an open visit
/// (`fresh` = 0) that later events may extend. Segments of a visitor are
/// ordered by their first hit; one starts a new visit when it begins more
/// than the gap after the previous one ended. Segments starting at the same
/// millisecond (common in imported logs, which have whole seconds) are
/// numbered with the one that starts a visit first, so they all join it
/// (otherwise the sort may put a tie before it, in the previous visit, or
/// in a visit of its own before the first). Only visits with at least one
/// fresh event are written. `{segments}` is a fragment of this file's SQL;
/// the values are the query parameters `version` and `gap`.
const VISITS: &str = "
SELECT site, day, visitor_id,
       min(start) AS first_hit, max(end) AS last_hit,
       toUInt32(sum(pv)) AS n_pageviews, toUInt32(sum(ev)) AS n_events,
       argMinIf(entry, start, pv > 0) AS entry_path,
       argMaxIf(exit, end, pv > 0) AS exit_path,
       argMin(referrer_source, start), argMin(channel, start), argMin(utm_campaign, start),
       argMin(country, start), argMin(device, start),
       arrayFlatten(arrayMap(x -> x.2, arraySort(x -> x.1, groupArray((start, names))))) AS all_names,
       arrayFlatten(arrayMap(x -> x.2, arraySort(x -> x.1, groupArray((start, paths))))) AS all_pages,
       {version:UInt64}
FROM
(
    SELECT *, sum(new_visit) OVER (PARTITION BY site, visitor_id ORDER BY start, new_visit DESC ROWS UNBOUNDED PRECEDING) AS visit_no
    FROM
    (
        SELECT *,
               if(dateDiff('second',
                           lagInFrame(end, 1, toDateTime64(0, 3, 'UTC'))
                               OVER (PARTITION BY site, visitor_id ORDER BY start ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
                           start) > {gap:UInt32}, 1, 0) AS new_visit
        FROM ({segments})
    )
)
GROUP BY site, day, visitor_id, visit_no
HAVING max(fresh) = 1";

/// One event as a segment (from `events` or staged rows, aliased `e`).
const EVENT_SEGMENT: &str = "
SELECT e.site AS site, toDate(e.ts) AS day, e.visitor_id AS visitor_id, e.ts AS start, e.ts AS end,
       toUInt32(e.name = 'pageview') AS pv, toUInt32(1) AS ev, e.pathname AS entry, e.pathname AS exit,
       e.referrer_source AS referrer_source, e.channel AS channel, e.utm_campaign AS utm_campaign,
       e.country AS country, e.device AS device, [e.name] AS names,
       if(e.name = 'pageview', [e.pathname], []) AS paths, toUInt8(1) AS fresh";

/// Every event of day `{day:Date}` up to `{upto:Int64}` (ms).
fn full_segments() -> String {
    format!(
        "{EVENT_SEGMENT} FROM events AS e
         WHERE toDate(e.ts) = {{day:Date}} AND e.visitor_id != 0
           AND e.ts <= fromUnixTimestamp64Milli({{upto:Int64}}, 'UTC')"
    )
}

/// The visits of day `{day:Date}` computed from `source` (a table or a
/// subquery with the `events` columns), in the columns of
/// `analytics_visits` that the rollups read: for `tacit import`, whose days
/// older than the event tier are rolled up from its staged rows. Query
/// parameters `version` and `gap` as for [`VISITS`].
pub fn visits_from(source: &str) -> String {
    let segments = format!(
        "{EVENT_SEGMENT} FROM {source} AS e WHERE toDate(e.ts) = {{day:Date}} AND e.visitor_id != 0"
    );
    format!(
        "SELECT site, day, first_hit AS start, last_hit AS end,
                dateDiff('millisecond', first_hit, last_hit) / 1000.0 AS duration_s,
                n_pageviews AS pageviews, n_events AS events, toUInt8(n_events <= 1) AS bounced,
                entry_path AS entry_page, exit_path AS exit_page,
                arrayMap(x -> toString(x), all_names) AS event_names, all_pages AS pages
         FROM ({})",
        VISITS.replace("{segments}", &segments)
    )
}

/// The insert of the visits from `segments` (a fragment of this file).
fn insert_visits(segments: &str) -> String {
    format!(
        "INSERT INTO sessions ({VISIT_COLUMNS}) {}",
        VISITS.replace("{segments}", segments)
    )
}

/// Run an insert of visits with its values. On a cluster each shard
/// recomputes its own rows (a visitor-day is on one shard); on one server
/// the setting changes nothing.
async fn insert_select(
    store: &Store,
    sql: &str,
    params: &[(&str, i64)],
    day: &str,
    version: u64,
) -> Result<(), StoreError> {
    let mut q = store
        .client()
        .query(sql)
        .with_setting("parallel_distributed_insert_select", "2")
        .param("day", day)
        .param("version", version)
        .param("gap", VISIT_GAP_SECONDS);
    for (name, v) in params {
        q = q.param(name, v);
    }
    Ok(q.execute().await?)
}

/// Recompute the visits of one UTC day, every event up to `upto` (ms), under
/// `version`, and delete older versions of that day.
async fn full_run(store: &Store, day: i32, upto: i64, version: u64) -> Result<(), StoreError> {
    let date = format_day(day);
    let sql = insert_visits(&full_segments());
    insert_select(store, &sql, &[("upto", upto)], &date, version).await?;
    store
        .client()
        .query(&delete_older_sql(store))
        .param("day", &date)
        .param("version", version)
        .execute()
        .await?;
    Ok(())
}

/// The mutation that deletes a day's older visit versions.
pub fn delete_older_sql(store: &Store) -> String {
    format!(
        "ALTER TABLE {} DELETE WHERE day = {{day:Date}} AND version < {{version:UInt64}} \
         SETTINGS mutations_sync = 1",
        store.target("sessions")
    )
}

/// Recompute every visit of one (closed) UTC day under `version` and delete
/// older versions of it: what a rollup does before it counts the visits.
pub async fn sessionize_day(store: &Store, day: i32, version: u64) -> Result<(), StoreError> {
    full_run(store, day, (day as i64 + 1) * MS_PER_DAY - 1, version).await
}

/// Whether the recomputed visits of `day` hold each of its events (with a
/// visitor id) exactly once, by count: a day rolled up before, with no
/// late row reached since. A late row, or a visit written twice, makes the
/// counts differ.
pub async fn complete(store: &Store, day: i32) -> Result<bool, StoreError> {
    let date = format_day(day);
    let (events, in_visits): (u64, u64) = store
        .client()
        .query(
            "SELECT toUInt64(ifNull((SELECT count() FROM events WHERE toDate(ts) = {day:Date} AND visitor_id != 0), 0)),
                    toUInt64(ifNull((SELECT sum(events) FROM sessions FINAL WHERE day = {day:Date}), 0))",
        )
        .param("day", &date)
        .fetch_one()
        .await?;
    Ok(events > 0 && events == in_visits)
}
