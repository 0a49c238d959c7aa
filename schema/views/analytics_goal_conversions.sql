-- Parameterized (site, from, to): goal conversion rates over a range, from
-- analytics_goals_daily and the visits of analytics_visits_daily.
CREATE VIEW IF NOT EXISTS analytics_goal_conversions
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT goal_kind, goal, sum(g.converted_visits) AS converted_visits, any(t.visits) AS visits,
       round(if(visits = 0, 0, converted_visits / visits), 4) AS conversion_rate
FROM analytics_goals_daily AS g
CROSS JOIN
(
    SELECT sum(visits) AS visits FROM analytics_visits_daily
    WHERE kind = 'all' AND site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
) AS t
WHERE g.site = {site:String} AND g.day BETWEEN {from:Date} AND {to:Date}
GROUP BY goal_kind, goal
COMMENT 'What share of visits reaches each goal (custom event or page), over any range? Parameters: site, from, to. Columns: goal_kind, goal, converted_visits, visits, conversion_rate';
