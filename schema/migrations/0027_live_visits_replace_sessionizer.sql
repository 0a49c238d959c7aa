-- Live visits replace the incremental sessionizer (issue 28, item 5).
-- The collectors write each open day's visits to `visits` (migration
-- 0026); the day-close rollup still recomputes a closed day's visits from
-- `events` into `sessions` and stays the source of truth for closed days.
-- The sessionizer's working tables and the views that filled them go.
--
-- A day's visits, in every visit view: the rows in `sessions` once the
-- rollup (or a full recomputation) has written that day, the live
-- `visits` (newest version, retractions left out) before. The days still
-- open are the few not in `rollup_days`, so `sessions` is read for them
-- only (its key starts with site and day: the other days' granules are
-- skipped).

DROP VIEW IF EXISTS events_recent_mv SYNC;
DROP VIEW IF EXISTS sessions_tail_mv SYNC;
DROP TABLE IF EXISTS events_recent SYNC;
DROP TABLE IF EXISTS sessions_tail SYNC;

-- The sessionizer's visits of the days not rolled up are partial copies of
-- what the collectors now write live: dropped, so those days read `visits`
-- until their rollup.
ALTER TABLE sessions DELETE WHERE day NOT IN (SELECT day FROM rollup_days) SETTINGS mutations_sync = 2;

DROP VIEW IF EXISTS analytics_visits SYNC;

-- Every visit, newest version of each: a recomputed day's from `sessions`,
-- an open day's live from `visits`. Invoker rights (the rollup reads it
-- under the purge fences' table filters); the analyst role has no grant.
CREATE VIEW IF NOT EXISTS analytics_visits
(
    site            String COMMENT 'Configured site',
    day             Date COMMENT 'UTC day of the visit',
    start           DateTime64(3, 'UTC') COMMENT 'First hit of the visit',
    end             DateTime64(3, 'UTC') COMMENT 'Last hit of the visit',
    duration_s      Float64 COMMENT 'Seconds between first and last hit',
    pageviews       UInt32 COMMENT 'Page views in the visit',
    events          UInt32 COMMENT 'Events in the visit',
    bounced         UInt8 COMMENT '1 if the visit had at most one page view and no other event',
    entry_page      String COMMENT 'Path of the first page view',
    exit_page       String COMMENT 'Path of the last page view',
    referrer_source String COMMENT 'Source of the first hit',
    channel         String COMMENT 'Channel of the first hit',
    utm_campaign    String COMMENT 'utm_campaign of the first hit',
    country         String COMMENT 'Country of the first hit',
    device          String COMMENT 'Device class of the first hit',
    event_names     Array(String) COMMENT 'Event names in order',
    pages           Array(String) COMMENT 'Page view paths in order'
) AS
SELECT site, day, start, end,
       dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events,
       toUInt8(events <= 1) AS bounced,
       entry_page, exit_page, referrer_source, channel, utm_campaign, country, device,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions FINAL
UNION ALL
SELECT site, day, start, end,
       dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events,
       toUInt8(events <= 1) AS bounced,
       entry_page, exit_page, referrer_source, channel, utm_campaign, country, device,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM visits FINAL
WHERE events > 0 AND day NOT IN (SELECT day FROM rollup_days)
  AND day NOT IN (SELECT day FROM sessions WHERE day NOT IN (SELECT day FROM rollup_days));

DROP VIEW IF EXISTS open_visits SYNC;

-- Internal: the visits of the days not rolled up yet, without visitor ids:
-- live from `visits` (current within sink.visits_flush_interval_ms), or
-- from `sessions` for a day already recomputed whose rollup is not
-- recorded yet.
CREATE VIEW IF NOT EXISTS open_visits
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions FINAL
WHERE day NOT IN (SELECT day FROM rollup_days)
UNION ALL
SELECT site, day, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM visits FINAL
WHERE events > 0 AND day NOT IN (SELECT day FROM rollup_days)
  AND day NOT IN (SELECT day FROM sessions WHERE day NOT IN (SELECT day FROM rollup_days))
COMMENT 'Internal: the newest visits of the days not rolled up yet (live from the collectors, or recomputed and awaiting their rollup), for the live part of the visit views';

DROP VIEW IF EXISTS analytics_funnel SYNC;

-- Ad-hoc funnels fold each visit's hit sequence: `sessions.steps` for a
-- recomputed day, the same sequence built from a live visit's event names
-- and pages for an open one. Within the event retention only: a range
-- reaching past it is refused, not answered with a silently smaller
-- number; configured funnels are rolled up (analytics_funnels_daily). The
-- first step is found with `indexOf` and only the hits after it are
-- folded; visits are counted per depth before the steps are expanded.
CREATE VIEW IF NOT EXISTS analytics_funnel
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT s AS step, {steps:Array(String)}[s] AS name, sumIf(n, depth >= s) AS visits,
       round(if(sumIf(n, depth >= 1) = 0, 0, visits / sumIf(n, depth >= 1)), 4) AS conversion_from_start
FROM
(
    SELECT depth, count() AS n
    FROM
    (
        SELECT indexOf(steps, {steps:Array(String)}[1]) AS first,
               if(first = 0, 0,
                  arrayFold((acc, hit) -> if(acc < length({steps:Array(String)}) AND hit = {steps:Array(String)}[acc + 1], acc + 1, acc),
                            arraySlice(steps, first + 1), toUInt64(1))) AS depth
        FROM
        (
            SELECT steps FROM sessions FINAL
            WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
            UNION ALL
            SELECT arrayMap((n, k) -> if(n = 'pageview', pages[k], toString(n)), event_names,
                            arrayCumSum(arrayMap(n -> toUInt32(n = 'pageview'), event_names))) AS steps
            FROM visits FINAL
            WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date} AND events > 0
              AND day NOT IN (SELECT day FROM rollup_days)
              AND day NOT IN (SELECT day FROM sessions WHERE day BETWEEN {from:Date} AND {to:Date})
        )
        WHERE (SELECT throwIf({from:Date} <= today() - (SELECT toUInt32OrDefault(extract(engine_full, 'toIntervalDay\\((\\d+)\\)'), toUInt32(30)) FROM system.tables WHERE database = currentDatabase() AND name = 'sessions'),
                      'analytics_funnel: ad-hoc funnels read visits, which are kept only for the event retention (policy.event_ttl_days); choose a later from date, or configure the funnel ([[funnels]]) and read analytics_funnels_daily')) = 0
    )
    GROUP BY depth
)
ARRAY JOIN arrayEnumerate({steps:Array(String)}) AS s
GROUP BY s
ORDER BY s
COMMENT 'Ad-hoc funnel within the event retention: how many visits pass each step of pages (/path) and events (name), in order? Parameters: site, from, to, steps. A from date past the event retention is refused';
