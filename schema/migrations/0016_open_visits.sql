-- Faster answers from the event tier (bench-analytics, 2026-11-29): the
-- visit views' live part read every version of every kept day of
-- `sessions` to find the newest; `open_visits` reads only the days not
-- rolled up yet. The overview's totals get their own view without the
-- visits join, for the questions that need no visits.

-- The newest visits of the days not rolled up yet (no visitor id).
CREATE VIEW IF NOT EXISTS open_visits
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions
WHERE day NOT IN (SELECT day FROM rollup_days)
  AND (site, day, version) IN
      (SELECT site, day, max(version) FROM sessions WHERE day NOT IN (SELECT day FROM rollup_days) GROUP BY site, day)
COMMENT 'Internal: the newest visits of the days not rolled up yet, for the live part of the visit views';

DROP VIEW IF EXISTS analytics_visits_daily SYNC;

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

DROP VIEW IF EXISTS analytics_goals_daily SYNC;

CREATE VIEW IF NOT EXISTS analytics_goals_daily
(
    site             String COMMENT 'Configured site',
    day              Date COMMENT 'UTC day',
    goal_kind        String COMMENT 'event (custom event name) or page (path)',
    goal             String COMMENT 'The event name or path',
    converted_visits UInt64 COMMENT 'Visits that reached the goal; sum() over days'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, goal_kind, goal, converted_visits FROM rollup_goals_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, day, if(startsWith(g, '/'), 'page', 'event') AS goal_kind, g AS goal, count()
FROM open_visits
ARRAY JOIN arrayDistinct(arrayConcat(arrayFilter(e -> e != 'pageview', event_names), pages)) AS g
GROUP BY site, day, goal_kind, goal
COMMENT 'How many visits reached each goal (any custom event or page) per day?';

DROP VIEW IF EXISTS analytics_funnels_daily SYNC;

CREATE VIEW IF NOT EXISTS analytics_funnels_daily
(
    site   String COMMENT 'Configured site',
    day    Date COMMENT 'UTC day',
    funnel String COMMENT 'Configured funnel name ([[funnels]])',
    step   UInt8 COMMENT 'Step number, from 1',
    name   String COMMENT 'The step: /path or event name',
    visits UInt64 COMMENT 'Visits that reached this step in order; sum() over days'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, funnel, step, name, visits FROM rollup_funnels_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, day, funnel, toUInt8(s) AS step, steps[s] AS name, countIf(depth >= s)
FROM
(
    SELECT v.site AS site, v.day AS day, f.name AS funnel, f.steps AS steps,
           arrayFold(
               (acc, hit) -> if(acc < length(f.steps) AND hit = f.steps[acc + 1], acc + 1, acc),
               arrayMap((n, k) -> if(n = 'pageview', pages[k], n), event_names,
                        arrayCumSum(arrayMap(n -> toUInt32(n = 'pageview'), event_names))),
               toUInt64(0)) AS depth
    FROM open_visits AS v
    INNER JOIN (SELECT site, name, steps FROM funnel_definitions FINAL) AS f ON f.site = v.site
)
ARRAY JOIN arrayEnumerate(steps) AS s
GROUP BY site, day, funnel, step, name
COMMENT 'How many visits pass each step of each configured funnel, per day? Sum visits over days';

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
