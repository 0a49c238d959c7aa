-- tacit: server-only
-- The analyst role reads the totals view of 0016.
GRANT SELECT ON {database}.analytics_totals_daily TO analyst;
