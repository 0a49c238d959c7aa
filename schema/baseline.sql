-- tacit: baseline 24
-- The tables of a new install: the schema that migrations 0001-0024 build,
-- written as it stands now. The views are in views/ (one file each), the
-- analyst role's grants in grants.sql; README.md says how a change is
-- made. Existing installs reach the same tables through migrations/.
--
-- Two retention tiers, classified column by column in the store's tiers
-- module: the event tier (visitor ids, per-visit rows, millisecond times;
-- kept policy.event_ttl_days, 30 by default) and the aggregate tier
-- (counts only; kept policy.aggregate_ttl_months, 25 by default). tacit
-- sets both TTLs from the policy at startup; the TTLs here are defaults.

-- ---------------------------------------------------------------------
-- Event tier. No raw IP, user agent, query string or fragment is ever
-- written here (see src/privacy).

CREATE TABLE IF NOT EXISTS events
(
    site             LowCardinality(String) COMMENT 'Configured site domain the hit was sent for',
    ts               DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)) COMMENT 'When tacit received the hit (UTC)',
    name             LowCardinality(String) COMMENT 'Event name; pageview for page views',
    hostname         LowCardinality(String) COMMENT 'Host of the page URL, without scheme',
    pathname         String CODEC(ZSTD(1)) COMMENT 'Path of the page URL; no query string, no fragment',
    query            LowCardinality(String) DEFAULT '' COMMENT 'Allow-listed query parameters only (policy.query_params); usually empty',
    referrer_host    LowCardinality(String) COMMENT 'Host of the referrer; empty for direct and internal navigation',
    referrer_source  LowCardinality(String) DEFAULT '' COMMENT 'Named source: Google, Facebook, Newsletter (utm_source), or the referrer host',
    channel          LowCardinality(String) DEFAULT '' COMMENT 'direct, search, social, email, paid, referral or ai',
    utm_source       String DEFAULT '' COMMENT 'utm_source of the page URL',
    utm_medium       LowCardinality(String) DEFAULT '' COMMENT 'utm_medium of the page URL, lowercase',
    utm_campaign     String DEFAULT '' COMMENT 'utm_campaign of the page URL',
    utm_content      String DEFAULT '' COMMENT 'utm_content of the page URL',
    utm_term         String DEFAULT '' COMMENT 'utm_term of the page URL',
    visitor_id       UInt64 COMMENT 'Salted daily hash of site, IP and user agent; unlinkable once the salt is destroyed',
    consent          LowCardinality(String) DEFAULT 'full' COMMENT 'full, or anonymous when a consent signal asked for no visitor id (visitor_id = 0)',
    ip_prefix        LowCardinality(String) COMMENT 'Client network (IPv4 /24, IPv6 /48) or empty, per policy',
    country          LowCardinality(String) DEFAULT '' COMMENT 'ISO 3166-1 alpha-2 country from the IP',
    region           LowCardinality(String) DEFAULT '' COMMENT 'ISO 3166-2 region, if policy.location allows',
    city             LowCardinality(String) DEFAULT '' COMMENT 'City name, only if policy.location = city',
    browser          LowCardinality(String) DEFAULT '' COMMENT 'Browser family as uap-core names it',
    browser_version  LowCardinality(String) DEFAULT '' COMMENT 'Browser major version, or empty per policy',
    os               LowCardinality(String) DEFAULT '' COMMENT 'Operating system family as uap-core names it',
    os_version       LowCardinality(String) DEFAULT '' COMMENT 'OS major version, or empty per policy',
    device           LowCardinality(String) DEFAULT '' COMMENT 'desktop, mobile, tablet or other',
    language         LowCardinality(String) COMMENT 'Primary language subtag from Accept-Language',
    screen_width     UInt16 COMMENT 'Viewport width in CSS pixels sent by the beacon; 0 if unknown',
    screen           LowCardinality(String) DEFAULT '' COMMENT 'mobile (<576), tablet (<992), laptop (<1440) or desktop, from screen_width',
    prop_keys        Array(LowCardinality(String)) COMMENT 'Custom property names',
    prop_values      Array(String) COMMENT 'Custom property values, aligned with prop_keys',
    interactive      UInt8 DEFAULT 1 COMMENT '0 when the event was sent as non-interactive (not counted for bounce rate)',
    revenue_amount   Decimal(18, 6) DEFAULT 0 COMMENT 'Revenue attached to the event, in revenue_currency; 0 if none',
    revenue_currency LowCardinality(String) DEFAULT '' COMMENT 'ISO 4217 code of revenue_amount; empty if none',
    scroll_depth     UInt8 DEFAULT 0 COMMENT 'Engagement events: how far down the page was scrolled, 0-100',
    engaged_ms       UInt32 DEFAULT 0 COMMENT 'Engagement events: milliseconds the page was visible and focused'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (site, toDate(ts), visitor_id, ts)
