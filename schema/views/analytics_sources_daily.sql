-- Sources: the referrer_source dimension of rollup_daily, or `events` live.
CREATE VIEW IF NOT EXISTS analytics_sources_daily
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    source String COMMENT 'Named source (Google, Newsletter…) or referrer host; empty for direct',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, value AS source, pageviews, events, visitors FROM rollup_daily
WHERE dimension = 'referrer_source' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, referrer_source AS source, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, source
COMMENT 'Which sources send visitors?';
