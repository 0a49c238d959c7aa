-- Partner exports (issue 26): the privacy budget reserved with each
-- release's claim; each collector's report of what its write-ahead log
-- still holds, so that only settled periods are released; and the audit
-- store kept only as long as a new release can link to it (apply_retention
-- sets these TTLs from policy.event_ttl_days plus the linking horizon;
-- these are the defaults for 30 days).
CREATE TABLE IF NOT EXISTS export_budget
(
    account        LowCardinality(String) COMMENT 'Budget account (budget_account, default the partner)',
    month          String COMMENT 'Calendar month charged, YYYY-MM',
    partner        LowCardinality(String) COMMENT 'Third party the release is for',
    export         LowCardinality(String) COMMENT 'Export name in tacit.toml',
    period         String COMMENT 'Period released',
    claim          String COMMENT 'Random id of the reservation (the release claim and an attempt number)',
    replica        String COMMENT 'Random id of the tacit process that made the reservation',
    epsilon_micros UInt64 COMMENT 'Epsilon charged, in millionths',
    budget_micros  UInt64 COMMENT 'Monthly budget of the account when charged, in millionths',
    sensitivity    UInt64 COMMENT 'L1 sensitivity of the release the noise was scaled to',
    reserved_at    DateTime64(6, 'UTC') DEFAULT now64(6) COMMENT 'When the database received the row',
    abandoned      UInt8 DEFAULT 0 COMMENT '1 on the row that gives a charge up (refused, or its release failed before its file was frozen)'
)
ENGINE = MergeTree
ORDER BY (account, month, reserved_at)
TTL toDateTime(reserved_at) + INTERVAL 25 MONTH
COMMENT 'Ledger: epsilon charged per budget account and month, reserved with each noisy release; counts only';

CREATE TABLE IF NOT EXISTS wal_watermarks
(
    log_id         String COMMENT 'Random id of one collector''s write-ahead log',
    reported_at    DateTime64(3, 'UTC') COMMENT 'When the collector looked at its log (its clock)',
    oldest_pending DateTime64(3, 'UTC') COMMENT 'Receive time of the oldest row still in the log; the report time if none',
    pending        UInt64 COMMENT 'Rows in the log not yet acknowledged by the database'
)
ENGINE = MergeTree
ORDER BY (log_id, reported_at)
TTL toDateTime(reported_at) + INTERVAL 2 DAY
COMMENT 'Each collector''s periodic report of how far its write-ahead log is delivered; no event data';

ALTER TABLE export_cells MODIFY TTL period_end + INTERVAL 92 DAY;
ALTER TABLE export_atoms MODIFY TTL day + INTERVAL 123 DAY;
ALTER TABLE export_cells MODIFY COMMENT 'Partner audit store: every cell of every partner release, released or withheld, kept while a new release can still be linked to it; counts only';
ALTER TABLE export_atoms MODIFY COMMENT 'Partner audit store: which combinations of the finest dimensions existed per site and day in released periods, kept while a new release can still be linked to them; no counts';
ALTER TABLE disclosures COMMENT COLUMN note 'For channel purge: the site''s data was removed, and why; for a noisy release: the epsilon and the L1 sensitivity (days, sites, cells per visitor and day, per cell) the noise was scaled to';
