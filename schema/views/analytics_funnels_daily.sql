-- The configured funnels ([[funnels]], mirrored into funnel_definitions)
-- per day: rollup_funnels_daily, or open_visits folded over the steps live.
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
