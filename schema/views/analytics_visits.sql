-- Every visit, newest version of each (FINAL). Reads `sessions` with the
-- caller's rights, and the analyst role has no grant on it.
CREATE VIEW IF NOT EXISTS analytics_visits
(
    site            String COMMENT 'Configured site',
    day             Date COMMENT 'UTC day of the visit',
    start           DateTime64(3, 'UTC') COMMENT 'First hit of the visit',
    end             DateTime64(3, 'UTC') COMMENT 'Last hit of the visit',
    duration_s      Float64 COMMENT 'Seconds between first and last hit',
    pageviews       UInt32 COMMENT 'Page views in the visit',
    events          UInt32 COMMENT 'Events in the visit',
    bounced         UInt8 COMMENT '1 if the visit had at most one page view and no other event',
    entry_page      String COMMENT 'Path of the first page view',
    exit_page       String COMMENT 'Path of the last page view',
    referrer_source String COMMENT 'Source of the first hit',
    channel         String COMMENT 'Channel of the first hit',
    utm_campaign    String COMMENT 'utm_campaign of the first hit',
    country         String COMMENT 'Country of the first hit',
    device          String COMMENT 'Device class of the first hit',
    event_names     Array(String) COMMENT 'Event names in order',
    pages           Array(String) COMMENT 'Page view paths in order'
) AS
SELECT site, day, start, end,
       dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events,
       toUInt8(events <= 1) AS bounced,
       entry_page, exit_page, referrer_source, channel, utm_campaign, country, device,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions FINAL;
