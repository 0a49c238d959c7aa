-- tacit: server-only
-- The analyst role: read the analyst views and aggregates, nothing else.
-- No access to `events` (visitor ids), `sessions` (visitor ids) or `salts`.
-- Applied on real ClickHouse servers only; the embedded engine used by
-- `make run`/`make test` has no access control, so this file is skipped
-- there (and recorded as such).
CREATE ROLE IF NOT EXISTS analyst;
GRANT SELECT ON {database}.analytics_overview_hourly TO analyst;
GRANT SELECT ON {database}.analytics_overview_daily TO analyst;
GRANT SELECT ON {database}.analytics_breakdown_daily TO analyst;
GRANT SELECT ON {database}.analytics_visits TO analyst;
GRANT SELECT ON {database}.analytics_entry_pages_daily TO analyst;
GRANT SELECT ON {database}.analytics_exit_pages_daily TO analyst;
GRANT SELECT ON {database}.analytics_data_quality_daily TO analyst;
GRANT SELECT ON {database}.agg_hourly TO analyst;
GRANT SELECT ON {database}.agg_daily TO analyst;
GRANT SELECT ON {database}.dropped_hits TO analyst;
