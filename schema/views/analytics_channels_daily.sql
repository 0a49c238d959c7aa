-- Channels: the channel dimension of rollup_daily, or `events` live.
CREATE VIEW IF NOT EXISTS analytics_channels_daily
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    channel String COMMENT 'direct, search, social, email, paid, referral or ai',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, value AS channel, pageviews, events, visitors FROM rollup_daily
WHERE dimension = 'channel' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, toString(channel) AS channel, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, channel
COMMENT 'How do channels compare?';
