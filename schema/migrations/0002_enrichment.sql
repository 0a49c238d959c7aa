-- Enrichment and policy columns: what tacit learns from a hit, already
-- coarsened by the policy (src/privacy). Empty strings mean "not known" or
-- "not kept".
ALTER TABLE events
    ADD COLUMN IF NOT EXISTS query LowCardinality(String) DEFAULT '' COMMENT 'Allow-listed query parameters only (policy.query_params); usually empty' AFTER pathname,
    ADD COLUMN IF NOT EXISTS referrer_source LowCardinality(String) DEFAULT '' COMMENT 'Named source: Google, Facebook, Newsletter (utm_source), or the referrer host' AFTER referrer_host,
    ADD COLUMN IF NOT EXISTS channel LowCardinality(String) DEFAULT '' COMMENT 'direct, search, social, email, paid, referral or ai' AFTER referrer_source,
    ADD COLUMN IF NOT EXISTS utm_source String DEFAULT '' COMMENT 'utm_source of the page URL' AFTER channel,
    ADD COLUMN IF NOT EXISTS utm_medium LowCardinality(String) DEFAULT '' COMMENT 'utm_medium of the page URL, lowercase' AFTER utm_source,
    ADD COLUMN IF NOT EXISTS utm_campaign String DEFAULT '' COMMENT 'utm_campaign of the page URL' AFTER utm_medium,
    ADD COLUMN IF NOT EXISTS utm_content String DEFAULT '' COMMENT 'utm_content of the page URL' AFTER utm_campaign,
    ADD COLUMN IF NOT EXISTS utm_term String DEFAULT '' COMMENT 'utm_term of the page URL' AFTER utm_content,
    ADD COLUMN IF NOT EXISTS consent LowCardinality(String) DEFAULT 'full' COMMENT 'full, or anonymous when a consent signal asked for no visitor id (visitor_id = 0)' AFTER visitor_id,
    ADD COLUMN IF NOT EXISTS country LowCardinality(String) DEFAULT '' COMMENT 'ISO 3166-1 alpha-2 country from the IP' AFTER ip_prefix,
    ADD COLUMN IF NOT EXISTS region LowCardinality(String) DEFAULT '' COMMENT 'ISO 3166-2 region, if policy.location allows' AFTER country,
    ADD COLUMN IF NOT EXISTS city LowCardinality(String) DEFAULT '' COMMENT 'City name, only if policy.location = city' AFTER region,
    ADD COLUMN IF NOT EXISTS browser LowCardinality(String) DEFAULT '' COMMENT 'Browser family as uap-core names it' AFTER city,
    ADD COLUMN IF NOT EXISTS browser_version LowCardinality(String) DEFAULT '' COMMENT 'Browser major version, or empty per policy' AFTER browser,
    ADD COLUMN IF NOT EXISTS os LowCardinality(String) DEFAULT '' COMMENT 'Operating system family as uap-core names it' AFTER browser_version,
    ADD COLUMN IF NOT EXISTS os_version LowCardinality(String) DEFAULT '' COMMENT 'OS major version, or empty per policy' AFTER os,
    ADD COLUMN IF NOT EXISTS device LowCardinality(String) DEFAULT '' COMMENT 'desktop, mobile, tablet or other' AFTER os_version,
    ADD COLUMN IF NOT EXISTS screen LowCardinality(String) DEFAULT '' COMMENT 'mobile (<576), tablet (<992), laptop (<1440) or desktop, from screen_width' AFTER screen_width;

-- Hits accepted but not stored (bots, prefetches, consent signals, opt-outs,
-- excluded countries), per site, day and reason, for data-quality panels.
CREATE TABLE IF NOT EXISTS dropped_hits
(
    day    Date COMMENT 'UTC day the hits arrived',
    site   LowCardinality(String) COMMENT 'Configured site the hits were sent for',
    reason LowCardinality(String) COMMENT 'bot, prefetch, empty_user_agent, opt_out, do_not_track, global_privacy_control, excluded_country',
    hits   UInt64 COMMENT 'Number of hits'
)
ENGINE = SummingMergeTree
ORDER BY (site, day, reason)
TTL day + INTERVAL 25 MONTH;
