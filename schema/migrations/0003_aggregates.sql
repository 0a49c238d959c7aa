-- Long-lived aggregates, fed by materialized views from `events`. They hold
-- counts and visitor sketches only: no visitor ids, kept 25 months (the
-- policy's aggregate_ttl_months is applied at startup).

-- Per site and hour: page views, events, visitors.
CREATE TABLE IF NOT EXISTS agg_hourly
(
    site      LowCardinality(String) COMMENT 'Configured site',
    hour      DateTime('UTC') COMMENT 'Start of the UTC hour',
    pageviews SimpleAggregateFunction(sum, UInt64) COMMENT 'Events named pageview',
    events    SimpleAggregateFunction(sum, UInt64) COMMENT 'All events, page views included',
    visitors  AggregateFunction(uniq, UInt64) COMMENT 'Distinct visitor ids (uniq sketch; anonymous hits excluded)'
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site, hour)
TTL hour + INTERVAL 25 MONTH;

CREATE MATERIALIZED VIEW IF NOT EXISTS agg_hourly_mv TO agg_hourly AS
SELECT
    site,
    toStartOfHour(ts) AS hour,
    toUInt64(countIf(name = 'pageview')) AS pageviews,
    toUInt64(count()) AS events,
    uniqStateIf(visitor_id, visitor_id != 0) AS visitors
FROM events
GROUP BY site, hour;

-- Per site, day, dimension and value: the top-N tables.
CREATE TABLE IF NOT EXISTS agg_daily
(
    site      LowCardinality(String) COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    dimension LowCardinality(String) COMMENT 'pathname, hostname, referrer_source, channel, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, region, device, browser, os, language, screen, event, or prop:<key>',
    value     String COMMENT 'The dimension''s value; empty means not known',
    pageviews SimpleAggregateFunction(sum, UInt64) COMMENT 'Events named pageview',
    events    SimpleAggregateFunction(sum, UInt64) COMMENT 'All events',
    visitors  AggregateFunction(uniq, UInt64) COMMENT 'Distinct visitor ids (uniq sketch)'
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, dimension, day, value)
TTL day + INTERVAL 25 MONTH;

CREATE MATERIALIZED VIEW IF NOT EXISTS agg_daily_mv TO agg_daily AS
SELECT
    site,
    toDate(ts) AS day,
    kv.1 AS dimension,
    kv.2 AS value,
    toUInt64(countIf(name = 'pageview')) AS pageviews,
    toUInt64(count()) AS events,
    uniqStateIf(visitor_id, visitor_id != 0) AS visitors
FROM events
ARRAY JOIN arrayConcat(
    [
        ('pathname', pathname), ('hostname', hostname), ('referrer_source', referrer_source),
        ('channel', channel), ('utm_source', utm_source), ('utm_medium', toString(utm_medium)),
        ('utm_campaign', utm_campaign), ('utm_content', utm_content), ('utm_term', utm_term),
        ('country', toString(country)), ('region', toString(region)), ('device', toString(device)),
        ('browser', toString(browser)), ('os', toString(os)), ('language', toString(language)),
        ('screen', toString(screen)), ('event', toString(name))
    ],
    arrayMap((k, v) -> (concat('prop:', toString(k)), v), prop_keys, prop_values)
) AS kv
GROUP BY site, day, dimension, value;

-- Visits, built from events by `tacit serve`'s sessionizer (see
-- docs/ARCHITECTURE.md): a visit ends after 30 minutes without a hit.
-- Rebuilt idempotently for the days that can still change; the newest
-- version of a visit wins.
CREATE TABLE IF NOT EXISTS sessions
(
    site          LowCardinality(String) COMMENT 'Configured site',
    day           Date COMMENT 'UTC day of the visit (visitor ids are per day)',
    visitor_id    UInt64 COMMENT 'Daily pseudonymous visitor id; never exposed in analyst views',
    start         DateTime64(3, 'UTC') COMMENT 'First hit of the visit',
    end           DateTime64(3, 'UTC') COMMENT 'Last hit of the visit',
    pageviews     UInt32 COMMENT 'Page views in the visit',
    events        UInt32 COMMENT 'Events in the visit, page views included',
    entry_page    String COMMENT 'Path of the first page view',
    exit_page     String COMMENT 'Path of the last page view',
    referrer_source LowCardinality(String) COMMENT 'Source of the first hit',
    channel       LowCardinality(String) COMMENT 'Channel of the first hit',
    utm_campaign  String COMMENT 'utm_campaign of the first hit',
    country       LowCardinality(String) COMMENT 'Country of the first hit',
    device        LowCardinality(String) COMMENT 'Device class of the first hit',
    event_names   Array(LowCardinality(String)) COMMENT 'Event names in order (for goals)',
    pages         Array(String) COMMENT 'Page view paths in order (for funnels)',
    version       UInt64 COMMENT 'When this version of the visit was computed (ms)'
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, visitor_id, start)
TTL day + INTERVAL 25 MONTH;
