//! Where a query's visit rows come from (`sessions` on rolled-up days,
//! the view `live_visits` on open days) and how its hits join them (each
//! hit carries its visit's landing values).

use crate::query::sql::columns::{event_column, from_landing_hit, landing_name, visit_column};
use crate::query::sql::filter::EVENTS_IN_RANGE;
use crate::query::{Dim, Query};

/// The landing dimensions a query names (dimensions and filters).
pub(super) fn landing_dims(q: &Query) -> Vec<Dim> {
    let mut v: Vec<Dim> = Vec::new();
    for d in q.dims.iter().copied().chain(q.filter_dims()) {
        if d.is_landing() && !v.contains(&d) {
            v.push(d);
        }
    }
    v
}

/// The hits a query counts: `events`, each hit joined to its visit (the
/// visitor-day's latest visit that started at or before it: visits of a
/// visitor-day never overlap) when the query names a landing dimension,
/// so the hit carries its visit's source, channel and UTM tags.
/// `open_only`: the visits of the days not rolled up only.
pub(super) fn hits_with_visits(q: &Query, open_only: bool) -> String {
    let landing = landing_dims(q);
    if landing.is_empty() {
        return "events".into();
    }
    let mut cols = vec![
        "day AS v_day".to_string(),
        "visitor_id AS v_vid".into(),
        "start AS v_start".into(),
        "toUInt8(1) AS v_hit".into(),
    ];
    for d in &landing {
        let name = landing_name(*d).unwrap_or_default();
        let col = match visit_column(*d) {
            Some(c) => c.to_string(),
            None => format!("l_{name}"),
        };
        cols.push(format!("{col} AS v_{name}"));
    }
    format!(
        "events ASOF LEFT JOIN (SELECT {} FROM {} AS r{}) AS v \
         ON toDate(events.ts) = v.v_day AND events.visitor_id = v.v_vid AND events.ts >= v.v_start",
        cols.join(", "),
        visit_rows(open_only),
        landing_join(&landing, open_only)
    )
}

/// The visits of a query's days (one row per visit): a rolled-up day's
/// from `sessions` (the rollup recomputed them from the day's events), an
/// open day's from `live_visits` (built from its events by the 30-minute
/// rule, current within the events' delivery). A day not rolled up whose
/// visits `sessions` holds already (recomputed, its rollup under way, or a
/// test) reads `sessions`. Both halves are restricted to the site and days
/// asked for. `open_only`: the days not rolled up only.
pub(super) fn visit_rows(open_only: bool) -> String {
    visit_rows_in(open_only, false)
}

/// [`visit_rows`] for a query whose range may be a sub-day span. With a
/// span (`spanned`), whose readers keep only the visits that end at or
/// after its start (`end >= {start}`), the live half builds
/// the visits of the visitor-days with a hit since the start only. A live
/// visit is built from its events, so one that ends at or after the start
/// has a hit there (its last); the condition drops no row the span keeps,
/// and the engine pushes it into the events' read (their key starts with
/// site, day and visitor), so the realtime screen's visit figures cost the
/// visitors of the last half hour instead of the whole day.
pub(super) fn visit_rows_over(spanned: bool) -> String {
    visit_rows_in(false, spanned)
}

fn visit_rows_in(open_only: bool, since_start: bool) -> String {
    // The same columns, of the same types, in both tables.
    const COLS: &str = "day, visitor_id, start, end, pageviews, events, entry_page, exit_page, \
        referrer_source, channel, utm_campaign, country, device, event_names, pages";
    const DAYS: &str = "site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}";
    let recomputed = format!(
        "(SELECT DISTINCT day FROM sessions WHERE {DAYS} AND day NOT IN (SELECT day FROM rollup_days))"
    );
    let open = if open_only {
        " AND day NOT IN (SELECT day FROM rollup_days)"
    } else {
        ""
    };
    let active = if since_start {
        format!(
            " AND (day, visitor_id) IN (SELECT toDate(ts), visitor_id FROM events WHERE {EVENTS_IN_RANGE} \
             AND ts >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC') AND visitor_id != 0)"
        )
    } else {
        String::new()
    };
    format!(
        "(SELECT {COLS} FROM sessions FINAL WHERE {DAYS}{open} \
         UNION ALL SELECT {COLS} FROM live_visits WHERE {DAYS} AND day NOT IN {recomputed}{active})"
    )
}

/// The values of the landing dimensions the visit rows do not keep, from
/// each visit's landing hit (the hit at its start), as `l_{name}`; empty
/// where the landing hit carries none. Joined to visit rows on
/// `(day, visitor_id, start)`.
pub(super) fn landing_join(dims: &[Dim], open_only: bool) -> String {
    let hit: Vec<Dim> = dims
        .iter()
        .copied()
        .filter(|d| from_landing_hit(*d))
        .collect();
    if hit.is_empty() {
        return String::new();
    }
    let mut cols = Vec::new();
    let mut any = Vec::new();
    for d in &hit {
        let col = event_column(*d).unwrap_or_default();
        cols.push(format!(
            "any({col}) AS l_{}",
            landing_name(*d).unwrap_or_default()
        ));
        any.push(format!("{col} != ''"));
    }
    let open = if open_only {
        " AND toDate(ts) NOT IN (SELECT day FROM rollup_days)"
    } else {
        ""
    };
    format!(
        " LEFT JOIN (SELECT toDate(ts) AS day, visitor_id, ts AS start, {} FROM events \
         WHERE {EVENTS_IN_RANGE}{open} AND visitor_id != 0 AND ({}) GROUP BY day, visitor_id, start) AS l \
         USING (day, visitor_id, start)",
        cols.join(", "),
        any.join(" OR ")
    )
}
