-- The hourly overview without re-aggregation, like the breakdowns (0006):
-- re-aggregating inside the view doubled the cost of a 30-day overview.
-- Rows of one (site, hour) can repeat until background merges combine
-- them, so queries aggregate: sum() the counts, uniqMerge() the sketch.
DROP VIEW IF EXISTS analytics_overview_hourly SYNC;

CREATE VIEW IF NOT EXISTS analytics_overview_hourly
(
    site           String COMMENT 'Configured site',
    hour           DateTime('UTC') COMMENT 'Start of the UTC hour',
    pageviews      UInt64 COMMENT 'Page views (partial: sum() over rows)',
    events         UInt64 COMMENT 'All events, page views included (partial: sum() over rows)',
    visitors_state AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch; uniqMerge() it over rows to count visitors'
) AS
SELECT site, hour, toUInt64(pageviews) AS pageviews, toUInt64(events) AS events, visitors AS visitors_state
FROM agg_hourly;
