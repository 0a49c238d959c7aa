-- Linked suppression of partner exports (issue 13): the cells of every
-- release (released and withheld, with their exact visitor counts) and the
-- atoms that existed (site, day, finest keys; no counts), so a new release
-- is audited together with everything the partner already holds, from
-- this store rather than from the files; and claims, so that one release
-- is made per period even when several requests or replicas ask at once.
CREATE TABLE IF NOT EXISTS export_cells
(
    partner      LowCardinality(String) COMMENT 'Third party that received the release',
    export       LowCardinality(String) COMMENT 'Export name in tacit.toml',
    period       String COMMENT 'Period released',
    config_hash  String COMMENT 'SHA-256 of the export definition',
    period_start Date COMMENT 'First day of the period',
    period_end   Date COMMENT 'Day after the period',
    sites        Array(String) COMMENT 'Sites the export covers',
    dimensions   Array(String) COMMENT 'Breakdown dimensions of the export',
    keys         Array(String) COMMENT 'The cell''s values of those dimensions',
    visitors     UInt64 COMMENT 'Exact distinct visitors of the cell',
    withheld     UInt8 COMMENT '1 if the cell was not released',
    small        UInt8 COMMENT '1 if the cell counted fewer than k visitors',
    exact        UInt8 COMMENT '1 if released without noise',
    round_to     UInt32 COMMENT 'Rounding step of the released figures (1: none)',
    min_visitors UInt32 COMMENT 'k of the export'
)
ENGINE = MergeTree
ORDER BY (partner, period_start, export, period)
TTL period_end + INTERVAL 25 MONTH
COMMENT 'Ledger: every cell of every partner release, released or withheld, for auditing later releases against it; counts only';

CREATE TABLE IF NOT EXISTS export_atoms
(
    partner LowCardinality(String) COMMENT 'Third party',
    finest  Array(String) COMMENT 'The finest dimensions across the partner''s exports when recorded',
    site    LowCardinality(String) COMMENT 'Site',
    day     Date COMMENT 'UTC day',
    keys    Array(String) COMMENT 'Values of the finest dimensions that had at least one visitor that day'
)
ENGINE = ReplacingMergeTree
ORDER BY (partner, day, site, finest, keys)
TTL day + INTERVAL 25 MONTH
COMMENT 'Ledger: which combinations of the finest dimensions existed per site and day in released periods; no counts';

CREATE TABLE IF NOT EXISTS export_claims
(
    partner     LowCardinality(String) COMMENT 'Third party',
    export      LowCardinality(String) COMMENT 'Export name',
    period      String COMMENT 'Period',
    config_hash String COMMENT 'SHA-256 of the export definition',
    claim       String COMMENT 'Random id of the request that claimed the release',
    claimed_at  DateTime64(6, 'UTC') DEFAULT now64(6) COMMENT 'When the claim reached the database (the database''s clock)',
    abandoned   UInt8 DEFAULT 0 COMMENT '1 on the row that gives a failed claim up'
)
ENGINE = MergeTree
ORDER BY (partner, export, period, config_hash, claimed_at)
TTL toDateTime(claimed_at) + INTERVAL 25 MONTH
COMMENT 'Who makes each release: the earliest live claim wins, the others wait for its file';
