-- Visits reaching each goal (every custom event and every page) per day:
-- rollup_goals_daily, or open_visits live.
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
