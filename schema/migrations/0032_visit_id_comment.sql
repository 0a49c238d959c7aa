-- The collector no longer keeps a visit open per visitor (issue 28): a
-- hit's `visit_id` is a hash of its daily visitor id and its 30-minute
-- slot of the UTC clock, a fragment of one visit that `live_visits`
-- merges with the visitor's other fragments within 30 minutes. The
-- column's comment said what the removed assigner stored.

ALTER TABLE events
    COMMENT COLUMN visit_id 'Visit fragment of the hit: a hash of the daily visitor id and the hit''s half hour (UTC), 0 without a visitor id; as sensitive as visitor_id, never linkable across days';
