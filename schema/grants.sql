-- tacit: server-only
-- The analyst role: SELECT on the analyst views and the aggregate tier,
-- nothing else. No grant on `events`, `sessions`, `salts`, the ledgers or
-- `analytics_visits` (one row per visit): the views that read the event
-- tier run with their definer's rights (SQL SECURITY DEFINER) and return
-- counts, so the role needs no grant on what they read.
-- Applied on real ClickHouse servers only: the embedded engine of
-- `make run`/`make test` has no access control, so this file is skipped
-- there. tests/it/analyst_role.rs holds the reviewed list.
CREATE ROLE IF NOT EXISTS analyst;

-- Overview, visits and goals.
GRANT SELECT ON {database}.analytics_overview_hourly TO analyst;
GRANT SELECT ON {database}.analytics_overview_daily TO analyst;
GRANT SELECT ON {database}.analytics_totals_daily TO analyst;
GRANT SELECT ON {database}.analytics_visits_daily TO analyst;
GRANT SELECT ON {database}.analytics_entry_pages_daily TO analyst;
GRANT SELECT ON {database}.analytics_exit_pages_daily TO analyst;
GRANT SELECT ON {database}.analytics_goals_daily TO analyst;
GRANT SELECT ON {database}.analytics_goal_conversions TO analyst;
GRANT SELECT ON {database}.analytics_funnels_daily TO analyst;
GRANT SELECT ON {database}.analytics_funnel TO analyst;

-- Breakdowns, one view per question and all of them in one.
GRANT SELECT ON {database}.analytics_breakdown_daily TO analyst;
GRANT SELECT ON {database}.analytics_pages_daily TO analyst;
GRANT SELECT ON {database}.analytics_hostnames_daily TO analyst;
GRANT SELECT ON {database}.analytics_sources_daily TO analyst;
GRANT SELECT ON {database}.analytics_channels_daily TO analyst;
GRANT SELECT ON {database}.analytics_languages_daily TO analyst;
GRANT SELECT ON {database}.analytics_campaigns_daily TO analyst;
GRANT SELECT ON {database}.analytics_locations_daily TO analyst;
GRANT SELECT ON {database}.analytics_technology_daily TO analyst;
GRANT SELECT ON {database}.analytics_custom_events_daily TO analyst;
GRANT SELECT ON {database}.analytics_properties_daily TO analyst;

-- Email campaigns and data quality.
GRANT SELECT ON {database}.analytics_email_daily TO analyst;
GRANT SELECT ON {database}.analytics_email_links_daily TO analyst;
GRANT SELECT ON {database}.analytics_data_quality_daily TO analyst;

-- The aggregate tier itself.
GRANT SELECT ON {database}.rollup_days TO analyst;
GRANT SELECT ON {database}.rollup_hourly TO analyst;
GRANT SELECT ON {database}.rollup_daily TO analyst;
GRANT SELECT ON {database}.rollup_visits_daily TO analyst;
GRANT SELECT ON {database}.rollup_goals_daily TO analyst;
GRANT SELECT ON {database}.rollup_funnels_daily TO analyst;
GRANT SELECT ON {database}.rollup_email_daily TO analyst;
GRANT SELECT ON {database}.funnel_definitions TO analyst;
GRANT SELECT ON {database}.dropped_hits TO analyst;
