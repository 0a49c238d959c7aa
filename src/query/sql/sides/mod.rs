//! The two sides of a query, each grouped by the query's dimensions:
//! hit counts (`e_*`) and visit counts (`s_*`), from the event tier or
//! from the analyst views. Visits are `sessions`' on rolled-up days and,
//! on open days, built from the events by the view `live_visits`
//! (`visit_rows`); a hit counted by a landing dimension carries its
//! visit's value (`hits_with_visits`), unless the visit rows alone answer
//! the query (`visit_level`: no hit joined to its visit).
//!
//! `rows.rs`: where visit rows come from and how hits join them;
//! `events.rs`: the hit side; `visits.rs`: the visit side, and both sides
//! from the visit rows alone; `kept.rs`: both sides from the rollups.
//! This file holds the helpers they share.

mod events;
mod kept;
mod rows;
mod visits;

pub(super) use events::{events_side, events_side_as};
pub(super) use kept::{kept_events_side, kept_visits_side};
pub(super) use visits::{visit_level, visit_level_side, visits_side};

use crate::query::Query;

pub(super) fn dim_list(n: usize) -> String {
    (0..n)
        .map(|i| format!("d{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn group_by(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" GROUP BY {}", dim_list(n))
    }
}

/// What a distinct visitor is: a visitor id and its day (ids are daily).
/// Within one day the id alone says the same, and hashing a `UInt64` is
/// about twice as fast as a tuple over a busy day's millions of hits.
fn visitor_day(q: &Query, day: &str) -> String {
    if q.range.days() == 1 {
        "visitor_id".into()
    } else {
        format!("({day}, visitor_id)")
    }
}

/// The exact span of a sub-day range, on hits (the days are in
/// `EVENTS_IN_RANGE`).
pub(super) fn hits_in_span(q: &Query) -> &'static str {
    if q.range.span.is_some() {
        " AND ts >= fromUnixTimestamp64Milli({start:Int64}, 'UTC') AND ts < fromUnixTimestamp64Milli({end:Int64}, 'UTC')"
    } else {
        ""
    }
}
