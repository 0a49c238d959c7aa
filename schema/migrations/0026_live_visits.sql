-- Live visits (issue 28): each collector keeps its open visits in memory
-- and writes a visit's newest version through its write-ahead log (with
-- the range's deduplication token, like events) at most once per
-- sink.visits_flush_interval_ms, and once more when it closes. The table
-- keeps the newest version of each visit. A version with no events is a
-- retraction: a late hit merged the visit into an earlier one. Closed
-- days stay recomputed from `events` by the rollup (`sessions`).
CREATE TABLE IF NOT EXISTS visits
(
    site            LowCardinality(String) COMMENT 'Configured site',
    start           DateTime64(3, 'UTC') COMMENT 'First hit of the visit',
    day             Date COMMENT 'UTC day of the visit (visitor ids are per day)',
    visitor_id      UInt64 COMMENT 'Daily pseudonymous visitor id; never exposed in analyst views',
    visit_id        DateTime64(3, 'UTC') COMMENT 'The visit within its visitor-day: the time of the first hit its collector saw',
    end             DateTime64(3, 'UTC') COMMENT 'Last hit of the visit so far',
    pageviews       UInt32 COMMENT 'Page views in the visit',
    events          UInt32 COMMENT 'Events in the visit, page views included; 0 for a retracted visit',
    entry_page      String COMMENT 'Path of the first page view',
    exit_page       String COMMENT 'Path of the last page view',
    referrer_source LowCardinality(String) COMMENT 'Source of the first hit',
    channel         LowCardinality(String) COMMENT 'Channel of the first hit',
    utm_campaign    String COMMENT 'utm_campaign of the first hit',
    country         LowCardinality(String) COMMENT 'Country of the first hit',
    device          LowCardinality(String) COMMENT 'Device class of the first hit',
    event_names     Array(LowCardinality(String)) COMMENT 'Event names in order',
    pages           Array(String) COMMENT 'Page view paths in order',
    engaged_ms      UInt64 COMMENT 'Engaged time the tracker reported over the visit (ms)',
    scroll_depth    UInt8 COMMENT 'Deepest scroll the tracker reported (percent)',
    closed          UInt8 COMMENT '1 for a final version (the visit can no longer be extended, or was closed early at the memory cap)',
    version         UInt64 COMMENT 'When the collector wrote this version (ms); the newest is kept'
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, visitor_id, visit_id)
TTL day + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Event tier: live visits written by the collectors, newest version per visit (visitor id, times to the millisecond, pages and events in order); kept policy.event_ttl_days';

-- Internal: the newest version of each live visit, without visitor ids or
-- retractions; realtime figures read it.
CREATE VIEW IF NOT EXISTS live_visits
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, start, end, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       referrer_source, channel, utm_campaign, country, device,
       arrayMap(x -> toString(x), event_names) AS event_names, pages, engaged_ms, closed
FROM visits FINAL
WHERE events > 0
COMMENT 'Internal: the newest version of each live visit (collector-built, current within sink.visits_flush_interval_ms), for realtime figures';
