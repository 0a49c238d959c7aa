-- Imports (issue 31, `tacit import`): past traffic from server access
-- logs and other trackers' exports. A file's hits go through the live
-- pipeline into `import_staging` under the import's id (nothing of it is
-- visible yet), and only once the whole file was read are they moved:
-- closed days the event tier still keeps to `events` (then rolled up as
-- usual), older days straight to the aggregate tier. The import then
-- deletes its staged rows; the TTL is a backstop.
CREATE TABLE IF NOT EXISTS import_staging
(
    import_id        UInt64 COMMENT 'The import the row belongs to (imports.import_id)',
    staged_at        DateTime DEFAULT now() COMMENT 'When the row was staged',
    site             LowCardinality(String) COMMENT 'Configured site domain',
    ts               DateTime64(3, 'UTC') COMMENT 'Time of the request in the imported file (UTC)',
    name             LowCardinality(String) COMMENT 'Event name; pageview for page views',
    hostname         LowCardinality(String) COMMENT 'Host of the page URL',
    pathname         String COMMENT 'Path of the page URL, scrubbed as live hits are',
    query            LowCardinality(String) DEFAULT '' COMMENT 'Allow-listed query parameters only',
    referrer_host    LowCardinality(String) COMMENT 'Host of the referrer',
    referrer_source  LowCardinality(String) DEFAULT '' COMMENT 'Named source',
    channel          LowCardinality(String) DEFAULT '' COMMENT 'Channel',
    utm_source       String DEFAULT '' COMMENT 'utm_source',
    utm_medium       LowCardinality(String) DEFAULT '' COMMENT 'utm_medium',
    utm_campaign     String DEFAULT '' COMMENT 'utm_campaign',
    utm_content      String DEFAULT '' COMMENT 'utm_content',
    utm_term         String DEFAULT '' COMMENT 'utm_term',
    visitor_id       UInt64 COMMENT 'Daily hash under the import''s own salt of that day, destroyed when the import ends',
    consent          LowCardinality(String) DEFAULT 'full' COMMENT 'full or anonymous',
    ip_prefix        LowCardinality(String) COMMENT 'Client network or empty, per policy',
    country          LowCardinality(String) DEFAULT '' COMMENT 'Country',
    region           LowCardinality(String) DEFAULT '' COMMENT 'Region, per policy',
    city             LowCardinality(String) DEFAULT '' COMMENT 'City, per policy',
    browser          LowCardinality(String) DEFAULT '' COMMENT 'Browser family',
    browser_version  LowCardinality(String) DEFAULT '' COMMENT 'Browser major version, per policy',
    os               LowCardinality(String) DEFAULT '' COMMENT 'OS family',
    os_version       LowCardinality(String) DEFAULT '' COMMENT 'OS major version, per policy',
    device           LowCardinality(String) DEFAULT '' COMMENT 'Device class',
    language         LowCardinality(String) COMMENT 'Language (unknown in access logs)',
    screen_width     UInt16 COMMENT 'Viewport width; 0 (unknown in access logs)',
    screen           LowCardinality(String) DEFAULT '' COMMENT 'Screen class',
    prop_keys        Array(LowCardinality(String)) COMMENT 'Custom property names',
    prop_values      Array(String) COMMENT 'Custom property values',
    interactive      UInt8 DEFAULT 1 COMMENT 'Counted for bounce rate',
    revenue_amount   Decimal(18, 6) DEFAULT 0 COMMENT 'Revenue',
    revenue_currency LowCardinality(String) DEFAULT '' COMMENT 'Revenue currency',
    scroll_depth     UInt8 DEFAULT 0 COMMENT 'Scroll depth',
    engaged_ms       UInt32 DEFAULT 0 COMMENT 'Engaged time'
)
ENGINE = MergeTree
ORDER BY (import_id, site, toDate(ts), visitor_id, ts)
TTL staged_at + INTERVAL 6 HOUR
COMMENT 'Event tier, working table: hits of a running import before they are moved; deleted when the import ends';

CREATE TABLE IF NOT EXISTS imports
(
    import_id   UInt64 COMMENT 'Random id of the import',
    site        LowCardinality(String) COMMENT 'Site the file was imported for',
    format      LowCardinality(String) COMMENT 'nginx, apache, caddy, cloudfront, plausible',
    file_sha256 String COMMENT 'SHA-256 of the file as read (compressed if it was): a re-import of the same file changes nothing',
    file_name   String COMMENT 'Base name of the file',
    started     DateTime64(3, 'UTC') COMMENT 'When the import started',
    finished    DateTime64(3, 'UTC') COMMENT 'When it ended',
    status      LowCardinality(String) COMMENT 'done, or failed (nothing of it was kept)',
    rows_read   UInt64 COMMENT 'Lines or rows read',
    rows_stored UInt64 COMMENT 'Events (or aggregate rows) imported',
    skipped     Map(String, UInt64) COMMENT 'Lines not imported, per reason',
    message     String COMMENT 'Why it failed; empty when done'
)
ENGINE = MergeTree
ORDER BY (site, started)
COMMENT 'Operations: one row per import attempt (no visitor data); kept until the site''s imports are purged';

CREATE TABLE IF NOT EXISTS import_days
(
    import_id UInt64 COMMENT 'The import (imports.import_id)',
    site      LowCardinality(String) COMMENT 'Site',
    day       Date COMMENT 'UTC day whose data came from the import',
    tier      LowCardinality(String) COMMENT 'event (moved to events, rolled up as usual) or aggregate (straight to the rollups)',
    events    UInt64 COMMENT 'Events of the day imported'
)
ENGINE = MergeTree
ORDER BY (site, day, import_id)
TTL day + INTERVAL 25 MONTH
COMMENT 'Operations: which site-days hold imported data, so they can be shown, excluded and purged; no visitor data';
