-- Daily totals without visits (cheaper than analytics_overview_daily).
CREATE VIEW IF NOT EXISTS analytics_totals_daily
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    visitors  UInt64 COMMENT 'Distinct visitors, exact; sum() over days (visitor ids are daily)',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, visitors, pageviews, events FROM rollup_daily
WHERE dimension = 'all' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, uniqExactIf(visitor_id, visitor_id != 0), countIf(name = 'pageview'), count()
FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day
COMMENT 'How many visitors, page views and events per day (no visits: faster than analytics_overview_daily)?';
