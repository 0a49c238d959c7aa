//! Live visits: each accepted event's row carries the id of its visit
//! *fragment* (`events.visit_id`), stamped by the sink before the row
//! enters the write-ahead log. The engine builds an open day's visits from
//! the fragments at query time (view `live_visits`, migration 0031), and
//! the day-close rollup recomputes a closed day's visits from the events
//! into `sessions` (the source of truth for closed days).
//!
//! The rule is the one `analytics/sessions.rs` runs in SQL: a visit is one
//! visitor's hits on one site on one UTC day (visitor ids are per day)
//! with no gap over 30 minutes, counted in whole seconds as ClickHouse's
//! `dateDiff('second', …)` counts them.
//!
//! A fragment is a visitor's hits in one 30-minute slot of the UTC clock
//! (00:00–00:30, 00:30–01:00, …), and its id is a hash of the daily
//! visitor id and the slot ([`visit_id`]). Two hits of one slot are at
//! most 1,799 whole seconds apart, so a fragment never holds a gap over 30
//! minutes and lies inside exactly one visit by the rule; the view merges
//! a visitor's fragments whose gap is at most 30 minutes, so its visits are
//! the rule's over the stored events. A visit of 10 minutes is one
//! fragment or two (it crosses a slot's edge); on generated days a visit
//! had 1.14 fragments on average. The 48 slots divide the UTC day, so no
//! fragment crosses midnight (where visitor ids change anyway).
//!
//! The id needs no state: the collector keeps nothing per visitor, so
//! there is no table to bound, reload after a restart or a `SIGKILL`, or
//! purge; two replicas that each see part of a visit stamp its hits with
//! the same ids; a late or out-of-order hit gets the id of its own slot. A
//! hit refused by the log leaves nothing behind. The live visits are exact
//! whatever reached which replica, whenever a process restarted.
//!
//! The id says nothing the row's visitor id and time do not (the slot is
//! the time to the half hour), and it is as unlinkable across days as the
//! visitor id: its salt is destroyed with the day. It is an unkeyed hash,
//! so with the half hour it gives the visitor id back: it is as sensitive
//! as the visitor id and stays where that does (`events`, which neither
//! the analyst role nor any export reads).

pub mod realtime;

/// Inactivity that ends a visit, in whole seconds (see the module doc).
pub const VISIT_GAP_SECONDS: i64 = 30 * 60;

/// The clock slot of a fragment, in ms: the gap, so that no two hits of
/// one slot are more than the gap apart.
pub const SLOT_MS: i64 = VISIT_GAP_SECONDS * 1000;

// A slot never crosses midnight.
const _: () = assert!(86_400_000 % SLOT_MS == 0);

/// The slot (30-minute periods since the epoch) of a time in ms.
pub fn slot_of(ms: i64) -> i64 {
    ms.div_euclid(SLOT_MS)
}

/// The fragment id of a hit of `visitor_id` at `ts` (ms): a hash of the
/// visitor id and the hit's slot, never 0; 0 for a hit without a visitor
/// id (stored without consent: no visit).
pub fn visit_id(visitor_id: u64, ts: i64) -> u64 {
    if visitor_id == 0 {
        return 0;
    }
    let mut z = visitor_id ^ (slot_of(ts) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z.max(1)
}

#[cfg(test)]
mod tests;
