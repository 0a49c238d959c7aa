-- Email campaigns per day: opens, unique opens, clicks, click-to-open.
CREATE VIEW IF NOT EXISTS analytics_email_daily
(
    site          String COMMENT 'Configured site',
    day           Date COMMENT 'UTC day',
    campaign      String COMMENT 'Campaign',
    variant       String COMMENT 'Variant; empty for none',
    class         String COMMENT 'human, or machine (image proxies, privacy relays, link scanners)',
    opens         UInt64 COMMENT 'Opens (pixel fetches)',
    unique_opens  UInt64 COMMENT 'Distinct daily visitors that opened: approximate unique opens (one reader on two devices counts twice; many readers behind one proxy count once)',
    clicks        UInt64 COMMENT 'Clicks on signed links',
    unique_clicks UInt64 COMMENT 'Distinct daily visitors that clicked',
    click_to_open Float64 COMMENT 'unique_clicks / unique_opens (0 with no opens); recompute from sums over days'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, campaign, variant, class,
       sumIf(events, kind = 'open') AS opens, sumIf(visitors, kind = 'open') AS unique_opens,
       sumIf(events, kind = 'click') AS clicks, sumIf(visitors, kind = 'click') AS unique_clicks,
       round(if(unique_opens = 0, 0, unique_clicks / unique_opens), 4) AS click_to_open
FROM email_counts_current
WHERE link = ''
GROUP BY site, day, campaign, variant, class
COMMENT 'How did each email campaign do per day: opens, unique opens, clicks, click-to-open, by human or machine?';
