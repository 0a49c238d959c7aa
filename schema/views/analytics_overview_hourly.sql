-- Page views, events and visitors per site and hour. Rolled-up days come
-- from rollup_hourly (newest version), the others from `events`.
CREATE VIEW IF NOT EXISTS analytics_overview_hourly
(
    site      String COMMENT 'Configured site',
    hour      DateTime('UTC') COMMENT 'Start of the UTC hour',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors in the hour, exact (a visitor active in two hours counts in both)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, hour, pageviews, events, visitors FROM rollup_hourly WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toStartOfHour(ts) AS hour, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, hour
COMMENT 'Page views, events and visitors per hour';
