-- Internal: the visits of the days not rolled up yet, without visitor
-- ids; the live half of the visit views reads it.
CREATE VIEW IF NOT EXISTS open_visits
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions FINAL
WHERE day NOT IN (SELECT day FROM rollup_days)
COMMENT 'Internal: the newest visits of the days not rolled up yet, for the live part of the visit views';
