-- tacit: server-only
-- The analyst role reads the email views of 0018 and their aggregate tier.
GRANT SELECT ON {database}.analytics_email_daily TO analyst;
GRANT SELECT ON {database}.analytics_email_links_daily TO analyst;
GRANT SELECT ON {database}.rollup_email_daily TO analyst;
