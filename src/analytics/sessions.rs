//! The sessionizer: turns events into visits in `sessions`. A visit is a
//! run of one visitor's hits on one site with no gap over 30 minutes.
//! Visitor ids are per UTC day (the salt rotates), so a day is a closed
//! unit.
//!
//! It works incrementally (migration 0021). Each run takes the events
//! whose time is after its cursor (`events_recent`, sorted by time), joins
//! each visitor's still-open visit (`sessions_tail`: every version of the
//! visits written in the last hours, sorted by their last hit, copied by a
//! materialized view), and writes the extended and the new visits to
//! `sessions` under the run's version; readers take the newest version of
//! each visit (`FINAL`). A visit row is always a whole visit from its first
//! hit to its last: a run only ever extends the version that reaches
//! furthest, by the events after its last hit, so replicas running at once
//! never count an event twice.
//!
//! A day is recomputed in full from `events` (and its older versions
//! deleted) when the process starts, when its cursor is older than the
//! working tables keep, and when a late row arrives: a row inserted since
//! the last run whose time is at or before the cursor (replayed from the
//! log after an outage, say). Late rows are found by the engine's insert
//! time in `events_recent`. A closed day is recomputed once more, in full,
//! when it is rolled up, unless its visits hold exactly its events.

use crate::model::clock::{day_of, format_day};
use crate::store::{Store, StoreError};

/// Inactivity that ends a visit.
pub const VISIT_GAP_SECONDS: u32 = 30 * 60;

const MS_PER_DAY: i64 = 86_400_000;

/// How long the working tables are read back: a cursor older than this
/// sends its days to a full run (they keep six hours).
const TAIL_READ_BACK_MS: i64 = 4 * 3_600_000;

/// Columns of a visit as the sessionizer writes them (`steps`, migration
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

/// One event as a segment (from `events` or `events_recent`, aliased `e`).
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

/// The events of day `{day:Date}` after `{after:Int64}` up to
/// `{upto:Int64}` (ms) not yet in a visit, and the open visit each visitor
/// with such events may extend: the version reaching furthest of its visits
/// that ended after `{low:Int64}`.
/// (The row is picked by its key rather than with `argMax` over the whole
/// row, which copies every array it passes.)
fn incremental_segments() -> String {
    let fresh = "SELECT site, ts, name, visitor_id, pathname, referrer_source, channel, utm_campaign, country, device
         FROM events_recent
         WHERE ts > fromUnixTimestamp64Milli({after:Int64}, 'UTC')
           AND ts <= fromUnixTimestamp64Milli({upto:Int64}, 'UTC')
           AND toDate(ts) = {day:Date}";
    let tail = "sessions_tail WHERE day = {day:Date} AND end >= fromUnixTimestamp64Milli({low:Int64}, 'UTC')";
    let furthest = format!(
        "SELECT site, visitor_id, max((end, version)) AS m FROM {tail}
           AND (site, visitor_id) IN (SELECT site, visitor_id FROM ({fresh}))
         GROUP BY site, visitor_id"
    );
    format!(
        "{EVENT_SEGMENT}
         FROM ({fresh}) AS e
         LEFT JOIN ({furthest}) AS o ON e.site = o.site AND e.visitor_id = o.visitor_id
         WHERE e.ts > o.m.1
         UNION ALL
         SELECT site, day, visitor_id, start, end, pageviews, events, entry_page, exit_page, referrer_source,
                channel, utm_campaign, country, device, event_names, pages, toUInt8(0)
         FROM {tail}
           AND (site, visitor_id, end, version) IN (SELECT site, visitor_id, m.1, m.2 FROM ({furthest}))"
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
/// sessionizes its own rows (a visitor-day is on one shard); on one server
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
/// `version`, and delete older versions of that day. (A live day's visits
/// reach the working table through its materialized view.)
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

/// Whether the visits of `day` hold each of its events (with a visitor id)
/// exactly once, by count: a day the live sessionizer kept up with, and no
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

/// The live visits of `day` the rollup's recomputation repairs: per site
/// and visitor, the live visits (`visits`, built by the collectors) beyond
/// the visits recomputed from the events (`sessions`), summed. A visitor
/// whose hits reached two replicas, or who came back to a visit closed
/// early at the memory cap, shows here; a count that stays above 0 day
/// after day means the load balancer's affinity does not hold.
pub async fn live_splits(store: &Store, day: i32) -> Result<u64, StoreError> {
    Ok(store
        .client()
        .query(
            "SELECT toUInt64(sum(greatest(toInt64(live) - toInt64(exact), 0))) FROM (
                 SELECT site, visitor_id, countIf(src = 1) AS live, countIf(src = 2) AS exact FROM (
                     SELECT site, visitor_id, 1 AS src FROM visits FINAL WHERE day = {day:Date} AND events > 0
                     UNION ALL
                     SELECT site, visitor_id, 2 AS src FROM sessions FINAL WHERE day = {day:Date})
                 GROUP BY site, visitor_id)",
        )
        .param("day", format_day(day))
        .fetch_one()
        .await?)
}

/// Extend and add the visits of `day` with the events after `after` up to
/// `upto` (ms), under `version`.
async fn incremental_run(
    store: &Store,
    day: i32,
    after: i64,
    upto: i64,
    version: u64,
) -> Result<(), StoreError> {
    let low = after - VISIT_GAP_SECONDS as i64 * 1000 - 60_000;
    let sql = insert_visits(&incremental_segments());
    let params = [("low", low), ("after", after), ("upto", upto)];
    insert_select(store, &sql, &params, &format_day(day), version).await
}

/// How far behind the clocks the cursors stay.
#[derive(Debug, Clone, Copy)]
pub struct Margins {
    /// Events newer than this (tacit's clock, ms) wait for the next run, so
    /// the rows still on their way are not taken for late ones.
    pub event_ms: i64,
    /// Rows inserted within this (the engine's clock, ms) are checked for
    /// lateness by the next run: an insert can take this long to show.
    pub insert_ms: i64,
}

impl Default for Margins {
    fn default() -> Self {
        Margins {
            event_ms: 120_000,
            insert_ms: 60_000,
        }
    }
}

/// Where a run stopped: every event up to `upto` (tacit's clock, ms) is in
/// a visit, and every row inserted up to `inserted` (the engine's clock)
/// was checked for lateness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    upto: i64,
    inserted: i64,
}

