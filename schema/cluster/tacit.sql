-- The schema as `tacit migrate` upgrades a database with [clickhouse] cluster = "tacit"
-- and database "tacit" through every migration: generated from schema/migrations/*.sql
-- by src/store/cluster.rs (a new database: schema/cluster/baseline.sql).
-- Regenerate with UPDATE_SNAPSHOTS=1 make test, and review the diff.

-- (tacit)
CREATE DATABASE IF NOT EXISTS `tacit` ON CLUSTER 'tacit';
CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER 'tacit' (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC')) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/schema_migrations', '{replica}') ORDER BY version COMMENT 'The schema migrations applied, with their checksums';

-- 0001_events.sql
CREATE TABLE IF NOT EXISTS events_local ON CLUSTER 'tacit'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/events_local', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (site, toDate(ts), visitor_id, ts)
TTL toDateTime(ts) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000;
CREATE TABLE IF NOT EXISTS events ON CLUSTER 'tacit' AS events_local ENGINE = Distributed('tacit', 'tacit', 'events_local', cityHash64(site, toDate(ts), visitor_id));
CREATE TABLE IF NOT EXISTS salts ON CLUSTER 'tacit'
(
    day        Date,
    salt       String,
    created_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/salts', '{replica}')
ORDER BY day
TTL day + INTERVAL 3 DAY
SETTINGS old_parts_lifetime = 1;

-- 0002_enrichment.sql
ALTER TABLE events_local ON CLUSTER 'tacit'
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
ALTER TABLE events ON CLUSTER 'tacit'
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
CREATE TABLE IF NOT EXISTS dropped_hits_local ON CLUSTER 'tacit'
(
    day    Date COMMENT 'UTC day the hits arrived',
    site   LowCardinality(String) COMMENT 'Configured site the hits were sent for',
    reason LowCardinality(String) COMMENT 'bot, prefetch, empty_user_agent, opt_out, do_not_track, global_privacy_control, excluded_country',
    hits   UInt64 COMMENT 'Number of hits'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/tacit/dropped_hits_local', '{replica}')
ORDER BY (site, day, reason)
TTL day + INTERVAL 25 MONTH;
CREATE TABLE IF NOT EXISTS dropped_hits ON CLUSTER 'tacit' AS dropped_hits_local ENGINE = Distributed('tacit', 'tacit', 'dropped_hits_local', cityHash64(site, day));

-- 0003_aggregates.sql
CREATE TABLE IF NOT EXISTS agg_hourly_local ON CLUSTER 'tacit'
(
    site      LowCardinality(String) COMMENT 'Configured site',
    hour      DateTime('UTC') COMMENT 'Start of the UTC hour',
    pageviews SimpleAggregateFunction(sum, UInt64) COMMENT 'Events named pageview',
    events    SimpleAggregateFunction(sum, UInt64) COMMENT 'All events, page views included',
    visitors  AggregateFunction(uniq, UInt64) COMMENT 'Distinct visitor ids (uniq sketch; anonymous hits excluded)'
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/tacit/agg_hourly_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (site, hour)
TTL hour + INTERVAL 25 MONTH;
CREATE TABLE IF NOT EXISTS agg_hourly ON CLUSTER 'tacit' AS agg_hourly_local ENGINE = Distributed('tacit', 'tacit', 'agg_hourly_local', cityHash64(site, toDate(hour)));
CREATE MATERIALIZED VIEW IF NOT EXISTS agg_hourly_mv ON CLUSTER 'tacit' TO agg_hourly_local AS
SELECT
    site,
    toStartOfHour(ts) AS hour,
    toUInt64(countIf(name = 'pageview')) AS pageviews,
    toUInt64(count()) AS events,
    uniqStateIf(visitor_id, visitor_id != 0) AS visitors
FROM events_local
GROUP BY site, hour;
CREATE TABLE IF NOT EXISTS agg_daily_local ON CLUSTER 'tacit'
(
    site      LowCardinality(String) COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    dimension LowCardinality(String) COMMENT 'pathname, hostname, referrer_source, channel, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, region, device, browser, os, language, screen, event, or prop:<key>',
    value     String COMMENT 'The dimension''s value; empty means not known',
    pageviews SimpleAggregateFunction(sum, UInt64) COMMENT 'Events named pageview',
    events    SimpleAggregateFunction(sum, UInt64) COMMENT 'All events',
    visitors  AggregateFunction(uniq, UInt64) COMMENT 'Distinct visitor ids (uniq sketch)'
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/tacit/agg_daily_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (site, dimension, day, value)
TTL day + INTERVAL 25 MONTH;
CREATE TABLE IF NOT EXISTS agg_daily ON CLUSTER 'tacit' AS agg_daily_local ENGINE = Distributed('tacit', 'tacit', 'agg_daily_local', cityHash64(site, day));
CREATE MATERIALIZED VIEW IF NOT EXISTS agg_daily_mv ON CLUSTER 'tacit' TO agg_daily_local AS
SELECT
    site,
    toDate(ts) AS day,
    kv.1 AS dimension,
    kv.2 AS value,
    toUInt64(countIf(name = 'pageview')) AS pageviews,
    toUInt64(count()) AS events,
    uniqStateIf(visitor_id, visitor_id != 0) AS visitors
FROM events_local
ARRAY JOIN arrayConcat(
    [
        ('pathname', pathname), ('hostname', hostname), ('referrer_source', referrer_source),
        ('channel', channel), ('utm_source', utm_source), ('utm_medium', toString(utm_medium)),
        ('utm_campaign', utm_campaign), ('utm_content', utm_content), ('utm_term', utm_term),
        ('country', toString(country)), ('region', toString(region)), ('device', toString(device)),
        ('browser', toString(browser)), ('os', toString(os)), ('language', toString(language)),
        ('screen', toString(screen)), ('event', toString(name))
    ],
    arrayMap((k, v) -> (concat('prop:', toString(k)), v), prop_keys, prop_values)
) AS kv
GROUP BY site, day, dimension, value;
CREATE TABLE IF NOT EXISTS sessions_local ON CLUSTER 'tacit'
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
    version       UInt64 COMMENT 'When this version of the visit was computed (ms)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tacit/sessions_local', '{replica}', version)
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, visitor_id, start)
TTL day + INTERVAL 25 MONTH;
CREATE TABLE IF NOT EXISTS sessions ON CLUSTER 'tacit' AS sessions_local ENGINE = Distributed('tacit', 'tacit', 'sessions_local', cityHash64(site, day, visitor_id));

-- 0004_analytics_views.sql
CREATE VIEW IF NOT EXISTS analytics_overview_hourly ON CLUSTER 'tacit'
(
    site           String COMMENT 'Configured site',
    hour           DateTime('UTC') COMMENT 'Start of the UTC hour',
    pageviews      UInt64 COMMENT 'Page views',
    events         UInt64 COMMENT 'All events, page views included',
    visitors       UInt64 COMMENT 'Distinct visitors in the hour (uniq estimate)',
    visitors_state AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch; uniqMerge() it to count visitors over a range'
) AS
SELECT site, hour, sum(h.pageviews) AS pageviews, sum(h.events) AS events,
       uniqMerge(h.visitors) AS visitors, uniqMergeState(h.visitors) AS visitors_state
FROM agg_hourly AS h
GROUP BY site, hour;
CREATE VIEW IF NOT EXISTS analytics_breakdown_daily ON CLUSTER 'tacit'
(
    site           String COMMENT 'Configured site',
    day            Date COMMENT 'UTC day',
    dimension      String COMMENT 'pathname, hostname, referrer_source, channel, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, region, device, browser, os, language, screen, event, or prop:<key>',
    value          String COMMENT 'Value of the dimension (empty: not known)',
    pageviews      UInt64 COMMENT 'Page views',
    events         UInt64 COMMENT 'All events',
    visitors       UInt64 COMMENT 'Distinct visitors that day (uniq estimate)',
    visitors_state AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch; uniqMerge() it over a range'
) AS
SELECT site, day, dimension, value, sum(d.pageviews) AS pageviews, sum(d.events) AS events,
       uniqMerge(d.visitors) AS visitors, uniqMergeState(d.visitors) AS visitors_state
FROM agg_daily AS d
GROUP BY site, day, dimension, value;
CREATE VIEW IF NOT EXISTS analytics_visits ON CLUSTER 'tacit'
(
    site            String COMMENT 'Configured site',
    day             Date COMMENT 'UTC day of the visit',
    start           DateTime64(3, 'UTC') COMMENT 'First hit of the visit',
    end             DateTime64(3, 'UTC') COMMENT 'Last hit of the visit',
    duration_s      Float64 COMMENT 'Seconds between first and last hit',
    pageviews       UInt32 COMMENT 'Page views in the visit',
    events          UInt32 COMMENT 'Events in the visit',
    bounced         UInt8 COMMENT '1 if the visit had at most one page view and no other event',
    entry_page      String COMMENT 'Path of the first page view',
    exit_page       String COMMENT 'Path of the last page view',
    referrer_source String COMMENT 'Source of the first hit',
    channel         String COMMENT 'Channel of the first hit',
    utm_campaign    String COMMENT 'utm_campaign of the first hit',
    country         String COMMENT 'Country of the first hit',
    device          String COMMENT 'Device class of the first hit',
    event_names     Array(String) COMMENT 'Event names in order',
    pages           Array(String) COMMENT 'Page view paths in order'
) AS
SELECT site, day, start, end,
       dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events,
       toUInt8(events <= 1) AS bounced,
       entry_page, exit_page, referrer_source, channel, utm_campaign, country, device,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions
WHERE (site, day, version) IN (SELECT site, day, max(version) FROM sessions GROUP BY site, day);
CREATE VIEW IF NOT EXISTS analytics_overview_daily ON CLUSTER 'tacit'
(
    site              String COMMENT 'Configured site',
    day               Date COMMENT 'UTC day',
    visitors          UInt64 COMMENT 'Distinct visitors (uniq estimate)',
    visits            UInt64 COMMENT 'Visits (30 minutes of inactivity end a visit)',
    pageviews         UInt64 COMMENT 'Page views',
    events            UInt64 COMMENT 'All events',
    bounce_rate       Float64 COMMENT 'Share of visits that bounced, 0..1',
    avg_duration_s    Float64 COMMENT 'Mean visit duration in seconds',
    pages_per_visit   Float64 COMMENT 'Mean page views per visit'
) AS
SELECT a.site AS site, a.day AS day, a.visitors AS visitors, v.visits AS visits, a.pageviews AS pageviews,
       a.events AS events, v.bounce_rate AS bounce_rate, v.avg_duration_s AS avg_duration_s,
       v.pages_per_visit AS pages_per_visit
FROM
(
    SELECT site, toDate(hour) AS day, sum(h.pageviews) AS pageviews, sum(h.events) AS events,
           uniqMerge(h.visitors) AS visitors
    FROM agg_hourly AS h GROUP BY site, day
) AS a
LEFT JOIN
(
    SELECT site, day, count() AS visits, avg(bounced) AS bounce_rate,
           avg(duration_s) AS avg_duration_s, avg(pageviews) AS pages_per_visit
    FROM analytics_visits GROUP BY site, day
) AS v ON a.site = v.site AND a.day = v.day;
CREATE VIEW IF NOT EXISTS analytics_entry_pages_daily ON CLUSTER 'tacit'
(
    site        String COMMENT 'Configured site',
    day         Date COMMENT 'UTC day',
    entry_page  String COMMENT 'Path where visits began',
    visits      UInt64 COMMENT 'Visits that began here',
    bounce_rate Float64 COMMENT 'Share of those visits that bounced'
) AS
SELECT site, day, entry_page, count() AS visits, avg(bounced) AS bounce_rate
FROM analytics_visits GROUP BY site, day, entry_page;
CREATE VIEW IF NOT EXISTS analytics_exit_pages_daily ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    exit_page String COMMENT 'Path where visits ended',
    visits    UInt64 COMMENT 'Visits that ended here'
) AS
SELECT site, day, exit_page, count() AS visits
FROM analytics_visits GROUP BY site, day, exit_page;
CREATE VIEW IF NOT EXISTS analytics_data_quality_daily ON CLUSTER 'tacit'
(
    site   String COMMENT 'Configured site',
    day    Date COMMENT 'UTC day',
    reason String COMMENT 'Why hits were not stored: bot, prefetch, empty_user_agent, opt_out, do_not_track, global_privacy_control, excluded_country',
    hits   UInt64 COMMENT 'Hits not stored for this reason'
) AS
SELECT site, day, reason, sum(hits) AS hits FROM dropped_hits GROUP BY site, day, reason;

-- 0005_analyst_role.sql
CREATE ROLE IF NOT EXISTS analyst ON CLUSTER 'tacit';
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_overview_hourly TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_overview_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_breakdown_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_visits TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_entry_pages_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_exit_pages_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_data_quality_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.agg_hourly TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.agg_hourly_local TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.agg_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.agg_daily_local TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.dropped_hits TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.dropped_hits_local TO analyst;

-- 0006_visitor_hll.sql
ALTER TABLE agg_daily_local ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS visitors_hll AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Distinct visitor ids (HLL sketch, about 1.6% error; compact and fast to merge)';
ALTER TABLE agg_daily ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS visitors_hll AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Distinct visitor ids (HLL sketch, about 1.6% error; compact and fast to merge)';
DROP VIEW IF EXISTS agg_daily_mv ON CLUSTER 'tacit' SYNC;
CREATE MATERIALIZED VIEW IF NOT EXISTS agg_daily_mv ON CLUSTER 'tacit' TO agg_daily_local AS
SELECT
    site,
    toDate(ts) AS day,
    kv.1 AS dimension,
    kv.2 AS value,
    toUInt64(countIf(name = 'pageview')) AS pageviews,
    toUInt64(count()) AS events,
    uniqStateIf(visitor_id, visitor_id != 0) AS visitors,
    uniqCombinedStateIf(12)(visitor_id, visitor_id != 0) AS visitors_hll
FROM events_local
ARRAY JOIN arrayConcat(
    [
        ('pathname', pathname), ('hostname', hostname), ('referrer_source', referrer_source),
        ('channel', channel), ('utm_source', utm_source), ('utm_medium', toString(utm_medium)),
        ('utm_campaign', utm_campaign), ('utm_content', utm_content), ('utm_term', utm_term),
        ('country', toString(country)), ('region', toString(region)), ('device', toString(device)),
        ('browser', toString(browser)), ('os', toString(os)), ('language', toString(language)),
        ('screen', toString(screen)), ('event', toString(name))
    ],
    arrayMap((k, v) -> (concat('prop:', toString(k)), v), prop_keys, prop_values)
) AS kv
GROUP BY site, day, dimension, value;
DROP VIEW IF EXISTS analytics_breakdown_daily ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS analytics_breakdown_daily ON CLUSTER 'tacit'
(
    site               String COMMENT 'Configured site',
    day                Date COMMENT 'UTC day',
    dimension          String COMMENT 'pathname, hostname, referrer_source, channel, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, region, device, browser, os, language, screen, event, or prop:<key>',
    value              String COMMENT 'Value of the dimension (empty: not known)',
    pageviews          UInt64 COMMENT 'Page views (partial: sum() over rows)',
    events             UInt64 COMMENT 'All events (partial: sum() over rows)',
    visitors_state     AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch (uniq); uniqMerge() it over rows',
    visitors_hll_state AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Compact visitor sketch (HLL, about 1.6% error); uniqCombinedMerge(12)() it over rows, much faster than visitors_state'
) AS
SELECT site, day, toString(dimension) AS dimension, value,
       toUInt64(pageviews) AS pageviews, toUInt64(events) AS events,
       visitors AS visitors_state, visitors_hll AS visitors_hll_state
FROM agg_daily;

-- 0007_overview_view.sql
DROP VIEW IF EXISTS analytics_overview_hourly ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS analytics_overview_hourly ON CLUSTER 'tacit'
(
    site           String COMMENT 'Configured site',
    hour           DateTime('UTC') COMMENT 'Start of the UTC hour',
    pageviews      UInt64 COMMENT 'Page views (partial: sum() over rows)',
    events         UInt64 COMMENT 'All events, page views included (partial: sum() over rows)',
    visitors_state AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch; uniqMerge() it over rows to count visitors'
) AS
SELECT site, hour, toUInt64(pageviews) AS pageviews, toUInt64(events) AS events, visitors AS visitors_state
FROM agg_hourly;

-- 0008_question_views.sql
CREATE VIEW IF NOT EXISTS analytics_pages_daily ON CLUSTER 'tacit'
(
    site               String COMMENT 'Configured site',
    day                Date COMMENT 'UTC day',
    pathname           String COMMENT 'Path of the page, no query string',
    pageviews          UInt64 COMMENT 'Page views (partial: sum() over rows)',
    events             UInt64 COMMENT 'All events (partial: sum() over rows)',
    visitors_state     AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch (uniq); uniqMerge() it over rows',
    visitors_hll_state AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Compact visitor sketch (HLL, about 1.6% error); uniqCombinedMerge(12)() it over rows'
) AS
SELECT site, day, value AS pathname, toUInt64(pageviews) AS pageviews, toUInt64(events) AS events, visitors AS visitors_state, visitors_hll AS visitors_hll_state
FROM agg_daily
WHERE dimension = 'pathname'
COMMENT 'Which pages get the most visitors and page views?';
CREATE VIEW IF NOT EXISTS analytics_hostnames_daily ON CLUSTER 'tacit'
(
    site               String COMMENT 'Configured site',
    day                Date COMMENT 'UTC day',
    hostname           String COMMENT 'Host of the page URL',
    pageviews          UInt64 COMMENT 'Page views (partial: sum() over rows)',
    events             UInt64 COMMENT 'All events (partial: sum() over rows)',
    visitors_state     AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch (uniq); uniqMerge() it over rows',
    visitors_hll_state AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Compact visitor sketch (HLL, about 1.6% error); uniqCombinedMerge(12)() it over rows'
) AS
SELECT site, day, value AS hostname, toUInt64(pageviews) AS pageviews, toUInt64(events) AS events, visitors AS visitors_state, visitors_hll AS visitors_hll_state
FROM agg_daily
WHERE dimension = 'hostname'
COMMENT 'Which hostnames (sites, subdomains) were visited?';
CREATE VIEW IF NOT EXISTS analytics_sources_daily ON CLUSTER 'tacit'
(
    site               String COMMENT 'Configured site',
    day                Date COMMENT 'UTC day',
    source             String COMMENT 'Named source (Google, Newsletter…) or referrer host; empty for direct',
    pageviews          UInt64 COMMENT 'Page views (partial: sum() over rows)',
    events             UInt64 COMMENT 'All events (partial: sum() over rows)',
    visitors_state     AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch (uniq); uniqMerge() it over rows',
    visitors_hll_state AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Compact visitor sketch (HLL, about 1.6% error); uniqCombinedMerge(12)() it over rows'
) AS
SELECT site, day, value AS source, toUInt64(pageviews) AS pageviews, toUInt64(events) AS events, visitors AS visitors_state, visitors_hll AS visitors_hll_state
FROM agg_daily
WHERE dimension = 'referrer_source'
COMMENT 'Which sources send visitors?';
CREATE VIEW IF NOT EXISTS analytics_channels_daily ON CLUSTER 'tacit'
(
    site               String COMMENT 'Configured site',
    day                Date COMMENT 'UTC day',
    channel            String COMMENT 'direct, search, social, email, paid, referral or ai',
    pageviews          UInt64 COMMENT 'Page views (partial: sum() over rows)',
    events             UInt64 COMMENT 'All events (partial: sum() over rows)',
    visitors_state     AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch (uniq); uniqMerge() it over rows',
    visitors_hll_state AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Compact visitor sketch (HLL, about 1.6% error); uniqCombinedMerge(12)() it over rows'
) AS
SELECT site, day, value AS channel, toUInt64(pageviews) AS pageviews, toUInt64(events) AS events, visitors AS visitors_state, visitors_hll AS visitors_hll_state
FROM agg_daily
WHERE dimension = 'channel'
COMMENT 'How do channels compare?';
CREATE VIEW IF NOT EXISTS analytics_languages_daily ON CLUSTER 'tacit'
(
    site               String COMMENT 'Configured site',
    day                Date COMMENT 'UTC day',
    language           String COMMENT 'Primary language subtag from Accept-Language; empty if unknown',
    pageviews          UInt64 COMMENT 'Page views (partial: sum() over rows)',
    events             UInt64 COMMENT 'All events (partial: sum() over rows)',
    visitors_state     AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch (uniq); uniqMerge() it over rows',
    visitors_hll_state AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Compact visitor sketch (HLL, about 1.6% error); uniqCombinedMerge(12)() it over rows'
) AS
SELECT site, day, value AS language, toUInt64(pageviews) AS pageviews, toUInt64(events) AS events, visitors AS visitors_state, visitors_hll AS visitors_hll_state
FROM agg_daily
WHERE dimension = 'language'
COMMENT 'Which languages do visitors prefer?';
CREATE VIEW IF NOT EXISTS analytics_campaigns_daily ON CLUSTER 'tacit'
(
    site               String COMMENT 'Configured site',
    day                Date COMMENT 'UTC day',
    utm_field          String COMMENT 'Which UTM tag: utm_source, utm_medium, utm_campaign, utm_content or utm_term',
    value              String COMMENT 'Value of the UTM tag (empty: the hit had none)',
    pageviews          UInt64 COMMENT 'Page views (partial: sum() over rows)',
    events             UInt64 COMMENT 'All events (partial: sum() over rows)',
    visitors_state     AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch (uniq); uniqMerge() it over rows',
    visitors_hll_state AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Compact visitor sketch (HLL, about 1.6% error); uniqCombinedMerge(12)() it over rows'
) AS
SELECT site, day, toString(dimension) AS utm_field, value, toUInt64(pageviews) AS pageviews, toUInt64(events) AS events, visitors AS visitors_state, visitors_hll AS visitors_hll_state
FROM agg_daily
WHERE dimension IN ('utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term')
COMMENT 'Which UTM campaigns, sources, media, contents and terms brought visitors?';
CREATE VIEW IF NOT EXISTS analytics_locations_daily ON CLUSTER 'tacit'
(
    site               String COMMENT 'Configured site',
    day                Date COMMENT 'UTC day',
    level              String COMMENT 'country (ISO 3166-1 alpha-2) or region (ISO 3166-2, if the policy keeps regions)',
    value              String COMMENT 'Country or region code; empty if unknown or not kept',
    pageviews          UInt64 COMMENT 'Page views (partial: sum() over rows)',
    events             UInt64 COMMENT 'All events (partial: sum() over rows)',
    visitors_state     AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch (uniq); uniqMerge() it over rows',
    visitors_hll_state AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Compact visitor sketch (HLL, about 1.6% error); uniqCombinedMerge(12)() it over rows'
) AS
SELECT site, day, toString(dimension) AS level, value, toUInt64(pageviews) AS pageviews, toUInt64(events) AS events, visitors AS visitors_state, visitors_hll AS visitors_hll_state
FROM agg_daily
WHERE dimension IN ('country', 'region')
COMMENT 'Which countries and regions are visitors in?';
CREATE VIEW IF NOT EXISTS analytics_technology_daily ON CLUSTER 'tacit'
(
    site               String COMMENT 'Configured site',
    day                Date COMMENT 'UTC day',
    kind               String COMMENT 'device, browser, os or screen',
    value              String COMMENT 'Device class, browser family, OS family or screen class',
    pageviews          UInt64 COMMENT 'Page views (partial: sum() over rows)',
    events             UInt64 COMMENT 'All events (partial: sum() over rows)',
    visitors_state     AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch (uniq); uniqMerge() it over rows',
    visitors_hll_state AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Compact visitor sketch (HLL, about 1.6% error); uniqCombinedMerge(12)() it over rows'
) AS
SELECT site, day, toString(dimension) AS kind, value, toUInt64(pageviews) AS pageviews, toUInt64(events) AS events, visitors AS visitors_state, visitors_hll AS visitors_hll_state
FROM agg_daily
WHERE dimension IN ('device', 'browser', 'os', 'screen')
COMMENT 'Which devices, browsers, operating systems and screens?';
CREATE VIEW IF NOT EXISTS analytics_custom_events_daily ON CLUSTER 'tacit'
(
    site               String COMMENT 'Configured site',
    day                Date COMMENT 'UTC day',
    event              String COMMENT 'Custom event name (page views excluded)',
    occurrences        UInt64 COMMENT 'Times the event happened (partial: sum() over rows)',
    visitors_state     AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch (uniq); uniqMerge() it over rows',
    visitors_hll_state AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Compact visitor sketch (HLL, about 1.6% error); uniqCombinedMerge(12)() it over rows'
) AS
SELECT site, day, value AS event, toUInt64(events) AS occurrences, visitors AS visitors_state, visitors_hll AS visitors_hll_state
FROM agg_daily
WHERE dimension = 'event' AND value != 'pageview'
COMMENT 'Which custom events happen, and how often?';
CREATE VIEW IF NOT EXISTS analytics_properties_daily ON CLUSTER 'tacit'
(
    site               String COMMENT 'Configured site',
    day                Date COMMENT 'UTC day',
    property           String COMMENT 'Custom property name sent with events',
    value              String COMMENT 'Property value',
    events             UInt64 COMMENT 'Events that carried this property value (partial: sum() over rows)',
    visitors_state     AggregateFunction(uniq, UInt64) COMMENT 'Visitor sketch (uniq); uniqMerge() it over rows',
    visitors_hll_state AggregateFunction(uniqCombined(12), UInt64) COMMENT 'Compact visitor sketch (HLL, about 1.6% error); uniqCombinedMerge(12)() it over rows'
) AS
SELECT site, day, substring(toString(dimension), 6) AS property, value, toUInt64(events) AS events,
       visitors AS visitors_state, visitors_hll AS visitors_hll_state
FROM agg_daily
WHERE startsWith(toString(dimension), 'prop:')
COMMENT 'Which values do custom properties take?';
CREATE VIEW IF NOT EXISTS analytics_goal_conversions ON CLUSTER 'tacit' AS
SELECT if(startsWith(g, '/'), 'page', 'event') AS goal_kind, g AS goal, count() AS converted_visits,
       any(total) AS visits, round(converted_visits / visits, 4) AS conversion_rate
FROM
(
    SELECT arrayDistinct(arrayConcat(arrayFilter(e -> e != 'pageview', event_names), pages)) AS goals,
           count() OVER () AS total
    FROM analytics_visits
    WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
)
ARRAY JOIN goals AS g
GROUP BY g
COMMENT 'What share of visits reaches each goal (custom event or page)? Parameters: site, from, to. Columns: goal_kind, goal, converted_visits, visits, conversion_rate';
CREATE VIEW IF NOT EXISTS analytics_funnel ON CLUSTER 'tacit' AS
SELECT s AS step, {steps:Array(String)}[s] AS name, countIf(depth >= s) AS visits,
       round(if(countIf(depth >= 1) = 0, 0, visits / countIf(depth >= 1)), 4) AS conversion_from_start
FROM
(
    SELECT arrayFold(
               (acc, hit) -> if(acc < length({steps:Array(String)}) AND hit = {steps:Array(String)}[acc + 1], acc + 1, acc),
               arrayMap((n, k) -> if(n = 'pageview', pages[k], n), event_names,
                        arrayCumSum(arrayMap(n -> toUInt32(n = 'pageview'), event_names))),
               toUInt64(0)) AS depth
    FROM analytics_visits
    WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
)
ARRAY JOIN arrayEnumerate({steps:Array(String)}) AS s
GROUP BY s
ORDER BY s
COMMENT 'How many visits pass each step of a funnel of pages (/path) and events (name), in order? Parameters: site, from, to, steps';

-- 0009_analyst_role_views.sql
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_pages_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_hostnames_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_sources_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_channels_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_languages_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_campaigns_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_locations_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_technology_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_custom_events_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_properties_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_goal_conversions TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_funnel TO analyst;
GRANT ON CLUSTER 'tacit' SELECT(site, day, start, end, pageviews, events, entry_page, exit_page, referrer_source, channel, utm_campaign, country, device, event_names, pages, version) ON tacit.sessions TO analyst;
GRANT ON CLUSTER 'tacit' SELECT(site, day, start, end, pageviews, events, entry_page, exit_page, referrer_source, channel, utm_campaign, country, device, event_names, pages, version) ON tacit.sessions_local TO analyst;

-- 0010_disclosures.sql
CREATE TABLE IF NOT EXISTS disclosures ON CLUSTER 'tacit'
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
    file_sha256   String COMMENT 'SHA-256 of the file as delivered'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/disclosures', '{replica}')
ORDER BY (partner, time);
CREATE TABLE IF NOT EXISTS export_releases ON CLUSTER 'tacit'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/export_releases', '{replica}')
ORDER BY (partner, export, period, config_hash)
TTL toDateTime(created_at) + INTERVAL 25 MONTH;

-- 0011_event_contract.sql
ALTER TABLE events_local ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS interactive UInt8 DEFAULT 1 COMMENT '0 when the event was sent as non-interactive (not counted for bounce rate)' AFTER prop_values,
    ADD COLUMN IF NOT EXISTS revenue_amount Decimal(18, 6) DEFAULT 0 COMMENT 'Revenue attached to the event, in revenue_currency; 0 if none' AFTER interactive,
    ADD COLUMN IF NOT EXISTS revenue_currency LowCardinality(String) DEFAULT '' COMMENT 'ISO 4217 code of revenue_amount; empty if none' AFTER revenue_amount,
    ADD COLUMN IF NOT EXISTS scroll_depth UInt8 DEFAULT 0 COMMENT 'Engagement events: how far down the page was scrolled, 0-100' AFTER revenue_currency,
    ADD COLUMN IF NOT EXISTS engaged_ms UInt32 DEFAULT 0 COMMENT 'Engagement events: milliseconds the page was visible and focused' AFTER scroll_depth;
ALTER TABLE events ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS interactive UInt8 DEFAULT 1 COMMENT '0 when the event was sent as non-interactive (not counted for bounce rate)' AFTER prop_values,
    ADD COLUMN IF NOT EXISTS revenue_amount Decimal(18, 6) DEFAULT 0 COMMENT 'Revenue attached to the event, in revenue_currency; 0 if none' AFTER interactive,
    ADD COLUMN IF NOT EXISTS revenue_currency LowCardinality(String) DEFAULT '' COMMENT 'ISO 4217 code of revenue_amount; empty if none' AFTER revenue_amount,
    ADD COLUMN IF NOT EXISTS scroll_depth UInt8 DEFAULT 0 COMMENT 'Engagement events: how far down the page was scrolled, 0-100' AFTER revenue_currency,
    ADD COLUMN IF NOT EXISTS engaged_ms UInt32 DEFAULT 0 COMMENT 'Engagement events: milliseconds the page was visible and focused' AFTER scroll_depth;

-- 0012_purges.sql
CREATE TABLE IF NOT EXISTS purges ON CLUSTER 'tacit'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/purges', '{replica}')
ORDER BY (site, requested);
ALTER TABLE disclosures ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS note String DEFAULT '' COMMENT 'For channel purge: the site''s data was removed, and why';

-- 0013_retention_tiers.sql
CREATE TABLE IF NOT EXISTS rollup_days ON CLUSTER 'tacit'
(
    day         Date COMMENT 'UTC day that was rolled up',
    version     UInt64 COMMENT 'Version of the rollup (ms when computed; 0: finalized from the old sketches)',
    computed_at DateTime('UTC') COMMENT 'When the rollup was computed, to the second'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/rollup_days', '{replica}')
ORDER BY (day, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Closed days rolled up into the aggregate tier, and each rollup''s version';
CREATE TABLE IF NOT EXISTS rollup_hourly_local ON CLUSTER 'tacit'
(
    site      LowCardinality(String) COMMENT 'Configured site',
    hour      DateTime('UTC') COMMENT 'Start of the UTC hour',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors in the hour, exact',
    version   UInt64 COMMENT 'Rollup version (see rollup_days)',
    day       Date MATERIALIZED toDate(hour) COMMENT 'UTC day of the hour'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/rollup_hourly_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (site, hour, version)
TTL hour + INTERVAL 25 MONTH
COMMENT 'Page views, events and exact visitor counts per site and hour';
CREATE TABLE IF NOT EXISTS rollup_hourly ON CLUSTER 'tacit' AS rollup_hourly_local ENGINE = Distributed('tacit', 'tacit', 'rollup_hourly_local', cityHash64(site, toDate(hour)))
COMMENT 'Page views, events and exact visitor counts per site and hour';
CREATE TABLE IF NOT EXISTS rollup_daily_local ON CLUSTER 'tacit'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/rollup_daily_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (site, dimension, day, value, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Page views, events and exact visitor counts per site, day and value of one dimension at a time';
CREATE TABLE IF NOT EXISTS rollup_daily ON CLUSTER 'tacit' AS rollup_daily_local ENGINE = Distributed('tacit', 'tacit', 'rollup_daily_local', cityHash64(site, day))
COMMENT 'Page views, events and exact visitor counts per site, day and value of one dimension at a time';
CREATE TABLE IF NOT EXISTS rollup_visits_daily_local ON CLUSTER 'tacit'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/rollup_visits_daily_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (site, kind, day, value, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Visit counts, bounces and total durations per site and day, overall and by entry and exit page';
CREATE TABLE IF NOT EXISTS rollup_visits_daily ON CLUSTER 'tacit' AS rollup_visits_daily_local ENGINE = Distributed('tacit', 'tacit', 'rollup_visits_daily_local', cityHash64(site, day))
COMMENT 'Visit counts, bounces and total durations per site and day, overall and by entry and exit page';
CREATE TABLE IF NOT EXISTS rollup_goals_daily_local ON CLUSTER 'tacit'
(
    site             LowCardinality(String) COMMENT 'Configured site',
    day              Date COMMENT 'UTC day',
    goal_kind        LowCardinality(String) COMMENT 'event (a custom event name) or page (a path)',
    goal             String COMMENT 'The event name or path',
    converted_visits UInt64 COMMENT 'Visits that reached the goal',
    version          UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/rollup_goals_daily_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, goal_kind, goal, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Visits that reached each goal (every custom event and page), per site and day';
CREATE TABLE IF NOT EXISTS rollup_goals_daily ON CLUSTER 'tacit' AS rollup_goals_daily_local ENGINE = Distributed('tacit', 'tacit', 'rollup_goals_daily_local', cityHash64(site, day))
COMMENT 'Visits that reached each goal (every custom event and page), per site and day';
CREATE TABLE IF NOT EXISTS funnel_definitions ON CLUSTER 'tacit'
(
    site  LowCardinality(String) COMMENT 'Configured site the funnel applies to',
    name  String COMMENT 'Funnel name from [[funnels]] in the configuration',
    steps Array(String) COMMENT 'Steps in order: /path for a page view, otherwise a custom event name'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/tacit/funnel_definitions', '{replica}')
ORDER BY (site, name)
COMMENT 'The configured funnels, mirrored from the configuration at startup; no visitor data';
CREATE TABLE IF NOT EXISTS rollup_funnels_daily_local ON CLUSTER 'tacit'
(
    site    LowCardinality(String) COMMENT 'Configured site',
    day     Date COMMENT 'UTC day',
    funnel  String COMMENT 'Configured funnel name',
    step    UInt8 COMMENT 'Step number, from 1',
    name    String COMMENT 'The step: /path or event name',
    visits  UInt64 COMMENT 'Visits that reached this step in order',
    version UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/rollup_funnels_daily_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (site, funnel, day, step, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Visits reaching each step of each configured funnel, per site and day';
CREATE TABLE IF NOT EXISTS rollup_funnels_daily ON CLUSTER 'tacit' AS rollup_funnels_daily_local ENGINE = Distributed('tacit', 'tacit', 'rollup_funnels_daily_local', cityHash64(site, day))
COMMENT 'Visits reaching each step of each configured funnel, per site and day';
INSERT INTO rollup_hourly (site, hour, pageviews, events, visitors, version)
SELECT site, hour, sum(pageviews), sum(events), uniqMerge(visitors), 0
FROM agg_hourly WHERE toDate(hour) < today() - 1 GROUP BY site, hour;
INSERT INTO rollup_daily
SELECT site, toDate(hour) AS day, 'all', '', sum(pageviews), sum(events), uniqMerge(visitors), 0
FROM agg_hourly WHERE toDate(hour) < today() - 1 GROUP BY site, day;
INSERT INTO rollup_daily
SELECT site, day, dimension, value, sum(pageviews), sum(events), uniqMerge(visitors), 0
FROM agg_daily WHERE day < today() - 1 GROUP BY site, day, dimension, value;
INSERT INTO rollup_visits_daily
SELECT site, day, kv.1 AS kind, kv.2 AS value, count(), sum(bounced), sum(duration_s), sum(pageviews), 0
FROM analytics_visits
ARRAY JOIN [('all', ''), ('entry_page', entry_page), ('exit_page', exit_page)] AS kv
WHERE day < today() - 1
GROUP BY site, day, kind, value;
INSERT INTO rollup_goals_daily
SELECT site, day, if(startsWith(g, '/'), 'page', 'event') AS goal_kind, g AS goal, count(), 0
FROM analytics_visits
ARRAY JOIN arrayDistinct(arrayConcat(arrayFilter(e -> e != 'pageview', event_names), pages)) AS g
WHERE day < today() - 1
GROUP BY site, day, goal_kind, goal;
INSERT INTO rollup_days
SELECT DISTINCT day, 0, now() FROM
(
    SELECT toDate(hour) AS day FROM agg_hourly
    UNION ALL SELECT day FROM agg_daily
    UNION ALL SELECT day FROM sessions
)
WHERE day < today() - 1;
DROP VIEW IF EXISTS agg_hourly_mv ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS agg_daily_mv ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_overview_hourly ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_overview_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_breakdown_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_entry_pages_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_exit_pages_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_pages_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_hostnames_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_sources_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_channels_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_languages_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_campaigns_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_locations_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_technology_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_custom_events_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_properties_daily ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_goal_conversions ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_funnel ON CLUSTER 'tacit' SYNC;
DROP TABLE IF EXISTS agg_hourly ON CLUSTER 'tacit' SYNC;
DROP TABLE IF EXISTS agg_hourly_local ON CLUSTER 'tacit' SYNC;
DROP TABLE IF EXISTS agg_daily ON CLUSTER 'tacit' SYNC;
DROP TABLE IF EXISTS agg_daily_local ON CLUSTER 'tacit' SYNC;
ALTER TABLE sessions_local ON CLUSTER 'tacit' MODIFY TTL day + INTERVAL 30 DAY;
ALTER TABLE events_local ON CLUSTER 'tacit' MODIFY COMMENT 'Event tier: one pseudonymous row per accepted hit (visitor id, millisecond time); kept policy.event_ttl_days';
ALTER TABLE events ON CLUSTER 'tacit' MODIFY COMMENT 'Event tier: one pseudonymous row per accepted hit (visitor id, millisecond time); kept policy.event_ttl_days';
ALTER TABLE sessions_local ON CLUSTER 'tacit' MODIFY COMMENT 'Event tier: one row per visit (visitor id, times to the millisecond, pages and events in order); kept policy.event_ttl_days';
ALTER TABLE sessions ON CLUSTER 'tacit' MODIFY COMMENT 'Event tier: one row per visit (visitor id, times to the millisecond, pages and events in order); kept policy.event_ttl_days';
ALTER TABLE salts ON CLUSTER 'tacit' MODIFY COMMENT 'The daily visitor-id salts: yesterday, today and tomorrow only';
ALTER TABLE disclosures ON CLUSTER 'tacit' MODIFY COMMENT 'Ledger: every release of statistics to a partner (who, when, which categories, how many groups) and notes of site removals; kept';
ALTER TABLE export_releases ON CLUSTER 'tacit' MODIFY COMMENT 'Ledger: the released files, so that a repeated request gets the same figures; counts only';
ALTER TABLE purges ON CLUSTER 'tacit' MODIFY COMMENT 'Ledger: each removal of a site''s data on its owner''s request, with the rows removed per table; kept';
ALTER TABLE schema_migrations ON CLUSTER 'tacit' MODIFY COMMENT 'The schema migrations applied, with their checksums';
ALTER TABLE dropped_hits_local ON CLUSTER 'tacit' MODIFY COMMENT 'Hits not stored (bots, consent signals, opt-outs) per site, day and reason: counts only';
ALTER TABLE dropped_hits ON CLUSTER 'tacit' MODIFY COMMENT 'Hits not stored (bots, consent signals, opt-outs) per site, day and reason: counts only';
CREATE VIEW IF NOT EXISTS analytics_overview_hourly ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    hour      DateTime('UTC') COMMENT 'Start of the UTC hour',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors in the hour, exact (a visitor active in two hours counts in both)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, hour, pageviews, events, visitors FROM rollup_hourly WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toStartOfHour(ts) AS hour, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, hour
COMMENT 'Page views, events and visitors per hour';
CREATE VIEW IF NOT EXISTS analytics_visits_daily ON CLUSTER 'tacit'
(
    site       String COMMENT 'Configured site',
    day        Date COMMENT 'UTC day',
    kind       String COMMENT 'all (every visit of the day), entry_page or exit_page',
    value      String COMMENT 'The entry or exit page; empty for all',
    visits     UInt64 COMMENT 'Visits',
    bounces    UInt64 COMMENT 'Visits with at most one event',
    duration_s Float64 COMMENT 'Total duration of the visits in seconds (divide by visits for the mean)',
    pageviews  UInt64 COMMENT 'Total page views of the visits'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, kind, value, visits, bounces, duration_s, pageviews FROM rollup_visits_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, day, kv.1 AS kind, kv.2 AS value, count(), sum(bounced), sum(duration_s), sum(pageviews)
FROM analytics_visits
ARRAY JOIN [('all', ''), ('entry_page', entry_page), ('exit_page', exit_page)] AS kv
WHERE day NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, kind, value
COMMENT 'How many visits, bounces and how long, per day, overall and by entry and exit page? Sum the columns over days';
CREATE VIEW IF NOT EXISTS analytics_overview_daily ON CLUSTER 'tacit'
(
    site            String COMMENT 'Configured site',
    day             Date COMMENT 'UTC day',
    visitors        UInt64 COMMENT 'Distinct visitors, exact; sum() over days',
    visits          UInt64 COMMENT 'Visits (30 minutes of inactivity end a visit)',
    pageviews       UInt64 COMMENT 'Page views',
    events          UInt64 COMMENT 'All events',
    bounces         UInt64 COMMENT 'Visits with at most one event',
    duration_s      Float64 COMMENT 'Total visit duration in seconds',
    bounce_rate     Float64 COMMENT 'Share of visits that bounced that day, 0..1 (over a range: sum(bounces) / sum(visits))',
    avg_duration_s  Float64 COMMENT 'Mean visit duration that day in seconds (over a range: sum(duration_s) / sum(visits))',
    pages_per_visit Float64 COMMENT 'Mean page views per visit that day'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT a.site AS site, a.day AS day, a.visitors AS visitors, v.visits AS visits, a.pageviews AS pageviews,
       a.events AS events, v.bounces AS bounces, v.duration_s AS duration_s,
       if(v.visits = 0, 0, v.bounces / v.visits) AS bounce_rate,
       if(v.visits = 0, 0, v.duration_s / v.visits) AS avg_duration_s,
       if(v.visits = 0, 0, v.pageviews / v.visits) AS pages_per_visit
FROM
(
    SELECT site, day, pageviews, events, visitors FROM rollup_daily WHERE dimension = 'all' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
    UNION ALL
    SELECT site, toDate(ts) AS day, countIf(name = 'pageview') AS pageviews, count() AS events, uniqExactIf(visitor_id, visitor_id != 0) AS visitors
    FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days) GROUP BY site, day
) AS a
LEFT JOIN
(
    SELECT site, day, visits, bounces, duration_s, pageviews FROM analytics_visits_daily WHERE kind = 'all'
) AS v ON a.site = v.site AND a.day = v.day
COMMENT 'Visitors, visits, page views, bounce rate and duration per day';
CREATE VIEW IF NOT EXISTS analytics_breakdown_daily ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    dimension String COMMENT 'all (totals), pathname, hostname, referrer_source, channel, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, region, device, browser, os, language, screen, event, or prop:<key>',
    value     String COMMENT 'Value of the dimension (empty: not known)',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, toString(dimension) AS dimension, value, pageviews, events, visitors FROM rollup_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, kv.1 AS dimension, kv.2 AS value, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events
ARRAY JOIN arrayConcat([('all', '')], [('pathname', pathname), ('hostname', hostname), ('referrer_source', referrer_source), ('channel', channel), ('utm_source', utm_source), ('utm_medium', toString(utm_medium)), ('utm_campaign', utm_campaign), ('utm_content', utm_content), ('utm_term', utm_term), ('country', toString(country)), ('region', toString(region)), ('device', toString(device)), ('browser', toString(browser)), ('os', toString(os)), ('language', toString(language)), ('screen', toString(screen)), ('event', toString(name))],
    arrayMap((k, v) -> (concat('prop:', toString(k)), v), prop_keys, prop_values)) AS kv
WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, dimension, value
COMMENT 'Every dimension in one table: page views, events and exact visitors per site, day and value';
CREATE VIEW IF NOT EXISTS analytics_pages_daily ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    pathname String COMMENT 'Path of the page, no query string',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, value AS pathname, pageviews, events, visitors FROM rollup_daily
WHERE dimension = 'pathname' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, pathname AS pathname, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, pathname
COMMENT 'Which pages get the most visitors and page views?';
CREATE VIEW IF NOT EXISTS analytics_hostnames_daily ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    hostname String COMMENT 'Host of the page URL',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, value AS hostname, pageviews, events, visitors FROM rollup_daily
WHERE dimension = 'hostname' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, hostname AS hostname, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, hostname
COMMENT 'Which hostnames (sites, subdomains) were visited?';
CREATE VIEW IF NOT EXISTS analytics_sources_daily ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    source String COMMENT 'Named source (Google, Newsletter…) or referrer host; empty for direct',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, value AS source, pageviews, events, visitors FROM rollup_daily
WHERE dimension = 'referrer_source' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, referrer_source AS source, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, source
COMMENT 'Which sources send visitors?';
CREATE VIEW IF NOT EXISTS analytics_channels_daily ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    channel String COMMENT 'direct, search, social, email, paid, referral or ai',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, value AS channel, pageviews, events, visitors FROM rollup_daily
WHERE dimension = 'channel' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, toString(channel) AS channel, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, channel
COMMENT 'How do channels compare?';
CREATE VIEW IF NOT EXISTS analytics_languages_daily ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    language String COMMENT 'Primary language subtag from Accept-Language; empty if unknown',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, value AS language, pageviews, events, visitors FROM rollup_daily
WHERE dimension = 'language' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, toString(language) AS language, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, language
COMMENT 'Which languages do visitors prefer?';
CREATE VIEW IF NOT EXISTS analytics_campaigns_daily ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    utm_field String COMMENT 'Which UTM tag: utm_source, utm_medium, utm_campaign, utm_content or utm_term',
    value     String COMMENT 'The value (empty: not known)',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, toString(dimension) AS utm_field, value, pageviews, events, visitors FROM rollup_daily
WHERE dimension IN ('utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term') AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, kv.1 AS utm_field, kv.2 AS value, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events
ARRAY JOIN [('utm_source', utm_source), ('utm_medium', toString(utm_medium)), ('utm_campaign', utm_campaign), ('utm_content', utm_content), ('utm_term', utm_term)] AS kv
WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, utm_field, value
COMMENT 'Which UTM campaigns, sources, media, contents and terms brought visitors?';
CREATE VIEW IF NOT EXISTS analytics_locations_daily ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    level String COMMENT 'country (ISO 3166-1 alpha-2) or region (ISO 3166-2, if the policy keeps regions)',
    value     String COMMENT 'The value (empty: not known)',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, toString(dimension) AS level, value, pageviews, events, visitors FROM rollup_daily
WHERE dimension IN ('country', 'region') AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, kv.1 AS level, kv.2 AS value, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events
ARRAY JOIN [('country', toString(country)), ('region', toString(region))] AS kv
WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, level, value
COMMENT 'Which countries and regions are visitors in?';
CREATE VIEW IF NOT EXISTS analytics_technology_daily ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    kind String COMMENT 'device, browser, os or screen',
    value     String COMMENT 'The value (empty: not known)',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included',
    visitors  UInt64 COMMENT 'Distinct visitors that day, exact. Visitor ids are daily, so visitors over a range are sum(visitors)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, toString(dimension) AS kind, value, pageviews, events, visitors FROM rollup_daily
WHERE dimension IN ('device', 'browser', 'os', 'screen') AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, kv.1 AS kind, kv.2 AS value, countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events
ARRAY JOIN [('device', toString(device)), ('browser', toString(browser)), ('os', toString(os)), ('screen', toString(screen))] AS kv
WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, kind, value
COMMENT 'Which devices, browsers, operating systems and screens?';
CREATE VIEW IF NOT EXISTS analytics_custom_events_daily ON CLUSTER 'tacit'
(
    site        String COMMENT 'Configured site',
    day         Date COMMENT 'UTC day',
    event       String COMMENT 'Custom event name (page views excluded)',
    occurrences UInt64 COMMENT 'Times the event happened',
    visitors    UInt64 COMMENT 'Distinct visitors with the event that day, exact; sum() over days'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, value AS event, events AS occurrences, visitors FROM rollup_daily
WHERE dimension = 'event' AND value != 'pageview' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, toString(name) AS event, count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events WHERE name != 'pageview' AND toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, event
COMMENT 'Which custom events happen, and how often?';
CREATE VIEW IF NOT EXISTS analytics_properties_daily ON CLUSTER 'tacit'
(
    site     String COMMENT 'Configured site',
    day      Date COMMENT 'UTC day',
    property String COMMENT 'Custom property name sent with events',
    value    String COMMENT 'Property value',
    events   UInt64 COMMENT 'Events that carried this property value',
    visitors UInt64 COMMENT 'Distinct visitors that sent it that day, exact; sum() over days'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, substring(toString(dimension), 6) AS property, value, events, visitors FROM rollup_daily
WHERE startsWith(toString(dimension), 'prop:') AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, toString(kv.1) AS property, kv.2 AS value, count(), uniqExactIf(visitor_id, visitor_id != 0)
FROM events
ARRAY JOIN arrayZip(prop_keys, prop_values) AS kv
WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, property, value
COMMENT 'Which values do custom properties take?';
CREATE VIEW IF NOT EXISTS analytics_goals_daily ON CLUSTER 'tacit'
(
    site             String COMMENT 'Configured site',
    day              Date COMMENT 'UTC day',
    goal_kind        String COMMENT 'event (custom event name) or page (path)',
    goal             String COMMENT 'The event name or path',
    converted_visits UInt64 COMMENT 'Visits that reached the goal; sum() over days'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, goal_kind, goal, converted_visits FROM rollup_goals_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, day, if(startsWith(g, '/'), 'page', 'event') AS goal_kind, g AS goal, count()
FROM analytics_visits
ARRAY JOIN arrayDistinct(arrayConcat(arrayFilter(e -> e != 'pageview', event_names), pages)) AS g
WHERE day NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day, goal_kind, goal
COMMENT 'How many visits reached each goal (any custom event or page) per day?';
CREATE VIEW IF NOT EXISTS analytics_goal_conversions ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT goal_kind, goal, sum(g.converted_visits) AS converted_visits, any(t.visits) AS visits,
       round(if(visits = 0, 0, converted_visits / visits), 4) AS conversion_rate
FROM analytics_goals_daily AS g
CROSS JOIN
(
    SELECT sum(visits) AS visits FROM analytics_visits_daily
    WHERE kind = 'all' AND site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
) AS t
WHERE g.site = {site:String} AND g.day BETWEEN {from:Date} AND {to:Date}
GROUP BY goal_kind, goal
COMMENT 'What share of visits reaches each goal (custom event or page), over any range? Parameters: site, from, to. Columns: goal_kind, goal, converted_visits, visits, conversion_rate';
CREATE VIEW IF NOT EXISTS analytics_funnels_daily ON CLUSTER 'tacit'
(
    site   String COMMENT 'Configured site',
    day    Date COMMENT 'UTC day',
    funnel String COMMENT 'Configured funnel name ([[funnels]])',
    step   UInt8 COMMENT 'Step number, from 1',
    name   String COMMENT 'The step: /path or event name',
    visits UInt64 COMMENT 'Visits that reached this step in order; sum() over days'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, funnel, step, name, visits FROM rollup_funnels_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, day, funnel, toUInt8(s) AS step, steps[s] AS name, countIf(depth >= s)
FROM
(
    SELECT v.site AS site, v.day AS day, f.name AS funnel, f.steps AS steps,
           arrayFold(
               (acc, hit) -> if(acc < length(f.steps) AND hit = f.steps[acc + 1], acc + 1, acc),
               arrayMap((n, k) -> if(n = 'pageview', pages[k], n), event_names,
                        arrayCumSum(arrayMap(n -> toUInt32(n = 'pageview'), event_names))),
               toUInt64(0)) AS depth
    FROM analytics_visits AS v
    INNER JOIN (SELECT site, name, steps FROM funnel_definitions FINAL) AS f ON f.site = v.site
    WHERE v.day NOT IN (SELECT day FROM rollup_days)
)
ARRAY JOIN arrayEnumerate(steps) AS s
GROUP BY site, day, funnel, step, name
COMMENT 'How many visits pass each step of each configured funnel, per day? Sum visits over days';
CREATE VIEW IF NOT EXISTS analytics_funnel ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT s AS step, {steps:Array(String)}[s] AS name, countIf(depth >= s) AS visits,
       round(if(countIf(depth >= 1) = 0, 0, visits / countIf(depth >= 1)), 4) AS conversion_from_start
FROM
(
    SELECT arrayFold(
               (acc, hit) -> if(acc < length({steps:Array(String)}) AND hit = {steps:Array(String)}[acc + 1], acc + 1, acc),
               arrayMap((n, k) -> if(n = 'pageview', pages[k], n), event_names,
                        arrayCumSum(arrayMap(n -> toUInt32(n = 'pageview'), event_names))),
               toUInt64(0)) AS depth
    FROM analytics_visits
    WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
      AND (SELECT throwIf({from:Date} <= today() - (SELECT toUInt32OrDefault(extract(engine_full, 'toIntervalDay\\((\\d+)\\)'), toUInt32(30)) FROM system.tables WHERE database = currentDatabase() AND name = 'sessions'),
                  'analytics_funnel: ad-hoc funnels read visits, which are kept only for the event retention (policy.event_ttl_days); choose a later from date, or configure the funnel ([[funnels]]) and read analytics_funnels_daily')) = 0
)
ARRAY JOIN arrayEnumerate({steps:Array(String)}) AS s
GROUP BY s
ORDER BY s
COMMENT 'Ad-hoc funnel within the event retention: how many visits pass each step of pages (/path) and events (name), in order? Parameters: site, from, to, steps. A from date past the event retention is refused';
CREATE VIEW IF NOT EXISTS analytics_entry_pages_daily ON CLUSTER 'tacit'
(
    site        String COMMENT 'Configured site',
    day         Date COMMENT 'UTC day',
    entry_page  String COMMENT 'Path where visits began',
    visits      UInt64 COMMENT 'Visits that began here',
    bounces     UInt64 COMMENT 'Of those, visits that bounced',
    bounce_rate Float64 COMMENT 'Share of those visits that bounced that day (over a range: sum(bounces) / sum(visits))'
)
AS
SELECT site, day, value AS entry_page, visits, bounces, if(visits = 0, 0, bounces / visits) AS bounce_rate
FROM analytics_visits_daily WHERE kind = 'entry_page'
COMMENT 'Where do visits begin?';
CREATE VIEW IF NOT EXISTS analytics_exit_pages_daily ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    exit_page String COMMENT 'Path where visits ended',
    visits    UInt64 COMMENT 'Visits that ended here'
)
AS
SELECT site, day, value AS exit_page, visits
FROM analytics_visits_daily WHERE kind = 'exit_page'
COMMENT 'Where do visits end?';

-- 0014_analyst_role_tiers.sql
REVOKE ON CLUSTER 'tacit' SELECT ON tacit.agg_hourly FROM analyst;
REVOKE ON CLUSTER 'tacit' SELECT ON tacit.agg_hourly_local FROM analyst;
REVOKE ON CLUSTER 'tacit' SELECT ON tacit.agg_daily FROM analyst;
REVOKE ON CLUSTER 'tacit' SELECT ON tacit.agg_daily_local FROM analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_visits_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_goals_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_funnels_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_hourly TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_hourly_local TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_daily_local TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_visits_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_visits_daily_local TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_goals_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_goals_daily_local TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_funnels_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_funnels_daily_local TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_days TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.funnel_definitions TO analyst;

-- 0015_linked_exports.sql
CREATE TABLE IF NOT EXISTS export_cells ON CLUSTER 'tacit'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/export_cells', '{replica}')
ORDER BY (partner, period_start, export, period)
TTL period_end + INTERVAL 25 MONTH
COMMENT 'Ledger: every cell of every partner release, released or withheld, for auditing later releases against it; counts only';
CREATE TABLE IF NOT EXISTS export_atoms ON CLUSTER 'tacit'
(
    partner LowCardinality(String) COMMENT 'Third party',
    finest  Array(String) COMMENT 'The finest dimensions across the partner''s exports when recorded',
    site    LowCardinality(String) COMMENT 'Site',
    day     Date COMMENT 'UTC day',
    keys    Array(String) COMMENT 'Values of the finest dimensions that had at least one visitor that day'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/tacit/export_atoms', '{replica}')
ORDER BY (partner, day, site, finest, keys)
TTL day + INTERVAL 25 MONTH
COMMENT 'Ledger: which combinations of the finest dimensions existed per site and day in released periods; no counts';
CREATE TABLE IF NOT EXISTS export_claims ON CLUSTER 'tacit'
(
    partner     LowCardinality(String) COMMENT 'Third party',
    export      LowCardinality(String) COMMENT 'Export name',
    period      String COMMENT 'Period',
    config_hash String COMMENT 'SHA-256 of the export definition',
    claim       String COMMENT 'Random id of the request that claimed the release',
    claimed_at  DateTime64(6, 'UTC') DEFAULT now64(6) COMMENT 'When the claim reached the database (the database''s clock)',
    abandoned   UInt8 DEFAULT 0 COMMENT '1 on the row that gives a failed claim up'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/export_claims', '{replica}')
ORDER BY (partner, export, period, config_hash, claimed_at)
TTL toDateTime(claimed_at) + INTERVAL 25 MONTH
COMMENT 'Who makes each release: the earliest live claim wins, the others wait for its file';

-- 0016_open_visits.sql
CREATE VIEW IF NOT EXISTS open_visits ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions
WHERE day NOT IN (SELECT day FROM rollup_days)
  AND (site, day, version) IN
      (SELECT site, day, max(version) FROM sessions WHERE day NOT IN (SELECT day FROM rollup_days) GROUP BY site, day)
COMMENT 'Internal: the newest visits of the days not rolled up yet, for the live part of the visit views';
DROP VIEW IF EXISTS analytics_visits_daily ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS analytics_visits_daily ON CLUSTER 'tacit'
(
    site       String COMMENT 'Configured site',
    day        Date COMMENT 'UTC day',
    kind       String COMMENT 'all (every visit of the day), entry_page or exit_page',
    value      String COMMENT 'The entry or exit page; empty for all',
    visits     UInt64 COMMENT 'Visits',
    bounces    UInt64 COMMENT 'Visits with at most one event',
    duration_s Float64 COMMENT 'Total duration of the visits in seconds (divide by visits for the mean)',
    pageviews  UInt64 COMMENT 'Total page views of the visits'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, kind, value, visits, bounces, duration_s, pageviews FROM rollup_visits_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, day, kv.1 AS kind, kv.2 AS value, count(), sum(bounced), sum(duration_s), sum(pageviews)
FROM open_visits
ARRAY JOIN [('all', ''), ('entry_page', entry_page), ('exit_page', exit_page)] AS kv
GROUP BY site, day, kind, value
COMMENT 'How many visits, bounces and how long, per day, overall and by entry and exit page? Sum the columns over days';
DROP VIEW IF EXISTS analytics_goals_daily ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS analytics_goals_daily ON CLUSTER 'tacit'
(
    site             String COMMENT 'Configured site',
    day              Date COMMENT 'UTC day',
    goal_kind        String COMMENT 'event (custom event name) or page (path)',
    goal             String COMMENT 'The event name or path',
    converted_visits UInt64 COMMENT 'Visits that reached the goal; sum() over days'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, goal_kind, goal, converted_visits FROM rollup_goals_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, day, if(startsWith(g, '/'), 'page', 'event') AS goal_kind, g AS goal, count()
FROM open_visits
ARRAY JOIN arrayDistinct(arrayConcat(arrayFilter(e -> e != 'pageview', event_names), pages)) AS g
GROUP BY site, day, goal_kind, goal
COMMENT 'How many visits reached each goal (any custom event or page) per day?';
DROP VIEW IF EXISTS analytics_funnels_daily ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS analytics_funnels_daily ON CLUSTER 'tacit'
(
    site   String COMMENT 'Configured site',
    day    Date COMMENT 'UTC day',
    funnel String COMMENT 'Configured funnel name ([[funnels]])',
    step   UInt8 COMMENT 'Step number, from 1',
    name   String COMMENT 'The step: /path or event name',
    visits UInt64 COMMENT 'Visits that reached this step in order; sum() over days'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, funnel, step, name, visits FROM rollup_funnels_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, day, funnel, toUInt8(s) AS step, steps[s] AS name, countIf(depth >= s)
FROM
(
    SELECT v.site AS site, v.day AS day, f.name AS funnel, f.steps AS steps,
           arrayFold(
               (acc, hit) -> if(acc < length(f.steps) AND hit = f.steps[acc + 1], acc + 1, acc),
               arrayMap((n, k) -> if(n = 'pageview', pages[k], n), event_names,
                        arrayCumSum(arrayMap(n -> toUInt32(n = 'pageview'), event_names))),
               toUInt64(0)) AS depth
    FROM open_visits AS v
    INNER JOIN (SELECT site, name, steps FROM funnel_definitions FINAL) AS f ON f.site = v.site
)
ARRAY JOIN arrayEnumerate(steps) AS s
GROUP BY site, day, funnel, step, name
COMMENT 'How many visits pass each step of each configured funnel, per day? Sum visits over days';
CREATE VIEW IF NOT EXISTS analytics_totals_daily ON CLUSTER 'tacit'
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    visitors  UInt64 COMMENT 'Distinct visitors, exact; sum() over days (visitor ids are daily)',
    pageviews UInt64 COMMENT 'Page views',
    events    UInt64 COMMENT 'All events, page views included'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, visitors, pageviews, events FROM rollup_daily
WHERE dimension = 'all' AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, toDate(ts) AS day, uniqExactIf(visitor_id, visitor_id != 0), countIf(name = 'pageview'), count()
FROM events WHERE toDate(ts) NOT IN (SELECT day FROM rollup_days)
GROUP BY site, day
COMMENT 'How many visitors, page views and events per day (no visits: faster than analytics_overview_daily)?';

-- 0017_analyst_role_totals.sql
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_totals_daily TO analyst;

-- 0018_email.sql
CREATE TABLE IF NOT EXISTS email_events_local ON CLUSTER 'tacit'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/email_events_local', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (site, campaign, toDate(ts), visitor_id, ts)
TTL toDateTime(ts) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Event tier: one pseudonymous row per email open or click; kept policy.event_ttl_days';
CREATE TABLE IF NOT EXISTS email_events ON CLUSTER 'tacit' AS email_events_local ENGINE = Distributed('tacit', 'tacit', 'email_events_local', cityHash64(site, toDate(ts), visitor_id))
COMMENT 'Event tier: one pseudonymous row per email open or click; kept policy.event_ttl_days';
CREATE TABLE IF NOT EXISTS rollup_email_daily_local ON CLUSTER 'tacit'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/rollup_email_daily_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, campaign, kind, link, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Email opens and clicks and their distinct daily visitors per site, day, campaign, variant, link and class';
CREATE TABLE IF NOT EXISTS rollup_email_daily ON CLUSTER 'tacit' AS rollup_email_daily_local ENGINE = Distributed('tacit', 'tacit', 'rollup_email_daily_local', cityHash64(site, day))
COMMENT 'Email opens and clicks and their distinct daily visitors per site, day, campaign, variant, link and class';
CREATE VIEW IF NOT EXISTS email_counts ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, toDate(ts) AS day, campaign, variant, kind, link, class, machine,
       count() AS events, uniqExactIf(visitor_id, visitor_id != 0) AS visitors
FROM email_events
ARRAY JOIN if(kind = 'click', ['', concat(link_host, link_path)], ['']) AS link
GROUP BY site, day, campaign, variant, kind, link, class, machine
COMMENT 'Internal: email counts per day from the event tier, grouped as rollup_email_daily';
CREATE VIEW IF NOT EXISTS email_counts_current ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, campaign, variant, kind, link, class, machine, events, visitors
FROM rollup_email_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, day, campaign, variant, kind, link, class, machine, events, visitors
FROM email_counts WHERE day NOT IN (SELECT day FROM rollup_days)
COMMENT 'Internal: the newest rollup of closed days and the event tier for the others';
CREATE VIEW IF NOT EXISTS analytics_email_daily ON CLUSTER 'tacit'
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
CREATE VIEW IF NOT EXISTS analytics_email_links_daily ON CLUSTER 'tacit'
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

-- 0019_analyst_role_email.sql
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_email_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.analytics_email_links_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_email_daily TO analyst;
GRANT ON CLUSTER 'tacit' SELECT ON tacit.rollup_email_daily_local TO analyst;

-- 0020_funnel_steps.sql
ALTER TABLE sessions_local ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS steps Array(String)
        DEFAULT arrayMap((n, k) -> if(n = 'pageview', pages[k], toString(n)), event_names,
                         arrayCumSum(arrayMap(n -> toUInt32(n = 'pageview'), event_names)))
        COMMENT 'Each hit of the visit in order: the path of a page view, the name of any other event (for ad-hoc funnels)'
        AFTER pages;
ALTER TABLE sessions ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS steps Array(String)
        DEFAULT arrayMap((n, k) -> if(n = 'pageview', pages[k], toString(n)), event_names,
                         arrayCumSum(arrayMap(n -> toUInt32(n = 'pageview'), event_names)))
        COMMENT 'Each hit of the visit in order: the path of a page view, the name of any other event (for ad-hoc funnels)'
        AFTER pages;
ALTER TABLE sessions_local ON CLUSTER 'tacit' MATERIALIZE COLUMN steps;
DROP VIEW IF EXISTS analytics_funnel ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS analytics_funnel ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT s AS step, {steps:Array(String)}[s] AS name, sumIf(n, depth >= s) AS visits,
       round(if(sumIf(n, depth >= 1) = 0, 0, visits / sumIf(n, depth >= 1)), 4) AS conversion_from_start
FROM
(
    SELECT depth, count() AS n
    FROM
    (
        SELECT indexOf(steps, {steps:Array(String)}[1]) AS first,
               if(first = 0, 0,
                  arrayFold((acc, hit) -> if(acc < length({steps:Array(String)}) AND hit = {steps:Array(String)}[acc + 1], acc + 1, acc),
                            arraySlice(steps, first + 1), toUInt64(1))) AS depth
        FROM sessions
        WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
          AND (day, version) IN
              (SELECT day, max(version) FROM sessions
               WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date} GROUP BY day)
          AND (SELECT throwIf({from:Date} <= today() - (SELECT toUInt32OrDefault(extract(engine_full, 'toIntervalDay\\((\\d+)\\)'), toUInt32(30)) FROM system.tables WHERE database = currentDatabase() AND name = 'sessions'),
                      'analytics_funnel: ad-hoc funnels read visits, which are kept only for the event retention (policy.event_ttl_days); choose a later from date, or configure the funnel ([[funnels]]) and read analytics_funnels_daily')) = 0
    )
    GROUP BY depth
)
ARRAY JOIN arrayEnumerate({steps:Array(String)}) AS s
GROUP BY s
ORDER BY s
COMMENT 'Ad-hoc funnel within the event retention: how many visits pass each step of pages (/path) and events (name), in order? Parameters: site, from, to, steps. A from date past the event retention is refused';

-- 0021_incremental_sessions.sql
CREATE TABLE IF NOT EXISTS events_recent_local ON CLUSTER 'tacit'
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
    INDEX inserted_range inserted TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/events_recent_local', '{replica}')
PARTITION BY toStartOfHour(ts)
ORDER BY ts
TTL toDateTime(inserted) + INTERVAL 6 HOUR
SETTINGS ttl_only_drop_parts = 1
COMMENT 'Event tier, working table of the sessionizer: the last hours of events, by insert time; kept 6 hours';
CREATE TABLE IF NOT EXISTS events_recent ON CLUSTER 'tacit' AS events_recent_local ENGINE = Distributed('tacit', 'tacit', 'events_recent_local', cityHash64(site, toDate(ts), visitor_id))
COMMENT 'Event tier, working table of the sessionizer: the last hours of events, by insert time; kept 6 hours';
CREATE MATERIALIZED VIEW IF NOT EXISTS events_recent_mv ON CLUSTER 'tacit' TO events_recent_local AS
SELECT site, ts, name, visitor_id, pathname, referrer_source, channel, utm_campaign, country, device,
       now64(3, 'UTC') AS inserted
FROM events_local
WHERE visitor_id != 0 AND toDate(ts) >= today() - 1;
CREATE TABLE IF NOT EXISTS sessions_tail_local ON CLUSTER 'tacit'
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
    INDEX version_range version TYPE minmax GRANULARITY 1
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/sessions_tail_local', '{replica}')
PARTITION BY toStartOfHour(end)
ORDER BY end
TTL written + INTERVAL 6 HOUR
SETTINGS ttl_only_drop_parts = 1
COMMENT 'Event tier, working table of the sessionizer: every version of the visits of the last hours; kept 6 hours';
CREATE TABLE IF NOT EXISTS sessions_tail ON CLUSTER 'tacit' AS sessions_tail_local ENGINE = Distributed('tacit', 'tacit', 'sessions_tail_local', cityHash64(site, day, visitor_id))
COMMENT 'Event tier, working table of the sessionizer: every version of the visits of the last hours; kept 6 hours';
CREATE MATERIALIZED VIEW IF NOT EXISTS sessions_tail_mv ON CLUSTER 'tacit' TO sessions_tail_local AS
SELECT site, day, visitor_id, start, end, pageviews, events, entry_page, exit_page, referrer_source,
       channel, utm_campaign, country, device, event_names, pages, version
FROM sessions_local
WHERE day >= today() - 1;
DROP VIEW IF EXISTS analytics_visits ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS analytics_visits ON CLUSTER 'tacit'
(
    site            String COMMENT 'Configured site',
    day             Date COMMENT 'UTC day of the visit',
    start           DateTime64(3, 'UTC') COMMENT 'First hit of the visit',
    end             DateTime64(3, 'UTC') COMMENT 'Last hit of the visit',
    duration_s      Float64 COMMENT 'Seconds between first and last hit',
    pageviews       UInt32 COMMENT 'Page views in the visit',
    events          UInt32 COMMENT 'Events in the visit',
    bounced         UInt8 COMMENT '1 if the visit had at most one page view and no other event',
    entry_page      String COMMENT 'Path of the first page view',
    exit_page       String COMMENT 'Path of the last page view',
    referrer_source String COMMENT 'Source of the first hit',
    channel         String COMMENT 'Channel of the first hit',
    utm_campaign    String COMMENT 'utm_campaign of the first hit',
    country         String COMMENT 'Country of the first hit',
    device          String COMMENT 'Device class of the first hit',
    event_names     Array(String) COMMENT 'Event names in order',
    pages           Array(String) COMMENT 'Page view paths in order'
) AS
SELECT site, day, start, end,
       dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events,
       toUInt8(events <= 1) AS bounced,
       entry_page, exit_page, referrer_source, channel, utm_campaign, country, device,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions FINAL;
DROP VIEW IF EXISTS open_visits ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS open_visits ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions FINAL
WHERE day NOT IN (SELECT day FROM rollup_days)
COMMENT 'Internal: the newest visits of the days not rolled up yet, for the live part of the visit views';
DROP VIEW IF EXISTS analytics_funnel ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS analytics_funnel ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT s AS step, {steps:Array(String)}[s] AS name, sumIf(n, depth >= s) AS visits,
       round(if(sumIf(n, depth >= 1) = 0, 0, visits / sumIf(n, depth >= 1)), 4) AS conversion_from_start
FROM
(
    SELECT depth, count() AS n
    FROM
    (
        SELECT indexOf(steps, {steps:Array(String)}[1]) AS first,
               if(first = 0, 0,
                  arrayFold((acc, hit) -> if(acc < length({steps:Array(String)}) AND hit = {steps:Array(String)}[acc + 1], acc + 1, acc),
                            arraySlice(steps, first + 1), toUInt64(1))) AS depth
        FROM sessions FINAL
        WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
          AND (SELECT throwIf({from:Date} <= today() - (SELECT toUInt32OrDefault(extract(engine_full, 'toIntervalDay\\((\\d+)\\)'), toUInt32(30)) FROM system.tables WHERE database = currentDatabase() AND name = 'sessions'),
                      'analytics_funnel: ad-hoc funnels read visits, which are kept only for the event retention (policy.event_ttl_days); choose a later from date, or configure the funnel ([[funnels]]) and read analytics_funnels_daily')) = 0
    )
    GROUP BY depth
)
ARRAY JOIN arrayEnumerate({steps:Array(String)}) AS s
GROUP BY s
ORDER BY s
COMMENT 'Ad-hoc funnel within the event retention: how many visits pass each step of pages (/path) and events (name), in order? Parameters: site, from, to, steps. A from date past the event retention is refused';

-- 0022_purge_fences.sql
CREATE TABLE IF NOT EXISTS purge_fences ON CLUSTER 'tacit'
(
    id      String COMMENT 'The fence, unique per purge attempt',
    site    LowCardinality(String) COMMENT 'The site being purged',
    cutoff  DateTime64(3, 'UTC') COMMENT 'Rows of the site before this time are never written again',
    raised  DateTime64(3, 'UTC') COMMENT 'When the purge raised the fence',
    expires DateTime64(3, 'UTC') COMMENT 'The event TTL plus two days after it was raised'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/purge_fences', '{replica}')
ORDER BY (site, id)
TTL toDateTime(expires)
COMMENT 'Purge fences: ranges of a site that writers keep out (operations; no visitor data)';
CREATE TABLE IF NOT EXISTS fence_members ON CLUSTER 'tacit'
(
    member  String COMMENT 'A random name per tacit serve process',
    seen    DateTime64(3, 'UTC') COMMENT 'When the process last read the fences',
    applied Array(String) COMMENT 'The fences its writers were applying then',
    stopped UInt8 COMMENT '1: the process stopped its writers and left'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/fence_members', '{replica}')
ORDER BY (member, seen)
TTL toDateTime(seen) + INTERVAL 1 DAY
COMMENT 'Collectors seen applying purge fences, kept one day (operations; no visitor data)';

-- 0023_analyst_aggregates_only.sql
REVOKE ON CLUSTER 'tacit' SELECT ON tacit.analytics_visits FROM analyst;
REVOKE ON CLUSTER 'tacit' SELECT ON tacit.sessions FROM analyst;
REVOKE ON CLUSTER 'tacit' SELECT ON tacit.sessions_local FROM analyst;

-- 0024_dp_budget_settle.sql
CREATE TABLE IF NOT EXISTS export_budget ON CLUSTER 'tacit'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/export_budget', '{replica}')
ORDER BY (account, month, reserved_at)
TTL toDateTime(reserved_at) + INTERVAL 25 MONTH
COMMENT 'Ledger: epsilon charged per budget account and month, reserved with each noisy release; counts only';
CREATE TABLE IF NOT EXISTS wal_watermarks ON CLUSTER 'tacit'
(
    log_id         String COMMENT 'Random id of one collector''s write-ahead log',
    reported_at    DateTime64(3, 'UTC') COMMENT 'When the collector looked at its log (its clock)',
    oldest_pending DateTime64(3, 'UTC') COMMENT 'Receive time of the oldest row still in the log; the report time if none',
    pending        UInt64 COMMENT 'Rows in the log not yet acknowledged by the database'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/wal_watermarks', '{replica}')
ORDER BY (log_id, reported_at)
TTL toDateTime(reported_at) + INTERVAL 2 DAY
COMMENT 'Each collector''s periodic report of how far its write-ahead log is delivered; no event data';
ALTER TABLE export_cells ON CLUSTER 'tacit' MODIFY TTL period_end + INTERVAL 92 DAY;
ALTER TABLE export_atoms ON CLUSTER 'tacit' MODIFY TTL day + INTERVAL 123 DAY;
ALTER TABLE export_cells ON CLUSTER 'tacit' MODIFY COMMENT 'Partner audit store: every cell of every partner release, released or withheld, kept while a new release can still be linked to it; counts only';
ALTER TABLE export_atoms ON CLUSTER 'tacit' MODIFY COMMENT 'Partner audit store: which combinations of the finest dimensions existed per site and day in released periods, kept while a new release can still be linked to them; no counts';
ALTER TABLE disclosures ON CLUSTER 'tacit' COMMENT COLUMN note 'For channel purge: the site''s data was removed, and why; for a noisy release: the epsilon and the L1 sensitivity (days, sites, cells per visitor and day, per cell) the noise was scaled to';

-- 0025_imports.sql
CREATE TABLE IF NOT EXISTS import_staging_local ON CLUSTER 'tacit'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/import_staging_local', '{replica}')
ORDER BY (import_id, site, toDate(ts), visitor_id, ts)
TTL staged_at + INTERVAL 6 HOUR
COMMENT 'Event tier, working table: hits of a running import before they are moved; deleted when the import ends';
CREATE TABLE IF NOT EXISTS import_staging ON CLUSTER 'tacit' AS import_staging_local ENGINE = Distributed('tacit', 'tacit', 'import_staging_local', cityHash64(site, toDate(ts), visitor_id))
COMMENT 'Event tier, working table: hits of a running import before they are moved; deleted when the import ends';
CREATE TABLE IF NOT EXISTS imports ON CLUSTER 'tacit'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/tacit/imports', '{replica}')
ORDER BY (site, started)
COMMENT 'Operations: one row per import attempt (no visitor data); kept until the site''s imports are purged';
CREATE TABLE IF NOT EXISTS import_days_local ON CLUSTER 'tacit'
(
    import_id UInt64 COMMENT 'The import (imports.import_id)',
    site      LowCardinality(String) COMMENT 'Site',
    day       Date COMMENT 'UTC day whose data came from the import',
    tier      LowCardinality(String) COMMENT 'event (moved to events, rolled up as usual) or aggregate (straight to the rollups)',
    events    UInt64 COMMENT 'Events of the day imported'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/import_days_local', '{replica}')
ORDER BY (site, day, import_id)
TTL day + INTERVAL 25 MONTH
COMMENT 'Operations: which site-days hold imported data, so they can be shown, excluded and purged; no visitor data';
CREATE TABLE IF NOT EXISTS import_days ON CLUSTER 'tacit' AS import_days_local ENGINE = Distributed('tacit', 'tacit', 'import_days_local', cityHash64(site, day))
COMMENT 'Operations: which site-days hold imported data, so they can be shown, excluded and purged; no visitor data';

-- 0026_live_visits.sql
CREATE TABLE IF NOT EXISTS visits_local ON CLUSTER 'tacit'
(
    site            LowCardinality(String) COMMENT 'Configured site',
    start           DateTime64(3, 'UTC') COMMENT 'First hit of the visit',
    day             Date COMMENT 'UTC day of the visit (visitor ids are per day)',
    visitor_id      UInt64 COMMENT 'Daily pseudonymous visitor id; never exposed in analyst views',
    visit_id        DateTime64(3, 'UTC') COMMENT 'The visit within its visitor-day: the time of the first hit its collector saw',
    end             DateTime64(3, 'UTC') COMMENT 'Last hit of the visit so far',
    pageviews       UInt32 COMMENT 'Page views in the visit',
    events          UInt32 COMMENT 'Events in the visit, page views included; 0 for a retracted visit',
    entry_page      String COMMENT 'Path of the first page view',
    exit_page       String COMMENT 'Path of the last page view',
    referrer_source LowCardinality(String) COMMENT 'Source of the first hit',
    channel         LowCardinality(String) COMMENT 'Channel of the first hit',
    utm_campaign    String COMMENT 'utm_campaign of the first hit',
    country         LowCardinality(String) COMMENT 'Country of the first hit',
    device          LowCardinality(String) COMMENT 'Device class of the first hit',
    event_names     Array(LowCardinality(String)) COMMENT 'Event names in order',
    pages           Array(String) COMMENT 'Page view paths in order',
    engaged_ms      UInt64 COMMENT 'Engaged time the tracker reported over the visit (ms)',
    scroll_depth    UInt8 COMMENT 'Deepest scroll the tracker reported (percent)',
    closed          UInt8 COMMENT '1 for a final version (the visit can no longer be extended, or was closed early at the memory cap)',
    version         UInt64 COMMENT 'When the collector wrote this version (ms); the newest is kept'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tacit/visits_local', '{replica}', version)
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, visitor_id, visit_id)
TTL day + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000
COMMENT 'Event tier: live visits written by the collectors, newest version per visit (visitor id, times to the millisecond, pages and events in order); kept policy.event_ttl_days';
CREATE TABLE IF NOT EXISTS visits ON CLUSTER 'tacit' AS visits_local ENGINE = Distributed('tacit', 'tacit', 'visits_local', cityHash64(site, day, visitor_id))
COMMENT 'Event tier: live visits written by the collectors, newest version per visit (visitor id, times to the millisecond, pages and events in order); kept policy.event_ttl_days';
CREATE VIEW IF NOT EXISTS live_visits ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, start, end, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       referrer_source, channel, utm_campaign, country, device,
       arrayMap(x -> toString(x), event_names) AS event_names, pages, engaged_ms, closed
FROM visits FINAL
WHERE events > 0
COMMENT 'Internal: the newest version of each live visit (collector-built, current within sink.visits_flush_interval_ms), for realtime figures';

-- 0027_live_visits_replace_sessionizer.sql
DROP VIEW IF EXISTS events_recent_mv ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS sessions_tail_mv ON CLUSTER 'tacit' SYNC;
DROP TABLE IF EXISTS events_recent ON CLUSTER 'tacit' SYNC;
DROP TABLE IF EXISTS events_recent_local ON CLUSTER 'tacit' SYNC;
DROP TABLE IF EXISTS sessions_tail ON CLUSTER 'tacit' SYNC;
DROP TABLE IF EXISTS sessions_tail_local ON CLUSTER 'tacit' SYNC;
ALTER TABLE sessions_local ON CLUSTER 'tacit' DELETE WHERE day NOT IN (SELECT day FROM rollup_days) SETTINGS mutations_sync = 2;
DROP VIEW IF EXISTS analytics_visits ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS analytics_visits ON CLUSTER 'tacit'
(
    site            String COMMENT 'Configured site',
    day             Date COMMENT 'UTC day of the visit',
    start           DateTime64(3, 'UTC') COMMENT 'First hit of the visit',
    end             DateTime64(3, 'UTC') COMMENT 'Last hit of the visit',
    duration_s      Float64 COMMENT 'Seconds between first and last hit',
    pageviews       UInt32 COMMENT 'Page views in the visit',
    events          UInt32 COMMENT 'Events in the visit',
    bounced         UInt8 COMMENT '1 if the visit had at most one page view and no other event',
    entry_page      String COMMENT 'Path of the first page view',
    exit_page       String COMMENT 'Path of the last page view',
    referrer_source String COMMENT 'Source of the first hit',
    channel         String COMMENT 'Channel of the first hit',
    utm_campaign    String COMMENT 'utm_campaign of the first hit',
    country         String COMMENT 'Country of the first hit',
    device          String COMMENT 'Device class of the first hit',
    event_names     Array(String) COMMENT 'Event names in order',
    pages           Array(String) COMMENT 'Page view paths in order'
) AS
SELECT site, day, start, end,
       dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events,
       toUInt8(events <= 1) AS bounced,
       entry_page, exit_page, referrer_source, channel, utm_campaign, country, device,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions FINAL
UNION ALL
SELECT site, day, start, end,
       dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events,
       toUInt8(events <= 1) AS bounced,
       entry_page, exit_page, referrer_source, channel, utm_campaign, country, device,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM visits FINAL
WHERE events > 0 AND day NOT IN (SELECT day FROM rollup_days)
  AND day NOT IN (SELECT day FROM sessions WHERE day NOT IN (SELECT day FROM rollup_days));
DROP VIEW IF EXISTS open_visits ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS open_visits ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions FINAL
WHERE day NOT IN (SELECT day FROM rollup_days)
UNION ALL
SELECT site, day, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM visits FINAL
WHERE events > 0 AND day NOT IN (SELECT day FROM rollup_days)
  AND day NOT IN (SELECT day FROM sessions WHERE day NOT IN (SELECT day FROM rollup_days))
COMMENT 'Internal: the newest visits of the days not rolled up yet (live from the collectors, or recomputed and awaiting their rollup), for the live part of the visit views';
DROP VIEW IF EXISTS analytics_funnel ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS analytics_funnel ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT s AS step, {steps:Array(String)}[s] AS name, sumIf(n, depth >= s) AS visits,
       round(if(sumIf(n, depth >= 1) = 0, 0, visits / sumIf(n, depth >= 1)), 4) AS conversion_from_start
FROM
(
    SELECT depth, count() AS n
    FROM
    (
        SELECT indexOf(steps, {steps:Array(String)}[1]) AS first,
               if(first = 0, 0,
                  arrayFold((acc, hit) -> if(acc < length({steps:Array(String)}) AND hit = {steps:Array(String)}[acc + 1], acc + 1, acc),
                            arraySlice(steps, first + 1), toUInt64(1))) AS depth
        FROM
        (
            SELECT steps FROM sessions FINAL
            WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
            UNION ALL
            SELECT arrayMap((n, k) -> if(n = 'pageview', pages[k], toString(n)), event_names,
                            arrayCumSum(arrayMap(n -> toUInt32(n = 'pageview'), event_names))) AS steps
            FROM visits FINAL
            WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date} AND events > 0
              AND day NOT IN (SELECT day FROM rollup_days)
              AND day NOT IN (SELECT day FROM sessions WHERE day BETWEEN {from:Date} AND {to:Date})
        )
        WHERE (SELECT throwIf({from:Date} <= today() - (SELECT toUInt32OrDefault(extract(engine_full, 'toIntervalDay\\((\\d+)\\)'), toUInt32(30)) FROM system.tables WHERE database = currentDatabase() AND name = 'sessions'),
                      'analytics_funnel: ad-hoc funnels read visits, which are kept only for the event retention (policy.event_ttl_days); choose a later from date, or configure the funnel ([[funnels]]) and read analytics_funnels_daily')) = 0
    )
    GROUP BY depth
)
ARRAY JOIN arrayEnumerate({steps:Array(String)}) AS s
GROUP BY s
ORDER BY s
COMMENT 'Ad-hoc funnel within the event retention: how many visits pass each step of pages (/path) and events (name), in order? Parameters: site, from, to, steps. A from date past the event retention is refused';

-- 0028_landing_rollup.sql
CREATE TABLE IF NOT EXISTS rollup_landing_daily_local ON CLUSTER 'tacit'
(
    site      LowCardinality(String) COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    dimension LowCardinality(String) COMMENT 'referrer_source, referrer (the referrer host), channel, utm_source, utm_medium, utm_campaign, utm_content or utm_term: the value of the visit''s landing hit',
    value     String COMMENT 'The landing hit''s value; empty means not known (an anonymous hit, in no visit, keeps its own)',
    pageviews UInt64 COMMENT 'Page views of the visits that landed with this value',
    events    UInt64 COMMENT 'All events of those visits',
    visitors  UInt64 COMMENT 'Distinct visitors that day with such a visit, exact',
    version   UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/rollup_landing_daily_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (site, dimension, day, value, version)
TTL day + INTERVAL 25 MONTH
COMMENT 'Page views, events and exact visitor counts per site, day and landing value of a visit (source, referrer, channel, UTM tags)';
CREATE TABLE IF NOT EXISTS rollup_landing_daily ON CLUSTER 'tacit' AS rollup_landing_daily_local ENGINE = Distributed('tacit', 'tacit', 'rollup_landing_daily_local', cityHash64(site, day))
COMMENT 'Page views, events and exact visitor counts per site, day and landing value of a visit (source, referrer, channel, UTM tags)';
CREATE TABLE IF NOT EXISTS rollup_filtered_daily_local ON CLUSTER 'tacit'
(
    site         LowCardinality(String) COMMENT 'Configured site',
    day          Date COMMENT 'UTC day',
    filter       LowCardinality(String) COMMENT 'The filtering dimension: country, device, browser or os (the hit''s own value)',
    filter_value String COMMENT 'Its value',
    dimension    LowCardinality(String) COMMENT 'all (the totals of the hits with that value), pathname, country, device, browser, os, or a landing dimension counted per visit as in rollup_landing_daily',
    value        String COMMENT 'The dimension''s value; empty means not known',
    pageviews    UInt64 COMMENT 'Page views',
    events       UInt64 COMMENT 'All events',
    visitors     UInt64 COMMENT 'Distinct visitors that day, exact',
    version      UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/rollup_filtered_daily_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (site, filter, filter_value, dimension, day, value, version)
TTL day + INTERVAL 30 DAY
COMMENT 'Event tier: page views, events and exact visitors per site, day, value of one filtering dimension and value of one breakdown; kept policy.event_ttl_days';
CREATE TABLE IF NOT EXISTS rollup_filtered_daily ON CLUSTER 'tacit' AS rollup_filtered_daily_local ENGINE = Distributed('tacit', 'tacit', 'rollup_filtered_daily_local', cityHash64(site, day))
COMMENT 'Event tier: page views, events and exact visitors per site, day, value of one filtering dimension and value of one breakdown; kept policy.event_ttl_days';
CREATE TABLE IF NOT EXISTS rollup_visits_filtered_daily_local ON CLUSTER 'tacit'
(
    site         LowCardinality(String) COMMENT 'Configured site',
    day          Date COMMENT 'UTC day',
    filter       LowCardinality(String) COMMENT 'country or device (the visit''s landing hit''s), browser or os (any hit of the visitor that day)',
    filter_value String COMMENT 'Its value',
    kind         LowCardinality(String) COMMENT 'all (the visits), entry_page or exit_page',
    value        String COMMENT 'The entry or exit page; empty for all',
    visits       UInt64 COMMENT 'Visits',
    bounces      UInt64 COMMENT 'Visits with at most one event',
    duration_s   Float64 COMMENT 'Total duration of the visits, seconds',
    pageviews    UInt64 COMMENT 'Total page views of the visits',
    version      UInt64 COMMENT 'Rollup version (see rollup_days)'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/rollup_visits_filtered_daily_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (site, filter, filter_value, kind, day, value, version)
TTL day + INTERVAL 30 DAY
COMMENT 'Event tier: visit counts, bounces and durations per site, day and value of one filtering dimension, overall and by entry and exit page; kept policy.event_ttl_days';
CREATE TABLE IF NOT EXISTS rollup_visits_filtered_daily ON CLUSTER 'tacit' AS rollup_visits_filtered_daily_local ENGINE = Distributed('tacit', 'tacit', 'rollup_visits_filtered_daily_local', cityHash64(site, day))
COMMENT 'Event tier: visit counts, bounces and durations per site, day and value of one filtering dimension, overall and by entry and exit page; kept policy.event_ttl_days';

-- 0029_audit_metrics_margins.sql
ALTER TABLE export_cells ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS visits    UInt64 DEFAULT 0 COMMENT 'Exact visits of the cell',
    ADD COLUMN IF NOT EXISTS pageviews UInt64 DEFAULT 0 COMMENT 'Exact page views of the cell',
    ADD COLUMN IF NOT EXISTS events    UInt64 DEFAULT 0 COMMENT 'Exact events of the cell',
    ADD COLUMN IF NOT EXISTS counts    Array(String) DEFAULT [] COMMENT 'Which of visits, pageviews, events the release publishes for the cell',
    ADD COLUMN IF NOT EXISTS margin    UInt8 DEFAULT 0 COMMENT '1 for a coarser margin of the release (a public figure, at least k visitors), not a row of the file';
ALTER TABLE export_atoms ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS loose Array(String) DEFAULT [] COMMENT 'Dimensions of the per-visitor kind that held several values for one visitor id on this site and day';

-- 0030_visit_ids.sql
ALTER TABLE events_local ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS visit_id UInt64 DEFAULT 0
    COMMENT 'Visit the collector assigned the hit to: a hash of the daily visitor id and the visit''s first hit time, 0 without a visitor id; never linkable across days';
ALTER TABLE events ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS visit_id UInt64 DEFAULT 0
    COMMENT 'Visit the collector assigned the hit to: a hash of the daily visitor id and the visit''s first hit time, 0 without a visitor id; never linkable across days';
ALTER TABLE import_staging_local ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS visit_id UInt64 DEFAULT 0
    COMMENT 'Always 0: imported hits get their visits from the rule at the rollup';
ALTER TABLE import_staging ON CLUSTER 'tacit'
    ADD COLUMN IF NOT EXISTS visit_id UInt64 DEFAULT 0
    COMMENT 'Always 0: imported hits get their visits from the rule at the rollup';
DROP VIEW IF EXISTS analytics_funnel ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS open_visits ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS analytics_visits ON CLUSTER 'tacit' SYNC;
DROP VIEW IF EXISTS live_visits ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS live_visits ON CLUSTER 'tacit'
AS
SELECT site, day, visitor_id,
       min(f_start) AS start, max(f_end) AS end,
       dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       arraySort(x -> x.1, arrayFlatten(groupArray(f_hits))) AS hits,
       toUInt32(length(arrayFilter(x -> x.2 = 'pageview', hits))) AS pageviews,
       toUInt32(length(hits)) AS events,
       toUInt8(events <= 1) AS bounced,
       arrayMap(x -> x.3, arrayFilter(x -> x.2 = 'pageview', hits)) AS pages,
       pages[1] AS entry_page, pages[-1] AS exit_page,
       argMin(f_referrer_source, f_start) AS referrer_source, argMin(f_channel, f_start) AS channel,
       argMin(f_utm_campaign, f_start) AS utm_campaign, argMin(f_country, f_start) AS country,
       argMin(f_device, f_start) AS device,
       arrayMap(x -> x.2, hits) AS event_names,
       arrayMap(x -> if(x.2 = 'pageview', x.3, x.2), hits) AS steps,
       toUInt64(count()) AS fragments
FROM
(
    SELECT *, sum(new_visit) OVER (PARTITION BY site, day, visitor_id ORDER BY f_start, new_visit DESC ROWS UNBOUNDED PRECEDING) AS visit_no
    FROM
    (
        SELECT *,
               toUInt8(dateDiff('second',
                                max(f_end) OVER (PARTITION BY site, day, visitor_id ORDER BY f_start
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                                f_start) > 1800) AS new_visit
        FROM
        (
            SELECT toString(site) AS site, toDate(ts) AS day, visitor_id,
                   min(ts) AS f_start, max(ts) AS f_end,
                   argMin(toString(referrer_source), ts) AS f_referrer_source,
                   argMin(toString(channel), ts) AS f_channel,
                   argMin(utm_campaign, ts) AS f_utm_campaign,
                   argMin(toString(country), ts) AS f_country,
                   argMin(toString(device), ts) AS f_device,
                   groupArray((ts, toString(name), pathname)) AS f_hits
            FROM events
            WHERE visitor_id != 0 AND toDate(ts) NOT IN (SELECT day FROM rollup_days)
            GROUP BY site, day, visitor_id, visit_id, if(visit_id = 0, ts, toDateTime64(0, 3, 'UTC'))
        )
    )
)
GROUP BY site, day, visitor_id, visit_no
COMMENT 'Internal: the visits of the days not rolled up yet, from their events (each visit id a fragment, fragments within 30 minutes of each other one visit), for the live part of the visit views and the realtime figures';
CREATE VIEW IF NOT EXISTS analytics_visits ON CLUSTER 'tacit'
(
    site            String COMMENT 'Configured site',
    day             Date COMMENT 'UTC day of the visit',
    start           DateTime64(3, 'UTC') COMMENT 'First hit of the visit',
    end             DateTime64(3, 'UTC') COMMENT 'Last hit of the visit',
    duration_s      Float64 COMMENT 'Seconds between first and last hit',
    pageviews       UInt32 COMMENT 'Page views in the visit',
    events          UInt32 COMMENT 'Events in the visit',
    bounced         UInt8 COMMENT '1 if the visit had at most one page view and no other event',
    entry_page      String COMMENT 'Path of the first page view',
    exit_page       String COMMENT 'Path of the last page view',
    referrer_source String COMMENT 'Source of the first hit',
    channel         String COMMENT 'Channel of the first hit',
    utm_campaign    String COMMENT 'utm_campaign of the first hit',
    country         String COMMENT 'Country of the first hit',
    device          String COMMENT 'Device class of the first hit',
    event_names     Array(String) COMMENT 'Event names in order',
    pages           Array(String) COMMENT 'Page view paths in order'
) AS
SELECT site, day, start, end,
       dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events,
       toUInt8(events <= 1) AS bounced,
       entry_page, exit_page, referrer_source, channel, utm_campaign, country, device,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions FINAL
UNION ALL
SELECT site, day, start, end, duration_s, pageviews, events, bounced,
       entry_page, exit_page, referrer_source, channel, utm_campaign, country, device,
       event_names, pages
FROM live_visits
WHERE day NOT IN (SELECT day FROM sessions WHERE day NOT IN (SELECT day FROM rollup_days));
CREATE VIEW IF NOT EXISTS open_visits ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       pageviews, events, toUInt8(events <= 1) AS bounced, entry_page, exit_page,
       arrayMap(x -> toString(x), event_names) AS event_names, pages
FROM sessions FINAL
WHERE day NOT IN (SELECT day FROM rollup_days)
UNION ALL
SELECT site, day, duration_s, pageviews, events, bounced, entry_page, exit_page, event_names, pages
FROM live_visits
WHERE day NOT IN (SELECT day FROM sessions WHERE day NOT IN (SELECT day FROM rollup_days))
COMMENT 'Internal: the visits of the days not rolled up yet (from their events, or recomputed and awaiting their rollup), for the live part of the visit views';
CREATE VIEW IF NOT EXISTS analytics_funnel ON CLUSTER 'tacit'
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT s AS step, {steps:Array(String)}[s] AS name, sumIf(n, depth >= s) AS visits,
       round(if(sumIf(n, depth >= 1) = 0, 0, visits / sumIf(n, depth >= 1)), 4) AS conversion_from_start
FROM
(
    SELECT depth, count() AS n
    FROM
    (
        SELECT indexOf(steps, {steps:Array(String)}[1]) AS first,
               if(first = 0, 0,
                  arrayFold((acc, hit) -> if(acc < length({steps:Array(String)}) AND hit = {steps:Array(String)}[acc + 1], acc + 1, acc),
                            arraySlice(steps, first + 1), toUInt64(1))) AS depth
        FROM
        (
            SELECT steps FROM sessions FINAL
            WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
            UNION ALL
            SELECT steps FROM live_visits
            WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}
              AND day NOT IN (SELECT day FROM sessions WHERE day BETWEEN {from:Date} AND {to:Date})
        )
        WHERE (SELECT throwIf({from:Date} <= today() - (SELECT toUInt32OrDefault(extract(engine_full, 'toIntervalDay\\((\\d+)\\)'), toUInt32(30)) FROM system.tables WHERE database = currentDatabase() AND name = 'sessions'),
                      'analytics_funnel: ad-hoc funnels read visits, which are kept only for the event retention (policy.event_ttl_days); choose a later from date, or configure the funnel ([[funnels]]) and read analytics_funnels_daily')) = 0
    )
    GROUP BY depth
)
ARRAY JOIN arrayEnumerate({steps:Array(String)}) AS s
GROUP BY s
ORDER BY s
COMMENT 'Ad-hoc funnel within the event retention: how many visits pass each step of pages (/path) and events (name), in order? Parameters: site, from, to, steps. A from date past the event retention is refused';
DROP TABLE IF EXISTS visits ON CLUSTER 'tacit' SYNC;
DROP TABLE IF EXISTS visits_local ON CLUSTER 'tacit' SYNC;

-- 0031_live_visits_without_arrays.sql
DROP VIEW IF EXISTS live_visits ON CLUSTER 'tacit' SYNC;
CREATE VIEW IF NOT EXISTS live_visits ON CLUSTER 'tacit'
AS
SELECT site, day, visitor_id,
       min(f_start) AS start, max(f_end) AS end,
       dateDiff('millisecond', start, end) / 1000.0 AS duration_s,
       arraySort(x -> x.1, arrayFlatten(groupArray(f_hits))) AS hits,
       toUInt32(sum(f_pageviews)) AS pageviews,
       toUInt32(sum(f_events)) AS events,
       toUInt8(events <= 1) AS bounced,
       arrayMap(x -> x.3, arrayFilter(x -> x.2 = 'pageview', hits)) AS pages,
       argMinIf(f_entry, f_entry_ts, f_pageviews > 0) AS entry_page,
       argMaxIf(f_exit, f_exit_ts, f_pageviews > 0) AS exit_page,
       argMin(f_referrer_source, f_start) AS referrer_source, argMin(f_channel, f_start) AS channel,
       argMin(f_utm_campaign, f_start) AS utm_campaign, argMin(f_country, f_start) AS country,
       argMin(f_device, f_start) AS device,
       arrayMap(x -> x.2, hits) AS event_names,
       arrayMap(x -> if(x.2 = 'pageview', x.3, x.2), hits) AS steps,
       toUInt64(count()) AS fragments
FROM
(
    SELECT *, sum(new_visit) OVER (PARTITION BY site, day, visitor_id ORDER BY f_start, new_visit DESC ROWS UNBOUNDED PRECEDING) AS visit_no
    FROM
    (
        SELECT *,
               toUInt8(dateDiff('second',
                                max(f_end) OVER (PARTITION BY site, day, visitor_id ORDER BY f_start
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                                f_start) > 1800) AS new_visit
        FROM
        (
            SELECT toString(site) AS site, toDate(ts) AS day, visitor_id,
                   min(ts) AS f_start, max(ts) AS f_end,
                   count() AS f_events, countIf(name = 'pageview') AS f_pageviews,
                   argMinIf(pathname, ts, name = 'pageview') AS f_entry, minIf(ts, name = 'pageview') AS f_entry_ts,
                   argMaxIf(pathname, ts, name = 'pageview') AS f_exit, maxIf(ts, name = 'pageview') AS f_exit_ts,
                   argMin(toString(referrer_source), ts) AS f_referrer_source,
                   argMin(toString(channel), ts) AS f_channel,
                   argMin(utm_campaign, ts) AS f_utm_campaign,
                   argMin(toString(country), ts) AS f_country,
                   argMin(toString(device), ts) AS f_device,
                   groupArray((ts, toString(name), pathname)) AS f_hits
            FROM events
            WHERE visitor_id != 0 AND toDate(ts) NOT IN (SELECT day FROM rollup_days)
            GROUP BY site, day, visitor_id, visit_id, if(visit_id = 0, ts, toDateTime64(0, 3, 'UTC'))
        )
    )
)
GROUP BY site, day, visitor_id, visit_no
COMMENT 'Internal: the visits of the days not rolled up yet, from their events (each visit id a fragment, fragments within 30 minutes of each other one visit), for the live part of the visit views and the realtime figures; hit lists built only when read';

-- 0032_visit_id_comment.sql
ALTER TABLE events_local ON CLUSTER 'tacit'
    COMMENT COLUMN visit_id 'Visit fragment of the hit: a hash of the daily visitor id and the hit''s half hour (UTC), 0 without a visitor id; as sensitive as visitor_id, never linkable across days';
ALTER TABLE events ON CLUSTER 'tacit'
    COMMENT COLUMN visit_id 'Visit fragment of the hit: a hash of the daily visitor id and the hit''s half hour (UTC), 0 without a visitor id; as sensitive as visitor_id, never linkable across days';
