-- The sessionizer works incrementally (issue 15, engine cost per event).
-- Before, every run recomputed the whole open day from `events`: each event
-- was re-read about 144 times over its day. `events` is sorted by visitor,
-- and its merged parts span the whole day, so "the last few minutes" cannot
-- be read from it without scanning the day. Two small working tables hold
-- what a run needs instead, both sorted and partitioned by the hour of
-- their time, so a run reads only their newest rows, and both gone six hours
-- after they were written (a part is dropped whole once all its rows are):
--
-- * `events_recent`: the columns visits are built from, for each event
--   of yesterday or today with a visitor id, stamped with the engine's
--   time at insert; filled by a materialized view as rows land in
--   `events`. (Older days are recomputed in full when they are rolled up.) A run reads the events
--   after its time cursor, and finds late rows (older than what it already
--   sessionized, e.g. replayed from tacit's log after an outage) by their
--   insert time; a late row sends its day back to a full recompute.
-- * `sessions_tail`: every version of every visit of yesterday or today
--   written to `sessions` in the last hours (a materialized view copies
--   them), sorted by the visit's last hit, so a run can extend a visit that
--   is still open by the events that came after it.
--
-- Visits in `sessions` are now written a few at a time, each under the
-- version of the run that wrote it, so readers take the newest version of
-- each visit (FINAL) instead of the newest version of each day.

CREATE TABLE IF NOT EXISTS events_recent
(
    site            LowCardinality(String) COMMENT 'Configured site',
    ts              DateTime64(3, 'UTC') COMMENT 'When tacit received the hit',
    name            LowCardinality(String) COMMENT 'Event name; pageview for page views',
    visitor_id      UInt64 COMMENT 'Daily pseudonymous visitor id',
    pathname        String COMMENT 'Path of the page URL',
    referrer_source LowCardinality(String) COMMENT 'Named source of the hit',
    channel         LowCardinality(String) COMMENT 'Channel of the hit',
    utm_campaign    String COMMENT 'utm_campaign of the hit',
    country         LowCardinality(String) COMMENT 'Country of the hit',
    device          LowCardinality(String) COMMENT 'Device class of the hit',
    inserted        DateTime64(3, 'UTC') COMMENT 'When the row reached ClickHouse (the engine clock)',
    -- Rows are sorted by time and reach ClickHouse in about that order, so
    -- "inserted since the last run" skips all but the newest granules.
    INDEX inserted_range inserted TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toStartOfHour(ts)
ORDER BY ts
TTL toDateTime(inserted) + INTERVAL 6 HOUR
SETTINGS ttl_only_drop_parts = 1
COMMENT 'Event tier, working table of the sessionizer: the last hours of events, by insert time; kept 6 hours';

CREATE MATERIALIZED VIEW IF NOT EXISTS events_recent_mv TO events_recent AS
SELECT site, ts, name, visitor_id, pathname, referrer_source, channel, utm_campaign, country, device,
       now64(3, 'UTC') AS inserted
FROM events
WHERE visitor_id != 0 AND toDate(ts) >= today() - 1;

CREATE TABLE IF NOT EXISTS sessions_tail
(
    site            LowCardinality(String) COMMENT 'Configured site',
    day             Date COMMENT 'UTC day of the visit',
    visitor_id      UInt64 COMMENT 'Daily pseudonymous visitor id',
    start           DateTime64(3, 'UTC') COMMENT 'First hit of the visit',
    end             DateTime64(3, 'UTC') COMMENT 'Last hit of the visit so far',
    pageviews       UInt32 COMMENT 'Page views in the visit',
    events          UInt32 COMMENT 'Events in the visit, page views included',
    entry_page      String COMMENT 'Path of the first page view',
    exit_page       String COMMENT 'Path of the last page view',
    referrer_source LowCardinality(String) COMMENT 'Source of the first hit',
    channel         LowCardinality(String) COMMENT 'Channel of the first hit',
    utm_campaign    String COMMENT 'utm_campaign of the first hit',
    country         LowCardinality(String) COMMENT 'Country of the first hit',
    device          LowCardinality(String) COMMENT 'Device class of the first hit',
    event_names     Array(LowCardinality(String)) COMMENT 'Event names in order',
    pages           Array(String) COMMENT 'Page view paths in order',
    version         UInt64 COMMENT 'The run that wrote this version of the visit (ms)',
    written         DateTime DEFAULT now() COMMENT 'When the row was written (the engine clock)',
    -- A run's visits end after its cursor: the newest run's rows are found
    -- without reading the rest.
    INDEX version_range version TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toStartOfHour(end)
ORDER BY end
TTL written + INTERVAL 6 HOUR
SETTINGS ttl_only_drop_parts = 1
COMMENT 'Event tier, working table of the sessionizer: every version of the visits of the last hours; kept 6 hours';

-- Every visit of a live day written to `sessions` is also kept in the tail.
CREATE MATERIALIZED VIEW IF NOT EXISTS sessions_tail_mv TO sessions_tail AS
SELECT site, day, visitor_id, start, end, pageviews, events, entry_page, exit_page, referrer_source,
       channel, utm_campaign, country, device, event_names, pages, version
FROM sessions
WHERE day >= today() - 1;

DROP VIEW IF EXISTS analytics_visits SYNC;

-- Visits: the newest version of each visit.
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
FROM sessions FINAL;

DROP VIEW IF EXISTS open_visits SYNC;

-- The newest visits of the days not rolled up yet (no visitor id).
CREATE VIEW IF NOT EXISTS open_visits
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions FINAL
WHERE day NOT IN (SELECT day FROM rollup_days)
COMMENT 'Internal: the newest visits of the days not rolled up yet, for the live part of the visit views';

-- The ad-hoc funnel reads the newest version of each visit too.
DROP VIEW IF EXISTS analytics_funnel SYNC;

-- Ad-hoc funnels need each visit's sequence of hits: event tier only. A
-- range reaching past what the event tier keeps is refused, not answered
-- with a silently smaller number; configured funnels are rolled up
-- (analytics_funnels_daily). The first step is found with `indexOf` and
-- only the hits after it are folded (the same greedy match as folding the
-- whole sequence); visits are counted per depth before the steps are
-- expanded.
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
        FROM sessions FINAL
        WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
          AND (SELECT throwIf({from:Date} <= today() - (SELECT toUInt32OrDefault(extract(engine_full, 'toIntervalDay\\((\\d+)\\)'), toUInt32(30)) FROM system.tables WHERE database = currentDatabase() AND name = 'sessions'),
                      'analytics_funnel: ad-hoc funnels read visits, which are kept only for the event retention (policy.event_ttl_days); choose a later from date, or configure the funnel ([[funnels]]) and read analytics_funnels_daily')) = 0
    )
    GROUP BY depth
)
ARRAY JOIN arrayEnumerate({steps:Array(String)}) AS s
GROUP BY s
ORDER BY s
COMMENT 'Ad-hoc funnel within the event retention: how many visits pass each step of pages (/path) and events (name), in order? Parameters: site, from, to, steps. A from date past the event retention is refused';
