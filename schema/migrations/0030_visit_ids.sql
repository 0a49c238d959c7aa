-- Live visits derived from the events (issue 28, second design): the
-- collector no longer writes visit versions. It stamps each event with the
-- id of the visit it assigns the hit to (`visit_id`, before the row enters
-- its write-ahead log, so a replay carries the same id), and the engine
-- builds a day's visits from its events at query time until the day is
-- rolled up: the events of one visit id are a fragment (site, day,
-- visitor, id); fragments of one visitor whose gap is at most 30 minutes
-- (in whole seconds, as `analytics/sessions.rs` counts) are one visit. A
-- fragment never spans a gap over 30 minutes (the collector starts a new
-- id there), so merging fragments gives the rule's visits exactly, however
-- the ids were split (two replicas, a restart, an eviction, a late hit).
-- Rolled-up days keep reading `sessions`, recomputed from the events.

ALTER TABLE events
    ADD COLUMN IF NOT EXISTS visit_id UInt64 DEFAULT 0
    COMMENT 'Visit the collector assigned the hit to: a hash of the daily visitor id and the visit''s first hit time, 0 without a visitor id; never linkable across days';

ALTER TABLE import_staging
    ADD COLUMN IF NOT EXISTS visit_id UInt64 DEFAULT 0
    COMMENT 'Always 0: imported hits get their visits from the rule at the rollup';

DROP VIEW IF EXISTS analytics_funnel SYNC;
DROP VIEW IF EXISTS open_visits SYNC;
DROP VIEW IF EXISTS analytics_visits SYNC;
DROP VIEW IF EXISTS live_visits SYNC;

-- Internal: the visits of the days not rolled up yet, built from their
-- events by the 30-minute rule (current within the events' flush
-- interval). Holds the daily visitor id (for the query API's visitor
-- counts); the analyst role has no grant on it. Invoker rights, so the
-- purge fences' table filters on `events` hold through it (the rollup
-- reads it through `analytics_visits`).
CREATE VIEW IF NOT EXISTS live_visits
AS
SELECT site, day, visitor_id,
       min(f_start) AS start, max(f_end) AS end,
       dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       arraySort(x -> x.1, arrayFlatten(groupArray(f_hits))) AS hits,
       toUInt32(length(arrayFilter(x -> x.2 = 'pageview', hits))) AS pageviews,
       toUInt32(length(hits)) AS events,
       toUInt8(events <= 1) AS bounced,
       arrayMap(x -> x.3, arrayFilter(x -> x.2 = 'pageview', hits)) AS pages,
       pages[1] AS entry_page, pages[-1] AS exit_page,
       argMin(f_referrer_source, f_start) AS referrer_source, argMin(f_channel, f_start) AS channel,
       argMin(f_utm_campaign, f_start) AS utm_campaign, argMin(f_country, f_start) AS country,
       argMin(f_device, f_start) AS device,
       arrayMap(x -> x.2, hits) AS event_names,
       arrayMap(x -> if(x.2 = 'pageview', x.3, x.2), hits) AS steps,
       toUInt64(count()) AS fragments
FROM
(
    SELECT *, sum(new_visit) OVER (PARTITION BY site, day, visitor_id ORDER BY f_start, new_visit DESC ROWS UNBOUNDED PRECEDING) AS visit_no
    FROM
    (
        SELECT *,
               toUInt8(dateDiff('second',
                                max(f_end) OVER (PARTITION BY site, day, visitor_id ORDER BY f_start
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                                f_start) > 1800) AS new_visit
        FROM
        (
            SELECT toString(site) AS site, toDate(ts) AS day, visitor_id,
                   min(ts) AS f_start, max(ts) AS f_end,
                   argMin(toString(referrer_source), ts) AS f_referrer_source,
                   argMin(toString(channel), ts) AS f_channel,
                   argMin(utm_campaign, ts) AS f_utm_campaign,
                   argMin(toString(country), ts) AS f_country,
                   argMin(toString(device), ts) AS f_device,
                   groupArray((ts, toString(name), pathname)) AS f_hits
            FROM events
            WHERE visitor_id != 0 AND toDate(ts) NOT IN (SELECT day FROM rollup_days)
            GROUP BY site, day, visitor_id, visit_id, if(visit_id = 0, ts, toDateTime64(0, 3, 'UTC'))
        )
    )
)
GROUP BY site, day, visitor_id, visit_no
COMMENT 'Internal: the visits of the days not rolled up yet, from their events (each visit id a fragment, fragments within 30 minutes of each other one visit), for the live part of the visit views and the realtime figures';

-- Every visit: a recomputed day's from `sessions`, an open day's from its
-- events (`live_visits`). Invoker rights (the rollup reads it under the
-- purge fences' table filters); the analyst role has no grant.
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
SELECT site, day, start, end, duration_s, pageviews, events, bounced,
       entry_page, exit_page, referrer_source, channel, utm_campaign, country, device,
       event_names, pages
FROM live_visits
WHERE day NOT IN (SELECT day FROM sessions WHERE day NOT IN (SELECT day FROM rollup_days));

-- Internal: the visits of the days not rolled up yet, without visitor ids:
-- from their events (`live_visits`), or from `sessions` for a day already
-- recomputed whose rollup is not recorded yet.
CREATE VIEW IF NOT EXISTS open_visits
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions FINAL
WHERE day NOT IN (SELECT day FROM rollup_days)
UNION ALL
SELECT site, day, duration_s, pageviews, events, bounced, entry_page, exit_page, event_names, pages
FROM live_visits
WHERE day NOT IN (SELECT day FROM sessions WHERE day NOT IN (SELECT day FROM rollup_days))
COMMENT 'Internal: the visits of the days not rolled up yet (from their events, or recomputed and awaiting their rollup), for the live part of the visit views';

-- Ad-hoc funnels fold each visit's hit sequence: `sessions.steps` for a
-- recomputed day, `live_visits.steps` for an open one. Within the event
-- retention only: a range reaching past it is refused; configured funnels
-- are rolled up (analytics_funnels_daily).
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
            SELECT steps FROM live_visits
            WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
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

DROP TABLE IF EXISTS visits SYNC;
