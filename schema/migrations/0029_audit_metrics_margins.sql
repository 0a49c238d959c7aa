-- The partner audit (issue 26): every released count of every metric, and
-- the public margins of each release, enter the audit beside the visitors.
ALTER TABLE export_cells
    ADD COLUMN IF NOT EXISTS visits    UInt64 DEFAULT 0 COMMENT 'Exact visits of the cell',
    ADD COLUMN IF NOT EXISTS pageviews UInt64 DEFAULT 0 COMMENT 'Exact page views of the cell',
    ADD COLUMN IF NOT EXISTS events    UInt64 DEFAULT 0 COMMENT 'Exact events of the cell',
    ADD COLUMN IF NOT EXISTS counts    Array(String) DEFAULT [] COMMENT 'Which of visits, pageviews, events the release publishes for the cell',
    ADD COLUMN IF NOT EXISTS margin    UInt8 DEFAULT 0 COMMENT '1 for a coarser margin of the release (a public figure, at least k visitors), not a row of the file';

-- The per-visitor dimensions (location, device, browser, OS) that held more
-- than one value for some visitor id on the atom's site and day: the audit
-- does not treat them as fixed per visitor there.
ALTER TABLE export_atoms
    ADD COLUMN IF NOT EXISTS loose Array(String) DEFAULT [] COMMENT 'Dimensions of the per-visitor kind that held several values for one visitor id on this site and day';