/// The live sessionizer of one process: today's and yesterday's visits.
#[derive(Debug, Default)]
pub struct Sessionizer {
    margins: Margins,
    cursor: Option<Cursor>,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct LateDay {
    day: u16,
}

impl Sessionizer {
    pub fn new(margins: Margins) -> Self {
        Sessionizer {
            margins,
            cursor: None,
        }
    }

    /// Bring yesterday's and today's visits up to `now_ms` (tacit's clock)
    /// less the margin; returns the days recomputed in full. Failures leave
    /// the cursor where it was, so the next run retries the same events.
    pub async fn run(&mut self, store: &Store, now_ms: i64) -> Result<Vec<i32>, StoreError> {
        let engine_now: i64 = store
            .client()
            .query("SELECT toUnixTimestamp64Milli(now64(3))")
            .fetch_one()
            .await?;
        let next = Cursor {
            upto: now_ms - self.margins.event_ms,
            inserted: engine_now - self.margins.insert_ms,
        };
        let today = day_of(next.upto);
        let version = now_ms as u64;
        let mut full: Vec<i32> = match self.cursor {
            Some(c) if next.upto - c.upto <= TAIL_READ_BACK_MS && next.upto >= c.upto => {
                self.late_days(store, c, next.inserted).await?
            }
            _ => vec![today - 1, today],
        };
        full.retain(|d| *d >= today - 1);
        for &day in &full {
            full_run(store, day, next.upto, version).await?;
            tracing::info!(day = %format_day(day), first_run = self.cursor.is_none(), "visits recomputed in full");
        }
        if let Some(c) = self.cursor {
            for day in [today - 1, today] {
                let (start, end) = (day as i64 * MS_PER_DAY, (day as i64 + 1) * MS_PER_DAY - 1);
                if full.contains(&day) || c.upto >= end || next.upto < start {
                    continue;
                }
                incremental_run(store, day, c.upto, next.upto, version).await?;
            }
        }
        self.cursor = Some(next);
        Ok(full)
    }

    /// Days with a row inserted since the cursor whose time is at or before
    /// what the cursor already sessionized.
    async fn late_days(
        &self,
        store: &Store,
        c: Cursor,
        inserted: i64,
    ) -> Result<Vec<i32>, StoreError> {
        let rows: Vec<LateDay> = store
            .client()
            .query(
                "SELECT DISTINCT toDate(ts) AS day FROM events_recent
                 WHERE inserted > fromUnixTimestamp64Milli({from:Int64}, 'UTC')
                   AND inserted <= fromUnixTimestamp64Milli({to:Int64}, 'UTC')
                   AND ts <= fromUnixTimestamp64Milli({upto:Int64}, 'UTC')",
            )
            .param("from", c.inserted)
            .param("to", inserted)
            .param("upto", c.upto)
            .fetch_all()
            .await?;
        Ok(rows.into_iter().map(|r| r.day as i32).collect())
    }
}
