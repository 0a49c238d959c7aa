-- Site purges (`tacit purge`): the evidence shown to the data controller.
-- One row per attempt; a rerun of an incomplete purge adds a row.
CREATE TABLE IF NOT EXISTS purges
(
    site        LowCardinality(String) COMMENT 'The site whose data was removed',
    before      String COMMENT 'Rows before this UTC day were removed (YYYY-MM-DD); empty: all rows',
    reason      String COMMENT 'Why, as given to tacit purge --reason',
    requested   DateTime64(3, 'UTC') COMMENT 'When the purge started',
    completed   DateTime64(3, 'UTC') COMMENT 'When every table was verified empty for the site; epoch if not completed',
    status      LowCardinality(String) COMMENT 'done, or incomplete (see tables_left)',
    rows        Map(String, UInt64) COMMENT 'Rows removed, per table',
    tables_left Array(String) COMMENT 'Tables that still held rows of the site when the attempt ended'
)
ENGINE = MergeTree
ORDER BY (site, requested);

-- The disclosure ledger is kept through purges; a purge leaves a note in it.
ALTER TABLE disclosures
    ADD COLUMN IF NOT EXISTS note String DEFAULT '' COMMENT 'For channel purge: the site''s data was removed, and why';
