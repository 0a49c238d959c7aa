-- Internal: email opens and clicks per day from the event tier, grouped as
-- rollup_email_daily stores them (one row per link and one for all links).
CREATE VIEW IF NOT EXISTS email_counts
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, toDate(ts) AS day, campaign, variant, kind, link, class, machine,
       count() AS events, uniqExactIf(visitor_id, visitor_id != 0) AS visitors
FROM email_events
ARRAY JOIN if(kind = 'click', ['', concat(link_host, link_path)], ['']) AS link
GROUP BY site, day, campaign, variant, kind, link, class, machine
COMMENT 'Internal: email counts per day from the event tier, grouped as rollup_email_daily';
