-- Purge fences (`store/fence.rs`): while and after `tacit purge` removes a
-- site's rows, no background writer writes rows of the purged range again.
-- A fence holds no data about visitors: a site, a cut-off time, a lifetime.
CREATE TABLE IF NOT EXISTS purge_fences
(
    id      String COMMENT 'The fence, unique per purge attempt',
    site    LowCardinality(String) COMMENT 'The site being purged',
    cutoff  DateTime64(3, 'UTC') COMMENT 'Rows of the site before this time are never written again',
    raised  DateTime64(3, 'UTC') COMMENT 'When the purge raised the fence',
    expires DateTime64(3, 'UTC') COMMENT 'The event TTL plus two days after it was raised'
)
ENGINE = MergeTree
ORDER BY (site, id)
TTL toDateTime(expires)
COMMENT 'Purge fences: ranges of a site that writers keep out (operations; no visitor data)';

-- Each running collector says, every few seconds, which fences it applies.
CREATE TABLE IF NOT EXISTS fence_members
(
    member  String COMMENT 'A random name per tacit serve process',
    seen    DateTime64(3, 'UTC') COMMENT 'When the process last read the fences',
    applied Array(String) COMMENT 'The fences its writers were applying then',
    stopped UInt8 COMMENT '1: the process stopped its writers and left'
)
ENGINE = MergeTree
ORDER BY (member, seen)
TTL toDateTime(seen) + INTERVAL 1 DAY
COMMENT 'Collectors seen applying purge fences, kept one day (operations; no visitor data)';
