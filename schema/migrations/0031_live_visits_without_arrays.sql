-- An open day's visits, read for less (issue 28): `live_visits` (0030)
-- built every visit's hit list (an array of every hit's time, name and
-- path) even for a read that asks only for counts, bounces and durations,
-- which is most reads (the query API's overview, the realtime figures,
-- the dashboard). About 1.5 µs of engine CPU per event of the day at
-- every such read. Now a fragment (one visit id's events) carries its
-- counts and its first and last page view as plain columns, and the visit
-- takes them from its fragments; the hit list is built only where a read
-- selects `hits`, `pages`, `event_names` or `steps` (the engine leaves
-- out of a view what the query above it does not use). Same columns, same
-- values: the entry page is the visit's earliest page view, the exit page
-- its latest, as before. The views that read it (`analytics_visits`,
-- `open_visits`, `analytics_funnel`) read it by name and are unchanged.

DROP VIEW IF EXISTS live_visits SYNC;

CREATE VIEW IF NOT EXISTS live_visits
AS
SELECT site, day, visitor_id,
       min(f_start) AS start, max(f_end) AS end,
       dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       arraySort(x -> x.1, arrayFlatten(groupArray(f_hits))) AS hits,
       toUInt32(sum(f_pageviews)) AS pageviews,
       toUInt32(sum(f_events)) AS events,
       toUInt8(events <= 1) AS bounced,
       arrayMap(x -> x.3, arrayFilter(x -> x.2 = 'pageview', hits)) AS pages,
       argMinIf(f_entry, f_entry_ts, f_pageviews > 0) AS entry_page,
       argMaxIf(f_exit, f_exit_ts, f_pageviews > 0) AS exit_page,
       argMin(f_referrer_source, f_start) AS referrer_source, argMin(f_channel, f_start) AS channel,
       argMin(f_utm_campaign, f_start) AS utm_campaign, argMin(f_country, f_start) AS country,
       argMin(f_device, f_start) AS device,
       arrayMap(x -> x.2, hits) AS event_names,
       arrayMap(x -> if(x.2 = 'pageview', x.3, x.2), hits) AS steps,
       toUInt64(count()) AS fragments
FROM
(
    SELECT *, sum(new_visit) OVER (PARTITION BY site, day, visitor_id ORDER BY f_start, new_visit DESC ROWS UNBOUNDED PRECEDING) AS visit_no
    FROM
    (
        SELECT *,
               toUInt8(dateDiff('second',
                                max(f_end) OVER (PARTITION BY site, day, visitor_id ORDER BY f_start
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                                f_start) > 1800) AS new_visit
        FROM
        (
            SELECT toString(site) AS site, toDate(ts) AS day, visitor_id,
                   min(ts) AS f_start, max(ts) AS f_end,
                   count() AS f_events, countIf(name = 'pageview') AS f_pageviews,
                   argMinIf(pathname, ts, name = 'pageview') AS f_entry, minIf(ts, name = 'pageview') AS f_entry_ts,
                   argMaxIf(pathname, ts, name = 'pageview') AS f_exit, maxIf(ts, name = 'pageview') AS f_exit_ts,
                   argMin(toString(referrer_source), ts) AS f_referrer_source,
                   argMin(toString(channel), ts) AS f_channel,
                   argMin(utm_campaign, ts) AS f_utm_campaign,
                   argMin(toString(country), ts) AS f_country,
                   argMin(toString(device), ts) AS f_device,
                   groupArray((ts, toString(name), pathname)) AS f_hits
            FROM events
            WHERE visitor_id != 0 AND toDate(ts) NOT IN (SELECT day FROM rollup_days)
            GROUP BY site, day, visitor_id, visit_id, if(visit_id = 0, ts, toDateTime64(0, 3, 'UTC'))
        )
    )
)
GROUP BY site, day, visitor_id, visit_no
COMMENT 'Internal: the visits of the days not rolled up yet, from their events (each visit id a fragment, fragments within 30 minutes of each other one visit), for the live part of the visit views and the realtime figures; hit lists built only when read';
