-- Ad-hoc funnels (cookbook 18) over 30 days took 317 ms in bench-analytics
-- (2026-11-29; the target is 150 ms): most of it rebuilt each visit's hit
-- sequence from its event names and pages inside the query (a lambda that
-- indexes `pages` copies the array for every element). Visits now store
-- the sequence: the column's default computes it once, as each visit is
-- written (the sessionizer leaves the column out), and the rows already
-- there get it from the mutation below.

ALTER TABLE sessions
    ADD COLUMN IF NOT EXISTS steps Array(String)
        DEFAULT arrayMap((n, k) -> if(n = 'pageview', pages[k], toString(n)), event_names,
                         arrayCumSum(arrayMap(n -> toUInt32(n = 'pageview'), event_names)))
        COMMENT 'Each hit of the visit in order: the path of a page view, the name of any other event (for ad-hoc funnels)'
        AFTER pages;

-- Written out for the rows already there (a background mutation), so the
-- query never computes them.
ALTER TABLE sessions MATERIALIZE COLUMN steps;

DROP VIEW IF EXISTS analytics_funnel SYNC;

-- Ad-hoc funnels need each visit's sequence of hits: event tier only. A
-- range reaching past what the event tier keeps is refused, not answered
-- with a silently smaller number; configured funnels are rolled up
-- (analytics_funnels_daily). The first step is found with `indexOf` and
-- only the hits after it are folded (the same greedy match as folding the
-- whole sequence); visits are counted per depth before the steps are
-- expanded.
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
        FROM sessions
        WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
          AND (day, version) IN
              (SELECT day, max(version) FROM sessions
               WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date} GROUP BY day)
          AND (SELECT throwIf({from:Date} <= today() - (SELECT toUInt32OrDefault(extract(engine_full, 'toIntervalDay\\((\\d+)\\)'), toUInt32(30)) FROM system.tables WHERE database = currentDatabase() AND name = 'sessions'),
                      'analytics_funnel: ad-hoc funnels read visits, which are kept only for the event retention (policy.event_ttl_days); choose a later from date, or configure the funnel ([[funnels]]) and read analytics_funnels_daily')) = 0
    )
    GROUP BY depth
)
ARRAY JOIN arrayEnumerate({steps:Array(String)}) AS s
GROUP BY s
ORDER BY s
COMMENT 'Ad-hoc funnel within the event retention: how many visits pass each step of pages (/path) and events (name), in order? Parameters: site, from, to, steps. A from date past the event retention is refused';
