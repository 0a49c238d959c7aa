-- Parameterized (site, from, to, steps): an ad-hoc funnel over the visits'
-- hit sequences (`sessions.steps`), so within the event retention only; an
-- earlier `from` is refused rather than answered with a smaller number. The
-- first step is found with indexOf and only the hits after it are folded;
-- visits are counted per depth before the steps are expanded.
CREATE VIEW IF NOT EXISTS analytics_funnel
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT s AS step, {steps:Array(String)}[s] AS name, sumIf(n, depth >= s) AS visits,
       round(if(sumIf(n, depth >= 1) = 0, 0, visits / sumIf(n, depth >= 1)), 4) AS conversion_from_start
FROM
(
    SELECT depth, count() AS n
    FROM
    (
        SELECT indexOf(steps, {steps:Array(String)}[1]) AS first,
               if(first = 0, 0,
                  arrayFold((acc, hit) -> if(acc < length({steps:Array(String)}) AND hit = {steps:Array(String)}[acc + 1], acc + 1, acc),
                            arraySlice(steps, first + 1), toUInt64(1))) AS depth
        FROM sessions FINAL
        WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
          AND (SELECT throwIf({from:Date} <= today() - (SELECT toUInt32OrDefault(extract(engine_full, 'toIntervalDay\\((\\d+)\\)'), toUInt32(30)) FROM system.tables WHERE database = currentDatabase() AND name = 'sessions'),
                      'analytics_funnel: ad-hoc funnels read visits, which are kept only for the event retention (policy.event_ttl_days); choose a later from date, or configure the funnel ([[funnels]]) and read analytics_funnels_daily')) = 0
    )
    GROUP BY depth
)
ARRAY JOIN arrayEnumerate({steps:Array(String)}) AS s
GROUP BY s
ORDER BY s
COMMENT 'Ad-hoc funnel within the event retention: how many visits pass each step of pages (/path) and events (name), in order? Parameters: site, from, to, steps. A from date past the event retention is refused';
