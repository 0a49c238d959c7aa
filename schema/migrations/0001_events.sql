-- Pseudonymous event rows: one per accepted hit. No raw IP, user agent,
-- query string or fragment is ever written here (see src/privacy).
CREATE TABLE IF NOT EXISTS events
(
    site          LowCardinality(String) COMMENT 'Configured site domain the hit was sent for',
    ts            DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)) COMMENT 'When tacit received the hit (UTC)',
    name          LowCardinality(String) COMMENT 'Event name; pageview for page views',
    hostname      LowCardinality(String) COMMENT 'Host of the page URL, without scheme',
    pathname      String CODEC(ZSTD(1)) COMMENT 'Path of the page URL; no query string, no fragment',
    referrer_host LowCardinality(String) COMMENT 'Host of the referrer; empty for direct and internal navigation',
    visitor_id    UInt64 COMMENT 'Salted daily hash of site, IP and user agent; unlinkable once the salt is destroyed',
    ip_prefix     LowCardinality(String) COMMENT 'Client network (IPv4 /24, IPv6 /48) or empty, per policy',
    language      LowCardinality(String) COMMENT 'Primary language subtag from Accept-Language',
    screen_width  UInt16 COMMENT 'Viewport width in CSS pixels sent by the beacon; 0 if unknown',
    prop_keys     Array(LowCardinality(String)) COMMENT 'Custom property names',
    prop_values   Array(String) COMMENT 'Custom property values, aligned with prop_keys'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (site, toDate(ts), visitor_id, ts)
TTL toDateTime(ts) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000;

-- Daily visitor-id salts. Only yesterday, today and tomorrow exist; tacit
-- deletes older rows, and the TTL is a backstop.
CREATE TABLE IF NOT EXISTS salts
(
    day        Date,
    salt       String,
    created_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY day
TTL day + INTERVAL 3 DAY
SETTINGS old_parts_lifetime = 1;
