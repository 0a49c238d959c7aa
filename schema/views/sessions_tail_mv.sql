-- Copies every visit of yesterday or today written to `sessions` into the
-- sessionizer's working table sessions_tail.
CREATE MATERIALIZED VIEW IF NOT EXISTS sessions_tail_mv TO sessions_tail AS
SELECT site, day, visitor_id, start, end, pageviews, events, entry_page, exit_page, referrer_source,
       channel, utm_campaign, country, device, event_names, pages, version
FROM sessions
WHERE day >= today() - 1;