TTL toDateTime(ts) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Event tier: one pseudonymous row per accepted hit (visitor id, millisecond time); kept policy.event_ttl_days';

CREATE TABLE IF NOT EXISTS sessions
(
    site          LowCardinality(String) COMMENT 'Configured site',
    day           Date COMMENT 'UTC day of the visit (visitor ids are per day)',
    visitor_id    UInt64 COMMENT 'Daily pseudonymous visitor id; never exposed in analyst views',
    start         DateTime64(3, 'UTC') COMMENT 'First hit of the visit',
    end           DateTime64(3, 'UTC') COMMENT 'Last hit of the visit',
    pageviews     UInt32 COMMENT 'Page views in the visit',
    events        UInt32 COMMENT 'Events in the visit, page views included',
    entry_page    String COMMENT 'Path of the first page view',
    exit_page     String COMMENT 'Path of the last page view',
    referrer_source LowCardinality(String) COMMENT 'Source of the first hit',
    channel       LowCardinality(String) COMMENT 'Channel of the first hit',
    utm_campaign  String COMMENT 'utm_campaign of the first hit',
    country       LowCardinality(String) COMMENT 'Country of the first hit',
    device        LowCardinality(String) COMMENT 'Device class of the first hit',
    event_names   Array(LowCardinality(String)) COMMENT 'Event names in order (for goals)',
    pages         Array(String) COMMENT 'Page view paths in order (for funnels)',
    steps         Array(String)
        DEFAULT arrayMap((n, k) -> if(n = 'pageview', pages[k], toString(n)), event_names,
                         arrayCumSum(arrayMap(n -> toUInt32(n = 'pageview'), event_names)))
        COMMENT 'Each hit of the visit in order: the path of a page view, the name of any other event (for ad-hoc funnels)',
    version       UInt64 COMMENT 'When this version of the visit was computed (ms)'
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, visitor_id, start)
TTL day + INTERVAL 30 DAY
COMMENT 'Event tier: one row per visit (visitor id, times to the millisecond, pages and events in order); kept policy.event_ttl_days';

-- The sessionizer's working tables (tacit serve): the last hours of
-- events by insert time, and every version of the visits of the last
-- hours by their last hit. Both are sorted and partitioned by the hour, so
-- a run reads only their newest rows, and a part is dropped whole six
-- hours after its rows were written. Materialized views fill them
-- (views/events_recent_mv.sql, views/sessions_tail_mv.sql).

