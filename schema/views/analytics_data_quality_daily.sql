-- Hits not stored, per reason (dropped_hits); no visitor data.
CREATE VIEW IF NOT EXISTS analytics_data_quality_daily
(
    site   String COMMENT 'Configured site',
    day    Date COMMENT 'UTC day',
    reason String COMMENT 'Why hits were not stored: bot, prefetch, empty_user_agent, opt_out, do_not_track, global_privacy_control, excluded_country',
    hits   UInt64 COMMENT 'Hits not stored for this reason'
) AS
SELECT site, day, reason, sum(hits) AS hits FROM dropped_hits GROUP BY site, day, reason;
