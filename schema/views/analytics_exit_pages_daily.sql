-- Exit pages, from analytics_visits_daily.
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
