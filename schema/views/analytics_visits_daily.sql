-- Visit counts, bounces and total durations per day, overall and by entry
-- and exit page: rollup_visits_daily for rolled-up days, open_visits for
-- the others.
CREATE VIEW IF NOT EXISTS analytics_visits_daily
(
    site       String COMMENT 'Configured site',
    day        Date COMMENT 'UTC day',
    kind       String COMMENT 'all (every visit of the day), entry_page or exit_page',
    value      String COMMENT 'The entry or exit page; empty for all',
    visits     UInt64 COMMENT 'Visits',
    bounces    UInt64 COMMENT 'Visits with at most one event',
    duration_s Float64 COMMENT 'Total duration of the visits in seconds (divide by visits for the mean)',
    pageviews  UInt64 COMMENT 'Total page views of the visits'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, kind, value, visits, bounces, duration_s, pageviews FROM rollup_visits_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, day, kv.1 AS kind, kv.2 AS value, count(), sum(bounced), sum(duration_s), sum(pageviews)
FROM open_visits
ARRAY JOIN [('all', ''), ('entry_page', entry_page), ('exit_page', exit_page)] AS kv
GROUP BY site, day, kind, value
COMMENT 'How many visits, bounces and how long, per day, overall and by entry and exit page? Sum the columns over days';
