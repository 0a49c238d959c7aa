-- The dashboard's daily overview: totals joined with the day's visits.
CREATE VIEW IF NOT EXISTS analytics_overview_daily
(
    site            String COMMENT 'Configured site',
    day             Date COMMENT 'UTC day',
    visitors        UInt64 COMMENT 'Distinct visitors, exact; sum() over days',
    visits          UInt64 COMMENT 'Visits (30 minutes of inactivity end a visit)',
    pageviews       UInt64 COMMENT 'Page views',
    events          UInt64 COMMENT 'All events',
    bounces         UInt64 COMMENT 'Visits with at most one event',
    duration_s      Float64 COMMENT 'Total visit duration in seconds',
    bounce_rate     Float64 COMMENT 'Share of visits that bounced that day, 0..1 (over a range: sum(bounces) / sum(visits))',
    avg_duration_s  Float64 COMMENT 'Mean visit duration that day in seconds (over a range: sum(duration_s) / sum(visits))',
    pages_per_visit Float64 COMMENT 'Mean page views per visit that day'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT a.site AS site, a.day AS day, a.visitors AS visitors, v.visits AS visits, a.pageviews AS pageviews,
       a.events AS events, v.bounces AS bounces, v.duration_s AS duration_s,
       if(v.visits = 0, 0, v.bounces / v.visits) AS bounce_rate,
       if(v.visits = 0, 0, v.duration_s / v.visits) AS avg_duration_s,
       if(v.visits = 0, 0, v.pageviews / v.visits) AS pages_per_visit
FROM
(
    SELECT site, day, pageviews, events, visitors FROM rollup_daily WHERE dimension = 'all' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
    UNION ALL
    SELECT site, toDate(ts) AS day, countIf(name = 'pageview') AS pageviews, count() AS events, uniqExactIf(visitor_id, visitor_id != 0) AS visitors
    FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days) GROUP BY site, day
) AS a
LEFT JOIN
(
    SELECT site, day, visits, bounces, duration_s, pageviews FROM analytics_visits_daily WHERE kind = 'all'
) AS v ON a.site = v.site AND a.day = v.day
COMMENT 'Visitors, visits, page views, bounce rate and duration per day';
