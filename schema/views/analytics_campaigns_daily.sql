-- The five UTM tags: their dimensions of rollup_daily, or `events` live.
CREATE VIEW IF NOT EXISTS analytics_campaigns_daily
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    utm_field String COMMENT 'Which UTM tag: utm_source, utm_medium, utm_campaign, utm_content or utm_term',
    value     String COMMENT 'The value (empty: not known)',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, toString(dimension) AS utm_field, value, pageviews, events, visitors FROM rollup_daily
WHERE dimension IN ('utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term') AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, kv.1 AS utm_field, kv.2 AS value, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events
ARRAY JOIN [('utm_source', utm_source), ('utm_medium', toString(utm_medium)), ('utm_campaign', utm_campaign), ('utm_content', utm_content), ('utm_term', utm_term)] AS kv
WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, utm_field, value
COMMENT 'Which UTM campaigns, sources, media, contents and terms brought visitors?';
