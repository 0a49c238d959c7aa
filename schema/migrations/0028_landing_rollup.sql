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
