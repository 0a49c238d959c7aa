-- One view per question analysts ask (issue: "one view per question").
-- Thin views over the same aggregates as analytics_breakdown_daily, so a
-- question reads as SELECT … FROM the view named after it. Like the
-- breakdown view they do not re-aggregate: rows of one key can repeat until
-- background merges combine them, so queries sum() the counts and merge the
-- sketches. Goal conversions and funnels are parameterized views over the
-- sessionized visits: call them like table functions.

CREATE VIEW IF NOT EXISTS analytics_pages_daily
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

CREATE VIEW IF NOT EXISTS analytics_hostnames_daily
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

CREATE VIEW IF NOT EXISTS analytics_sources_daily
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

CREATE VIEW IF NOT EXISTS analytics_channels_daily
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

CREATE VIEW IF NOT EXISTS analytics_languages_daily
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

CREATE VIEW IF NOT EXISTS analytics_campaigns_daily
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

CREATE VIEW IF NOT EXISTS analytics_locations_daily
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

CREATE VIEW IF NOT EXISTS analytics_technology_daily
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

CREATE VIEW IF NOT EXISTS analytics_custom_events_daily
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

CREATE VIEW IF NOT EXISTS analytics_properties_daily
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

-- Goal conversions over a date range: every custom event and every page is a
-- goal (a goal starting with / is a page, like funnel steps); a visit
-- converts on a goal if it contains it. Call as
--   SELECT * FROM analytics_goal_conversions(site = 'example.com', from = '2026-11-01', to = '2026-11-30')
-- Columns: goal_kind (event or page), goal, converted_visits, visits (all
-- visits in the range), conversion_rate (0..1).
CREATE VIEW IF NOT EXISTS analytics_goal_conversions AS
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

-- A funnel over a list of steps within a visit, in order (other hits may come
-- between steps). A step starting with / matches a page view of that path;
-- any other step matches a custom event of that name. Call as
--   SELECT * FROM analytics_funnel(site = 'example.com', from = '2026-11-01', to = '2026-11-30', steps = ['/', '/pricing', 'signup'])
-- Columns: step (1-based), name, visits (visits that reached this step in
-- order), conversion_from_start (0..1).
CREATE VIEW IF NOT EXISTS analytics_funnel AS
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
