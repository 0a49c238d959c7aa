-- tacit: server-only
-- The analyst role reads the per-question views of 0008. Views run with the
-- invoker's rights, so the visit views need the `sessions` columns they
-- read: every column except visitor_id (column-level grant).
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
GRANT SELECT ON {database}.analytics_goal_conversions TO analyst;
GRANT SELECT ON {database}.analytics_funnel TO analyst;
GRANT SELECT(site, day, start, end, pageviews, events, entry_page, exit_page, referrer_source, channel, utm_campaign, country, device, event_names, pages, version) ON {database}.sessions TO analyst;
