-- Landing dimensions per visit on closed days (issue 29). A visit's source,
-- referrer, channel and UTM tags are its landing hit's (the first hit of
-- the visit); every hit of the visit counts under them, as the query API
-- counts them on the event tier (Plausible's visit properties).
-- `rollup_daily` keeps counting each hit by its own referrer (the analyst
-- views read it); this table holds the per-visit counts the query API
-- reads for closed days, so a source breakdown no longer joins hits to
-- visits at query time. The rollup job fills it with the day's other
-- rollups (src/analytics/rollup.rs) and rolls up again, from the event
-- tier, every retained day rolled up before it existed.
CREATE TABLE IF NOT EXISTS rollup_landing_daily
(
    site      LowCardinality(String) COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    dimension LowCardinality(String) COMMENT 'referrer_source, referrer (the referrer host), channel, utm_source, utm_medium, utm_campaign, utm_content or utm_term: the value of the visit''s landing hit',
    value     String COMMENT 'The landing hit''s value; empty means not known (an anonymous hit, in no visit, keeps its own)',
    pageviews UInt64 COMMENT 'Page views of the visits that landed with this value',
    events    UInt64 COMMENT 'All events of those visits',
    visitors  UInt64 COMMENT 'Distinct visitors that day with such a visit, exact',
    version   UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, dimension, day, value, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Page views, events and exact visitor counts per site, day and landing value of a visit (source, referrer, channel, UTM tags)';

-- One filter over closed days (issue 29's filtered first screen): the same
-- counts per value of one per-visitor dimension (country, device, browser,
-- os), so a dashboard filtered by one of them reads counts instead of a
-- month of hits. Cross-tabulations are finer than the other rollups, so
-- they live only as long as the event tier they are computed from
-- (policy.event_ttl_days): within it they answer the same as the event
-- tier, and past it a filtered query is refused as before.
CREATE TABLE IF NOT EXISTS rollup_filtered_daily
(
    site         LowCardinality(String) COMMENT 'Configured site',
    day          Date COMMENT 'UTC day',
    filter       LowCardinality(String) COMMENT 'The filtering dimension: country, device, browser or os (the hit''s own value)',
    filter_value String COMMENT 'Its value',
    dimension    LowCardinality(String) COMMENT 'all (the totals of the hits with that value), pathname, country, device, browser, os, or a landing dimension counted per visit as in rollup_landing_daily',
    value        String COMMENT 'The dimension''s value; empty means not known',
    pageviews    UInt64 COMMENT 'Page views',
    events       UInt64 COMMENT 'All events',
    visitors     UInt64 COMMENT 'Distinct visitors that day, exact',
    version      UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, filter, filter_value, dimension, day, value, version)
TTL day + INTERVAL 30 DAY
COMMENT 'Event tier: page views, events and exact visitors per site, day, value of one filtering dimension and value of one breakdown; kept policy.event_ttl_days';

CREATE TABLE IF NOT EXISTS rollup_visits_filtered_daily
(
    site         LowCardinality(String) COMMENT 'Configured site',
    day          Date COMMENT 'UTC day',
    filter       LowCardinality(String) COMMENT 'country or device (the visit''s landing hit''s), browser or os (any hit of the visitor that day)',
    filter_value String COMMENT 'Its value',
    kind         LowCardinality(String) COMMENT 'all (the visits), entry_page or exit_page',
    value        String COMMENT 'The entry or exit page; empty for all',
    visits       UInt64 COMMENT 'Visits',
    bounces      UInt64 COMMENT 'Visits with at most one event',
    duration_s   Float64 COMMENT 'Total duration of the visits, seconds',
    pageviews    UInt64 COMMENT 'Total page views of the visits',
    version      UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, filter, filter_value, kind, day, value, version)
TTL day + INTERVAL 30 DAY
COMMENT 'Event tier: visit counts, bounces and durations per site, day and value of one filtering dimension, overall and by entry and exit page; kept policy.event_ttl_days';
