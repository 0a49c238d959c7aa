-- Entry pages and their bounces, from analytics_visits_daily.
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
