-- Analyst-facing views (prefix analytics_). Stable names and columns, each
-- with a comment; none exposes a visitor id. Visitor counts per row are
-- exact for that row's day or hour; to count distinct visitors over a
-- range, merge the sketches: uniqMerge(visitors_state).

CREATE VIEW IF NOT EXISTS analytics_overview_hourly
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

CREATE VIEW IF NOT EXISTS analytics_breakdown_daily
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

-- Visits: the newest complete sessionization of each day.
CREATE VIEW IF NOT EXISTS analytics_visits
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

CREATE VIEW IF NOT EXISTS analytics_overview_daily
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

CREATE VIEW IF NOT EXISTS analytics_entry_pages_daily
(
    site        String COMMENT 'Configured site',
    day         Date COMMENT 'UTC day',
    entry_page  String COMMENT 'Path where visits began',
    visits      UInt64 COMMENT 'Visits that began here',
    bounce_rate Float64 COMMENT 'Share of those visits that bounced'
) AS
SELECT site, day, entry_page, count() AS visits, avg(bounced) AS bounce_rate
FROM analytics_visits GROUP BY site, day, entry_page;

CREATE VIEW IF NOT EXISTS analytics_exit_pages_daily
(
    site      String COMMENT 'Configured site',
    day       Date COMMENT 'UTC day',
    exit_page String COMMENT 'Path where visits ended',
    visits    UInt64 COMMENT 'Visits that ended here'
) AS
SELECT site, day, exit_page, count() AS visits
FROM analytics_visits GROUP BY site, day, exit_page;

CREATE VIEW IF NOT EXISTS analytics_data_quality_daily
(
    site   String COMMENT 'Configured site',
    day    Date COMMENT 'UTC day',
    reason String COMMENT 'Why hits were not stored: bot, prefetch, empty_user_agent, opt_out, do_not_track, global_privacy_control, excluded_country',
    hits   UInt64 COMMENT 'Hits not stored for this reason'
) AS
SELECT site, day, reason, sum(hits) AS hits FROM dropped_hits GROUP BY site, day, reason;
