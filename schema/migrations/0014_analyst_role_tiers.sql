-- tacit: server-only
-- The analyst role after the retention tiers (0013): the question views,
-- the aggregate tier, and no longer the dropped sketch tables. Views that
-- read the event tier run with their definer's rights, so the analyst
-- needs no grant on `events`.
REVOKE SELECT ON {database}.agg_hourly FROM analyst;
REVOKE SELECT ON {database}.agg_daily FROM analyst;
GRANT SELECT ON {database}.analytics_visits_daily TO analyst;
GRANT SELECT ON {database}.analytics_goals_daily TO analyst;
GRANT SELECT ON {database}.analytics_funnels_daily TO analyst;
GRANT SELECT ON {database}.rollup_hourly TO analyst;
GRANT SELECT ON {database}.rollup_daily TO analyst;
GRANT SELECT ON {database}.rollup_visits_daily TO analyst;
GRANT SELECT ON {database}.rollup_goals_daily TO analyst;
GRANT SELECT ON {database}.rollup_funnels_daily TO analyst;
GRANT SELECT ON {database}.rollup_days TO analyst;
GRANT SELECT ON {database}.funnel_definitions TO analyst;
