-- Languages: the language dimension of rollup_daily, or `events` live.
CREATE VIEW IF NOT EXISTS analytics_languages_daily
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    language String COMMENT 'Primary language subtag from Accept-Language; empty if unknown',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, value AS language, pageviews, events, visitors FROM rollup_daily
WHERE dimension = 'language' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, toString(language) AS language, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, language
COMMENT 'Which languages do visitors prefer?';
