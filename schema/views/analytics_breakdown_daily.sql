-- Every dimension in one view: rollup_daily for rolled-up days, `events`
-- expanded into (dimension, value) pairs for the others.
CREATE VIEW IF NOT EXISTS analytics_breakdown_daily
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    dimension String COMMENT 'all (totals), pathname, hostname, referrer_source, channel, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, region, device, browser, os, language, screen, event, or prop:<key>',
    value     String COMMENT 'Value of the dimension (empty: not known)',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, toString(dimension) AS dimension, value, pageviews, events, visitors FROM rollup_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, kv.1 AS dimension, kv.2 AS value, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events
ARRAY JOIN arrayConcat([('all', '')], [('pathname', pathname), ('hostname', hostname), ('referrer_source', referrer_source), ('channel', channel), ('utm_source', utm_source), ('utm_medium', toString(utm_medium)), ('utm_campaign', utm_campaign), ('utm_content', utm_content), ('utm_term', utm_term), ('country', toString(country)), ('region', toString(region)), ('device', toString(device)), ('browser', toString(browser)), ('os', toString(os)), ('language', toString(language)), ('screen', toString(screen)), ('event', toString(name))],
    arrayMap((k, v) -> (concat('prop:', toString(k)), v), prop_keys, prop_values)) AS kv
WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, dimension, value
COMMENT 'Every dimension in one table: page views, events and exact visitors per site, day and value';
