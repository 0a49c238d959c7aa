-- Device, browser, OS and screen classes: their dimensions of rollup_daily,
-- or `events` live.
CREATE VIEW IF NOT EXISTS analytics_technology_daily
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    kind String COMMENT 'device, browser, os or screen',
    value     String COMMENT 'The value (empty: not known)',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, toString(dimension) AS kind, value, pageviews, events, visitors FROM rollup_daily
WHERE dimension IN ('device', 'browser', 'os', 'screen') AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, kv.1 AS kind, kv.2 AS value, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events
ARRAY JOIN [('device', toString(device)), ('browser', toString(browser)), ('os', toString(os)), ('screen', toString(screen))] AS kv
WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, kind, value
COMMENT 'Which devices, browsers, operating systems and screens?';
