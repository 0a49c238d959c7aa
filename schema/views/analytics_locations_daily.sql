-- Countries and regions: their dimensions of rollup_daily, or `events` live.
CREATE VIEW IF NOT EXISTS analytics_locations_daily
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    level String COMMENT 'country (ISO 3166-1 alpha-2) or region (ISO 3166-2, if the policy keeps regions)',
    value     String COMMENT 'The value (empty: not known)',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, toString(dimension) AS level, value, pageviews, events, visitors FROM rollup_daily
WHERE dimension IN ('country', 'region') AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, kv.1 AS level, kv.2 AS value, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events
ARRAY JOIN [('country', toString(country)), ('region', toString(region))] AS kv
WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, level, value
COMMENT 'Which countries and regions are visitors in?';