CREATE TABLE IF NOT EXISTS events_recent
(
    site            LowCardinality(String) COMMENT 'Configured site',
    ts              DateTime64(3, 'UTC') COMMENT 'When tacit received the hit',
    name            LowCardinality(String) COMMENT 'Event name; pageview for page views',
    visitor_id      UInt64 COMMENT 'Daily pseudonymous visitor id',
    pathname        String COMMENT 'Path of the page URL',
    referrer_source LowCardinality(String) COMMENT 'Named source of the hit',
    channel         LowCardinality(String) COMMENT 'Channel of the hit',
    utm_campaign    String COMMENT 'utm_campaign of the hit',
    country         LowCardinality(String) COMMENT 'Country of the hit',
    device          LowCardinality(String) COMMENT 'Device class of the hit',
    inserted        DateTime64(3, 'UTC') COMMENT 'When the row reached ClickHouse (the engine clock)',
    -- Rows are sorted by time and reach ClickHouse in about that order, so
    -- "inserted since the last run" skips all but the newest granules.
    INDEX inserted_range inserted TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toStartOfHour(ts)
ORDER BY ts
TTL toDateTime(inserted) + INTERVAL 6 HOUR
SETTINGS ttl_only_drop_parts = 1
COMMENT 'Event tier, working table of the sessionizer: the last hours of events, by insert time; kept 6 hours';

CREATE TABLE IF NOT EXISTS sessions_tail
(
    site            LowCardinality(String) COMMENT 'Configured site',
    day             Date COMMENT 'UTC day of the visit',
    visitor_id      UInt64 COMMENT 'Daily pseudonymous visitor id',
    start           DateTime64(3, 'UTC') COMMENT 'First hit of the visit',
    end             DateTime64(3, 'UTC') COMMENT 'Last hit of the visit so far',
    pageviews       UInt32 COMMENT 'Page views in the visit',
    events          UInt32 COMMENT 'Events in the visit, page views included',
    entry_page      String COMMENT 'Path of the first page view',
    exit_page       String COMMENT 'Path of the last page view',
    referrer_source LowCardinality(String) COMMENT 'Source of the first hit',
    channel         LowCardinality(String) COMMENT 'Channel of the first hit',
    utm_campaign    String COMMENT 'utm_campaign of the first hit',
    country         LowCardinality(String) COMMENT 'Country of the first hit',
    device          LowCardinality(String) COMMENT 'Device class of the first hit',
    event_names     Array(LowCardinality(String)) COMMENT 'Event names in order',
    pages           Array(String) COMMENT 'Page view paths in order',
    version         UInt64 COMMENT 'The run that wrote this version of the visit (ms)',
    written         DateTime DEFAULT now() COMMENT 'When the row was written (the engine clock)',
    -- A run's visits end after its cursor: the newest run's rows are found
    -- without reading the rest.
    INDEX version_range version TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toStartOfHour(end)
ORDER BY end
TTL written + INTERVAL 6 HOUR
SETTINGS ttl_only_drop_parts = 1
COMMENT 'Event tier, working table of the sessionizer: every version of the visits of the last hours; kept 6 hours';

-- Email beacons: one pseudonymous row per open or click. No recipient is
-- ever stored; the visitor id is the salted daily hash.

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
SETTINGS old_parts_lifetime = 1
COMMENT 'The daily visitor-id salts: yesterday, today and tomorrow only';

-- ---------------------------------------------------------------------
-- Aggregate tier. A closed UTC day is rolled up exactly from the event
-- tier (the rollup job: one INSERT ... SELECT per table and day, all under
-- one version); rollup_days records the versions and the views read the
-- newest. Counts only: no visitor ids, no sketches, nothing finer than an
-- hour.

CREATE TABLE IF NOT EXISTS rollup_days
(
    day         Date COMMENT 'UTC day that was rolled up',
    version     UInt64 COMMENT 'Version of the rollup (ms when computed; 0: finalized from the old sketches)',
    computed_at DateTime('UTC') COMMENT 'When the rollup was computed, to the second'
)
ENGINE = MergeTree
ORDER BY (day, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Closed days rolled up into the aggregate tier, and each rollup''s version';

CREATE TABLE IF NOT EXISTS rollup_hourly
(
    site      LowCardinality(String) COMMENT 'Configured site',
    hour      DateTime('UTC') COMMENT 'Start of the UTC hour',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors in the hour, exact',
    version   UInt64 COMMENT 'Rollup version (see rollup_days)',
    day       Date MATERIALIZED toDate(hour) COMMENT 'UTC day of the hour'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site, hour, version)
TTL hour + INTERVAL 25 MONTH
COMMENT 'Page views, events and exact visitor counts per site and hour';

CREATE TABLE IF NOT EXISTS rollup_daily
(
    site      LowCardinality(String) COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    dimension LowCardinality(String) COMMENT 'all (the day''s totals), pathname, hostname, referrer_source, channel, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, region, device, browser, os, language, screen, event, or prop:<key>',
    value     String COMMENT 'The dimension''s value; empty means not known',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact',
    version   UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, dimension, day, value, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Page views, events and exact visitor counts per site, day and value of one dimension at a time';

CREATE TABLE IF NOT EXISTS rollup_visits_daily
(
    site       LowCardinality(String) COMMENT 'Configured site',
    day        Date COMMENT 'UTC day',
    kind       LowCardinality(String) COMMENT 'all (the day''s visits), entry_page or exit_page',
    value      String COMMENT 'The entry or exit page; empty for all',
    visits     UInt64 COMMENT 'Visits',
    bounces    UInt64 COMMENT 'Visits with at most one event',
    duration_s Float64 COMMENT 'Total duration of the visits, seconds',
    pageviews  UInt64 COMMENT 'Total page views of the visits',
    version    UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, kind, day, value, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Visit counts, bounces and total durations per site and day, overall and by entry and exit page';

CREATE TABLE IF NOT EXISTS rollup_goals_daily
(
    site             LowCardinality(String) COMMENT 'Configured site',
    day              Date COMMENT 'UTC day',
    goal_kind        LowCardinality(String) COMMENT 'event (a custom event name) or page (a path)',
    goal             String COMMENT 'The event name or path',
    converted_visits UInt64 COMMENT 'Visits that reached the goal',
    version          UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, goal_kind, goal, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Visits that reached each goal (every custom event and page), per site and day';

CREATE TABLE IF NOT EXISTS rollup_funnels_daily
(
    site    LowCardinality(String) COMMENT 'Configured site',
    day     Date COMMENT 'UTC day',
    funnel  String COMMENT 'Configured funnel name',
    step    UInt8 COMMENT 'Step number, from 1',
    name    String COMMENT 'The step: /path or event name',
    visits  UInt64 COMMENT 'Visits that reached this step in order',
    version UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site, funnel, day, step, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Visits reaching each step of each configured funnel, per site and day';

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

-- The configured funnels ([[funnels]]), mirrored at startup.

CREATE TABLE IF NOT EXISTS funnel_definitions
(
    site  LowCardinality(String) COMMENT 'Configured site the funnel applies to',
    name  String COMMENT 'Funnel name from [[funnels]] in the configuration',
    steps Array(String) COMMENT 'Steps in order: /path for a page view, otherwise a custom event name'
)
ENGINE = ReplacingMergeTree
ORDER BY (site, name)
COMMENT 'The configured funnels, mirrored from the configuration at startup; no visitor data';

-- Hits accepted but not stored (bots, prefetches, consent signals,
-- opt-outs, excluded countries), per site, day and reason.

CREATE TABLE IF NOT EXISTS dropped_hits
(
    day    Date COMMENT 'UTC day the hits arrived',
    site   LowCardinality(String) COMMENT 'Configured site the hits were sent for',
    reason LowCardinality(String) COMMENT 'bot, prefetch, empty_user_agent, opt_out, do_not_track, global_privacy_control, excluded_country',
    hits   UInt64 COMMENT 'Number of hits'
)
ENGINE = SummingMergeTree
ORDER BY (site, day, reason)
TTL day + INTERVAL 25 MONTH
COMMENT 'Hits not stored (bots, consent signals, opt-outs) per site, day and reason: counts only';

-- ---------------------------------------------------------------------
-- Ledgers. The disclosure ledger is append-only (no TTL, no updates, no
-- deletes) and answers "what went to whom" (tacit disclosures). The
-- noisy releases are kept so a repeat gets the same file, not fresh noise.

CREATE TABLE IF NOT EXISTS disclosures
(
    time          DateTime64(3, 'UTC') COMMENT 'When the release was made',
    partner       LowCardinality(String) COMMENT 'Third party that received it',
    export        LowCardinality(String) COMMENT 'Export name in tacit.toml',
    period        String COMMENT 'Period released: YYYY-MM, YYYY-Www or YYYY-MM-DD',
    channel       LowCardinality(String) COMMENT 'cli or api',
    config_hash   String COMMENT 'SHA-256 of the export definition that produced it',
    sites         Array(String) COMMENT 'Sites covered',
    dimensions    Array(String) COMMENT 'Breakdown dimensions',
    metrics       Array(String) COMMENT 'Metrics released',
    min_visitors  UInt32 COMMENT 'k: every released cell counted at least this many distinct visitors',
    epsilon_spent Float64 COMMENT 'Differential-privacy epsilon charged to the partner (0: no noise, or a repeat of an earlier noisy release)',
    rows          UInt64 COMMENT 'Rows in the file',
    suppressed    UInt64 COMMENT 'Cells withheld (below k, or complementary)',
    format        LowCardinality(String) COMMENT 'csv, jsonl or parquet',
    file_sha256   String COMMENT 'SHA-256 of the file as delivered',
    note          String DEFAULT '' COMMENT 'For channel purge: the site''s data was removed, and why; for a noisy release: the epsilon and the L1 sensitivity (days, sites, cells per visitor and day, per cell) the noise was scaled to'
)
ENGINE = MergeTree
ORDER BY (partner, time)
COMMENT 'Ledger: every release of statistics to a partner (who, when, which categories, how many groups) and notes of site removals; kept';

CREATE TABLE IF NOT EXISTS export_releases
(
    partner     LowCardinality(String),
    export      LowCardinality(String),
    period      String,
    config_hash String,
    created_at  DateTime64(3, 'UTC'),
    epsilon     Float64,
    rows        UInt64,
    suppressed  UInt64,
    file        String
)
ENGINE = MergeTree
ORDER BY (partner, export, period, config_hash)
TTL toDateTime(created_at) + INTERVAL 25 MONTH
COMMENT 'Ledger: the released files, so that a repeated request gets the same figures; counts only';

-- The partner audit store (linked suppression): the cells of every
-- release and the atoms that existed, so a new release is audited with
-- everything the partner holds; claims make one release per period.

CREATE TABLE IF NOT EXISTS export_cells
(
    partner      LowCardinality(String) COMMENT 'Third party that received the release',
    export       LowCardinality(String) COMMENT 'Export name in tacit.toml',
    period       String COMMENT 'Period released',
    config_hash  String COMMENT 'SHA-256 of the export definition',
    period_start Date COMMENT 'First day of the period',
    period_end   Date COMMENT 'Day after the period',
    sites        Array(String) COMMENT 'Sites the export covers',
    dimensions   Array(String) COMMENT 'Breakdown dimensions of the export',
    keys         Array(String) COMMENT 'The cell''s values of those dimensions',
    visitors     UInt64 COMMENT 'Exact distinct visitors of the cell',
    withheld     UInt8 COMMENT '1 if the cell was not released',
    small        UInt8 COMMENT '1 if the cell counted fewer than k visitors',
    exact        UInt8 COMMENT '1 if released without noise',
    round_to     UInt32 COMMENT 'Rounding step of the released figures (1: none)',
    min_visitors UInt32 COMMENT 'k of the export'
)
ENGINE = MergeTree
ORDER BY (partner, period_start, export, period)
TTL period_end + INTERVAL 92 DAY
COMMENT 'Partner audit store: every cell of every partner release, released or withheld, kept while a new release can still be linked to it; counts only';

CREATE TABLE IF NOT EXISTS export_atoms
(
    partner LowCardinality(String) COMMENT 'Third party',
    finest  Array(String) COMMENT 'The finest dimensions across the partner''s exports when recorded',
    site    LowCardinality(String) COMMENT 'Site',
    day     Date COMMENT 'UTC day',
    keys    Array(String) COMMENT 'Values of the finest dimensions that had at least one visitor that day'
)
ENGINE = ReplacingMergeTree
ORDER BY (partner, day, site, finest, keys)
TTL day + INTERVAL 123 DAY
COMMENT 'Partner audit store: which combinations of the finest dimensions existed per site and day in released periods, kept while a new release can still be linked to them; no counts';

CREATE TABLE IF NOT EXISTS export_claims
(
    partner     LowCardinality(String) COMMENT 'Third party',
    export      LowCardinality(String) COMMENT 'Export name',
    period      String COMMENT 'Period',
    config_hash String COMMENT 'SHA-256 of the export definition',
    claim       String COMMENT 'Random id of the request that claimed the release',
    claimed_at  DateTime64(6, 'UTC') DEFAULT now64(6) COMMENT 'When the claim reached the database (the database''s clock)',
    abandoned   UInt8 DEFAULT 0 COMMENT '1 on the row that gives a failed claim up'
)
ENGINE = MergeTree
ORDER BY (partner, export, period, config_hash, claimed_at)
TTL toDateTime(claimed_at) + INTERVAL 25 MONTH
COMMENT 'Who makes each release: the earliest live claim wins, the others wait for its file';

-- The privacy budget reserved with each release's claim.

CREATE TABLE IF NOT EXISTS export_budget
(
    account        LowCardinality(String) COMMENT 'Budget account (budget_account, default the partner)',
    month          String COMMENT 'Calendar month charged, YYYY-MM',
    partner        LowCardinality(String) COMMENT 'Third party the release is for',
    export         LowCardinality(String) COMMENT 'Export name in tacit.toml',
    period         String COMMENT 'Period released',
    claim          String COMMENT 'Random id of the reservation (the release claim and an attempt number)',
    replica        String COMMENT 'Random id of the tacit process that made the reservation',
    epsilon_micros UInt64 COMMENT 'Epsilon charged, in millionths',
    budget_micros  UInt64 COMMENT 'Monthly budget of the account when charged, in millionths',
    sensitivity    UInt64 COMMENT 'L1 sensitivity of the release the noise was scaled to',
    reserved_at    DateTime64(6, 'UTC') DEFAULT now64(6) COMMENT 'When the database received the row',
    abandoned      UInt8 DEFAULT 0 COMMENT '1 on the row that gives a charge up (refused, or its release failed before its file was frozen)'
)
ENGINE = MergeTree
ORDER BY (account, month, reserved_at)
TTL toDateTime(reserved_at) + INTERVAL 25 MONTH
COMMENT 'Ledger: epsilon charged per budget account and month, reserved with each noisy release; counts only';

-- Site purges (tacit purge): the evidence shown to the data controller,
-- one row per attempt.

CREATE TABLE IF NOT EXISTS purges
(
    site        LowCardinality(String) COMMENT 'The site whose data was removed',
    before      String COMMENT 'Rows before this UTC day were removed (YYYY-MM-DD); empty: all rows',
    reason      String COMMENT 'Why, as given to tacit purge --reason',
    requested   DateTime64(3, 'UTC') COMMENT 'When the purge started',
    completed   DateTime64(3, 'UTC') COMMENT 'When every table was verified empty for the site; epoch if not completed',
    status      LowCardinality(String) COMMENT 'done, or incomplete (see tables_left)',
    rows        Map(String, UInt64) COMMENT 'Rows removed, per table',
    tables_left Array(String) COMMENT 'Tables that still held rows of the site when the attempt ended'
)
ENGINE = MergeTree
ORDER BY (site, requested)
COMMENT 'Ledger: each removal of a site''s data on its owner''s request, with the rows removed per table; kept';

-- ---------------------------------------------------------------------
-- Operations; no visitor data. Purge fences keep
-- writers out of a purged range; each collector reports the fences it
-- applies and how far its write-ahead log is delivered.

CREATE TABLE IF NOT EXISTS purge_fences
(
    id      String COMMENT 'The fence, unique per purge attempt',
    site    LowCardinality(String) COMMENT 'The site being purged',
    cutoff  DateTime64(3, 'UTC') COMMENT 'Rows of the site before this time are never written again',
    raised  DateTime64(3, 'UTC') COMMENT 'When the purge raised the fence',
    expires DateTime64(3, 'UTC') COMMENT 'The event TTL plus two days after it was raised'
)
ENGINE = MergeTree
ORDER BY (site, id)
TTL toDateTime(expires)
COMMENT 'Purge fences: ranges of a site that writers keep out (operations; no visitor data)';

CREATE TABLE IF NOT EXISTS fence_members
(
    member  String COMMENT 'A random name per tacit serve process',
    seen    DateTime64(3, 'UTC') COMMENT 'When the process last read the fences',
    applied Array(String) COMMENT 'The fences its writers were applying then',
    stopped UInt8 COMMENT '1: the process stopped its writers and left'
)
ENGINE = MergeTree
ORDER BY (member, seen)
TTL toDateTime(seen) + INTERVAL 1 DAY
COMMENT 'Collectors seen applying purge fences, kept one day (operations; no visitor data)';

CREATE TABLE IF NOT EXISTS wal_watermarks
(
    log_id         String COMMENT 'Random id of one collector''s write-ahead log',
    reported_at    DateTime64(3, 'UTC') COMMENT 'When the collector looked at its log (its clock)',
    oldest_pending DateTime64(3, 'UTC') COMMENT 'Receive time of the oldest row still in the log; the report time if none',
    pending        UInt64 COMMENT 'Rows in the log not yet acknowledged by the database'
)
ENGINE = MergeTree
ORDER BY (log_id, reported_at)
TTL toDateTime(reported_at) + INTERVAL 2 DAY
COMMENT 'Each collector''s periodic report of how far its write-ahead log is delivered; no event data';
