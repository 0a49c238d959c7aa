-- Email beacons (opens and clicks per campaign). The event tier holds one
-- pseudonymous row per open or click; closed days are rolled up into
-- counts like page views. No recipient is ever stored: tacit reads no
-- recipient parameter, and the visitor id is the salted daily hash.
CREATE TABLE IF NOT EXISTS email_events
(
    site      LowCardinality(String) COMMENT 'Configured site the email belongs to',
    ts        DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)) COMMENT 'When tacit received the open or click (UTC)',
    kind      LowCardinality(String) COMMENT 'open (the pixel was fetched) or click (a signed link was followed)',
    campaign  LowCardinality(String) COMMENT 'Campaign name from the link (c)',
    variant   LowCardinality(String) COMMENT 'Variant name from the link (v); empty for none',
    link_host LowCardinality(String) COMMENT 'Host of a click''s target; empty for opens',
    link_path String CODEC(ZSTD(1)) COMMENT 'Path of a click''s target, personal-looking segments redacted; no query',
    visitor_id UInt64 COMMENT 'Salted daily hash of site, IP and user agent (as for page views); 0 without consent',
    consent   LowCardinality(String) COMMENT 'full, or anonymous (a consent signal: no visitor id)',
    class     LowCardinality(String) COMMENT 'human, or machine (an image proxy, privacy relay or link scanner)',
    machine   LowCardinality(String) COMMENT 'Why a machine: agent, network or burst; empty for human',
    operator  LowCardinality(String) COMMENT 'For machine=network: the proxy operator (apple, google, microsoft…)'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (site, campaign, toDate(ts), visitor_id, ts)
TTL toDateTime(ts) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Event tier: one pseudonymous row per email open or click; kept policy.event_ttl_days';

CREATE TABLE IF NOT EXISTS rollup_email_daily
(
    site     LowCardinality(String) COMMENT 'Configured site',
    day      Date COMMENT 'UTC day',
    campaign LowCardinality(String) COMMENT 'Campaign',
    variant  LowCardinality(String) COMMENT 'Variant; empty for none',
    kind     LowCardinality(String) COMMENT 'open or click',
    link     String COMMENT 'A click target (host and path); empty: every open, or every click, of the group',
    class    LowCardinality(String) COMMENT 'human or machine',
    machine  LowCardinality(String) COMMENT 'Why a machine (agent, network, burst); empty for human',
    events   UInt64 COMMENT 'Opens or clicks',
    visitors UInt64 COMMENT 'Distinct daily visitor ids among them, exact (unique opens, unique clickers)',
    version  UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, campaign, kind, link, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Email opens and clicks and their distinct daily visitors per site, day, campaign, variant, link and class';

-- The counts of the event tier, grouped as the rollup stores them: the
-- rollup job inserts one day of it, the analyst views read the days not
-- rolled up yet.
CREATE VIEW IF NOT EXISTS email_counts
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, toDate(ts) AS day, campaign, variant, kind, link, class, machine,
       count() AS events, uniqExactIf(visitor_id, visitor_id != 0) AS visitors
FROM email_events
ARRAY JOIN if(kind = 'click', ['', concat(link_host, link_path)], ['']) AS link
GROUP BY site, day, campaign, variant, kind, link, class, machine
COMMENT 'Internal: email counts per day from the event tier, grouped as rollup_email_daily';

CREATE VIEW IF NOT EXISTS email_counts_current
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, campaign, variant, kind, link, class, machine, events, visitors
FROM rollup_email_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, day, campaign, variant, kind, link, class, machine, events, visitors
FROM email_counts WHERE day NOT IN (SELECT day FROM rollup_days)
COMMENT 'Internal: the newest rollup of closed days and the event tier for the others';

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
