-- Copies each event of yesterday or today with a visitor id into the
-- sessionizer's working table events_recent, stamped with the engine's
-- time at insert.
CREATE MATERIALIZED VIEW IF NOT EXISTS events_recent_mv TO events_recent AS
SELECT site, ts, name, visitor_id, pathname, referrer_source, channel, utm_campaign, country, device,
       now64(3, 'UTC') AS inserted
FROM events
WHERE visitor_id != 0 AND toDate(ts) >= today() - 1;
