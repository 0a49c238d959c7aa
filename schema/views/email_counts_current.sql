-- Internal: rollup_email_daily for rolled-up days, email_counts for the
-- others.
CREATE VIEW IF NOT EXISTS email_counts_current
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS
SELECT site, day, campaign, variant, kind, link, class, machine, events, visitors
FROM rollup_email_daily WHERE (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
UNION ALL
SELECT site, day, campaign, variant, kind, link, class, machine, events, visitors
FROM email_counts WHERE day NOT IN (SELECT day FROM rollup_days)
COMMENT 'Internal: the newest rollup of closed days and the event tier for the others';
