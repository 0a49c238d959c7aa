-- Retention tiers (issue 17). Two tiers, enforced by the schema:
--
-- * event tier (policy.event_ttl_days): `events`, `sessions`: anything that
--   holds a visitor id, per-visit rows or millisecond times;
-- * aggregate tier (policy.aggregate_ttl_months): the `rollup_*` tables and
--   `dropped_hits`: counts only, no visitor ids, no sketches, no per-visit
--   rows, nothing finer than an hour.
--
-- A closed UTC day is rolled up exactly from the event tier by tacit
-- (src/rollup.rs: one INSERT … SELECT per table and day, all under one
-- version; `rollup_days` records the versions, and views read the newest).
-- Days not rolled up yet (today, yesterday) are answered from the event
-- tier; every analyst view is the union of the two, so the seam is hidden.
-- The per-insert materialized views and their visitor sketches (agg_hourly,
-- agg_daily) are gone: existing sketches are finalized into counts below.
-- Views that read the event tier run with their definer's rights, so an
-- analyst sees the counts without being granted the visitor ids.

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

CREATE TABLE IF NOT EXISTS funnel_definitions
(
    site  LowCardinality(String) COMMENT 'Configured site the funnel applies to',
    name  String COMMENT 'Funnel name from [[funnels]] in the configuration',
    steps Array(String) COMMENT 'Steps in order: /path for a page view, otherwise a custom event name'
)
ENGINE = ReplacingMergeTree
ORDER BY (site, name)
COMMENT 'The configured funnels, mirrored from the configuration at startup; no visitor data';

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

-- Existing data: finalize the sketches of closed days into counts (the
-- rollup job recomputes, exactly, every closed day whose events are still
-- kept), and roll up the visits of closed days from `sessions`, whose rows
-- then expire with the event tier.
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

DROP VIEW IF EXISTS agg_hourly_mv SYNC;
DROP VIEW IF EXISTS agg_daily_mv SYNC;

DROP VIEW IF EXISTS analytics_overview_hourly SYNC;
DROP VIEW IF EXISTS analytics_overview_daily SYNC;
DROP VIEW IF EXISTS analytics_breakdown_daily SYNC;
DROP VIEW IF EXISTS analytics_entry_pages_daily SYNC;
DROP VIEW IF EXISTS analytics_exit_pages_daily SYNC;
DROP VIEW IF EXISTS analytics_pages_daily SYNC;
DROP VIEW IF EXISTS analytics_hostnames_daily SYNC;
DROP VIEW IF EXISTS analytics_sources_daily SYNC;
DROP VIEW IF EXISTS analytics_channels_daily SYNC;
DROP VIEW IF EXISTS analytics_languages_daily SYNC;
DROP VIEW IF EXISTS analytics_campaigns_daily SYNC;
DROP VIEW IF EXISTS analytics_locations_daily SYNC;
DROP VIEW IF EXISTS analytics_technology_daily SYNC;
DROP VIEW IF EXISTS analytics_custom_events_daily SYNC;
DROP VIEW IF EXISTS analytics_properties_daily SYNC;
DROP VIEW IF EXISTS analytics_goal_conversions SYNC;
DROP VIEW IF EXISTS analytics_funnel SYNC;
DROP TABLE IF EXISTS agg_hourly SYNC;
DROP TABLE IF EXISTS agg_daily SYNC;

-- Visits are per-visit rows: event tier (apply_retention sets the policy's
-- days at startup; this is the default).
ALTER TABLE sessions MODIFY TTL day + INTERVAL 30 DAY;
ALTER TABLE events MODIFY COMMENT 'Event tier: one pseudonymous row per accepted hit (visitor id, millisecond time); kept policy.event_ttl_days';
ALTER TABLE sessions MODIFY COMMENT 'Event tier: one row per visit (visitor id, times to the millisecond, pages and events in order); kept policy.event_ttl_days';
ALTER TABLE salts MODIFY COMMENT 'The daily visitor-id salts: yesterday, today and tomorrow only';
ALTER TABLE disclosures MODIFY COMMENT 'Ledger: every release of statistics to a partner (who, when, which categories, how many groups) and notes of site removals; kept';
ALTER TABLE export_releases MODIFY COMMENT 'Ledger: the released files, so that a repeated request gets the same figures; counts only';
ALTER TABLE purges MODIFY COMMENT 'Ledger: each removal of a site''s data on its owner''s request, with the rows removed per table; kept';
ALTER TABLE schema_migrations MODIFY COMMENT 'The schema migrations applied, with their checksums';
ALTER TABLE dropped_hits MODIFY COMMENT 'Hits not stored (bots, consent signals, opt-outs) per site, day and reason: counts only';

-- ---------------------------------------------------------------------
-- Analyst views: one per question, each the union of the rolled-up days
-- and the days still answered from the event tier. Counts are exact.

CREATE VIEW IF NOT EXISTS analytics_overview_hourly
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

CREATE VIEW IF NOT EXISTS analytics_visits_daily
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

CREATE VIEW IF NOT EXISTS analytics_overview_daily
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

CREATE VIEW IF NOT EXISTS analytics_breakdown_daily
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

CREATE VIEW IF NOT EXISTS analytics_pages_daily
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

CREATE VIEW IF NOT EXISTS analytics_hostnames_daily
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

CREATE VIEW IF NOT EXISTS analytics_sources_daily
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

CREATE VIEW IF NOT EXISTS analytics_channels_daily
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

CREATE VIEW IF NOT EXISTS analytics_languages_daily
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

CREATE VIEW IF NOT EXISTS analytics_campaigns_daily
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

CREATE VIEW IF NOT EXISTS analytics_locations_daily
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

CREATE VIEW IF NOT EXISTS analytics_technology_daily
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

CREATE VIEW IF NOT EXISTS analytics_custom_events_daily
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

CREATE VIEW IF NOT EXISTS analytics_properties_daily
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

CREATE VIEW IF NOT EXISTS analytics_goals_daily
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

CREATE VIEW IF NOT EXISTS analytics_goal_conversions
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

CREATE VIEW IF NOT EXISTS analytics_funnels_daily
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

-- Ad-hoc funnels need each visit's sequence of hits: event tier only. A
-- range reaching past what the event tier keeps is refused, not answered
-- with a silently smaller number; configured funnels are rolled up
-- (analytics_funnels_daily).
CREATE VIEW IF NOT EXISTS analytics_funnel
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

CREATE VIEW IF NOT EXISTS analytics_entry_pages_daily
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

CREATE VIEW IF NOT EXISTS analytics_exit_pages_daily
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
