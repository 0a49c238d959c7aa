-- Email campaigns per day and clicked link.
CREATE VIEW IF NOT EXISTS analytics_email_links_daily
(
    site          String COMMENT 'Configured site',
    day           Date COMMENT 'UTC day',
    campaign      String COMMENT 'Campaign',
    variant       String COMMENT 'Variant; empty for none',
    class         String COMMENT 'human or machine',
    link          String COMMENT 'Click target: host and path (personal-looking segments redacted)',
    clicks        UInt64 COMMENT 'Clicks',
    unique_clicks UInt64 COMMENT 'Distinct daily visitors that clicked this link'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, campaign, variant, class, link, sum(events) AS clicks, sum(visitors) AS unique_clicks
FROM email_counts_current
WHERE kind = 'click' AND link != ''
GROUP BY site, day, campaign, variant, class, link
COMMENT 'Which links of each email campaign were clicked, per day, by human or machine?';
