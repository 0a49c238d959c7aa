-- Custom events (not page views): the event dimension of rollup_daily, or
-- `events` live.
CREATE VIEW IF NOT EXISTS analytics_custom_events_daily
(
    site        String COMMENT 'Configured site',
    day         Date COMMENT 'UTC day',
    event       String COMMENT 'Custom event name (page views excluded)',
    occurrences UInt64 COMMENT 'Times the event happened',
    visitors    UInt64 COMMENT 'Distinct visitors with the event that day, exact; sum() over days'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, value AS event, events AS occurrences, visitors FROM rollup_daily
WHERE dimension = 'event' AND value != 'pageview' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, toString(name) AS event, count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events WHERE name != 'pageview' AND toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, event
COMMENT 'Which custom events happen, and how often?';
