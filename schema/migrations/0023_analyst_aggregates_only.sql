-- tacit: server-only
-- The analyst role reads aggregates only: no per-visit or per-visitor row,
-- no column of the event tier. 0005 granted `analytics_visits` (one row
-- per visit: a day's journey per person) and 0009 a column grant on
-- `sessions` that the visit views of the time needed. Every view the role
-- still reads either reads the aggregate tier or runs with its definer's
-- rights and returns counts (0013 and later), so both grants go. The
-- ad-hoc funnel (`analytics_funnel`) stays: it reads visits as its definer
-- and returns only a count of visits per step.
REVOKE SELECT ON {database}.analytics_visits FROM analyst;
REVOKE SELECT ON {database}.sessions FROM analyst;
