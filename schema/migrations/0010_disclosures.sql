-- The disclosure ledger: one row per release of a partner export (CLI or
-- API). tacit only ever appends here; no TTL, no updates, no deletes. It
-- answers "what went to whom" (tacit disclosures --year N).
CREATE TABLE IF NOT EXISTS disclosures
(
    time          DateTime64(3, 'UTC') COMMENT 'When the release was made',
    partner       LowCardinality(String) COMMENT 'Third party that received it',
    export        LowCardinality(String) COMMENT 'Export name in tacit.toml',
    period        String COMMENT 'Period released: YYYY-MM, YYYY-Www or YYYY-MM-DD',
    channel       LowCardinality(String) COMMENT 'cli or api',
    config_hash   String COMMENT 'SHA-256 of the export definition that produced it',
    sites         Array(String) COMMENT 'Sites covered',
    dimensions    Array(String) COMMENT 'Breakdown dimensions',
    metrics       Array(String) COMMENT 'Metrics released',
    min_visitors  UInt32 COMMENT 'k: every released cell counted at least this many distinct visitors',
    epsilon_spent Float64 COMMENT 'Differential-privacy epsilon charged to the partner (0: no noise, or a repeat of an earlier noisy release)',
    rows          UInt64 COMMENT 'Rows in the file',
    suppressed    UInt64 COMMENT 'Cells withheld (below k, or complementary)',
    format        LowCardinality(String) COMMENT 'csv, jsonl or parquet',
    file_sha256   String COMMENT 'SHA-256 of the file as delivered'
)
ENGINE = MergeTree
ORDER BY (partner, time);

-- Noisy releases, kept so a repeat request gets the same file instead of
-- fresh noise (averaging repeats would undo the noise) and spends no more
-- budget. Aggregates only.
CREATE TABLE IF NOT EXISTS export_releases
(
    partner     LowCardinality(String),
    export      LowCardinality(String),
    period      String,
    config_hash String,
    created_at  DateTime64(3, 'UTC'),
    epsilon     Float64,
    rows        UInt64,
    suppressed  UInt64,
    file        String
)
ENGINE = MergeTree
ORDER BY (partner, export, period, config_hash)
TTL toDateTime(created_at) + INTERVAL 25 MONTH;
