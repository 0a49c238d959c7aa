-- Custom property values: the prop:<key> dimensions of rollup_daily, or
-- `events` live.
CREATE VIEW IF NOT EXISTS analytics_properties_daily
(
    site     String COMMENT 'Configured site',
    day      Date COMMENT 'UTC day',
    property String COMMENT 'Custom property name sent with events',
    value    String COMMENT 'Property value',
    events   UInt64 COMMENT 'Events that carried this property value',
    visitors UInt64 COMMENT 'Distinct visitors that sent it that day, exact; sum() over days'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, substring(toString(dimension), 6) AS property, value, events, visitors FROM rollup_daily
WHERE startsWith(toString(dimension), 'prop:') AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, toString(kv.1) AS property, kv.2 AS value, count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events
ARRAY JOIN arrayZip(prop_keys, prop_values) AS kv
WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, property, value
COMMENT 'Which values do custom properties take?';
