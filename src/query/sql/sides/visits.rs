//! The visit side of a query on the event tier (`s_*`, from the visit
//! rows), and both sides from the visit rows alone where they answer
//! (`visit_level`).

use super::rows::{landing_dims, landing_join, visit_rows_over};
use super::{group_by, hits_in_span, visitor_day};
use crate::query::sql::columns::{
    event_column, from_landing_hit, hit_visit_column, landing_name, time_expr, visit_column,
    visitor_column,
};
use crate::query::sql::filter::{where_filters, Rows, EVENTS_IN_RANGE};
use crate::query::sql::Params;
use crate::query::{Dim, Query, QueryError};

/// Visit counts per group from `sessions` (the newest version of each
/// visit): s_visits, s_bounces, s_duration_ms, s_pageviews, s_events,
/// s_visitors.
pub(in crate::query::sql) fn visits_side(q: &Query, p: &mut Params) -> Result<String, QueryError> {
    let mut sel = Vec::new();
    let mut joins: Vec<(&str, &str)> = Vec::new();
    let mut pages = false;
    let mut landing = Vec::new();
    for (i, d) in q.dims.iter().enumerate() {
        let e = match (*d, visit_column(*d), visitor_column(*d)) {
            // A visit that began before the span counts in its first bucket.
            (Dim::Time(g), _, _) if q.range.span.is_some() => time_expr(
                g,
                "day",
                "greatest(start, fromUnixTimestamp64Milli({start:Int64}, 'UTC'))",
            ),
            (Dim::Time(g), _, _) => time_expr(g, "day", "start"),
            (_, Some(c), _) => c.to_string(),
            (d, None, _) if from_landing_hit(d) => {
                landing.push(d);
                format!("l_{}", landing_name(d).unwrap_or_default())
            }
            (Dim::Page, None, _) => {
                pages = true;
                "page".to_string()
            }
            (_, None, Some((alias, col))) => {
                joins.push((alias, col));
                alias.to_string()
            }
            (d, None, None) => {
                return Err(QueryError::Unsupported(format!(
                    "visit metrics by {}: tacit's visits keep their pages, entry and exit page, landing source, referrer, channel and UTM tags, country and device, and the visitor's browser, OS, region and screen",
                    d.name()
                )))
            }
        };
        sel.push(format!("{e} AS d{i}"));
    }
    sel.push("count() AS s_visits".into());
    sel.push("countIf(events <= 1) AS s_bounces".into());
    sel.push("sum(dateDiff('millisecond', start, end)) AS s_duration_ms".into());
    sel.push("sum(pageviews) AS s_pageviews".into());
    sel.push("sum(events) AS s_events".into());
    sel.push(format!(
        "uniqExact({}) AS s_visitors",
        visitor_day(q, "day")
    ));
    // A sub-day range counts the visits that overlap it.
    let span = if q.range.span.is_some() {
        " AND end >= fromUnixTimestamp64Milli({start:Int64}, 'UTC') AND start < fromUnixTimestamp64Milli({end:Int64}, 'UTC')"
    } else {
        ""
    };
    let rows = visit_rows_over(!span.is_empty());
    let mut from = format!(
        "(SELECT * FROM {} AS r{} WHERE 1{span}) AS v",
        rows,
        landing_join(&landing, false)
    );
    if pages {
        from.push_str(" ARRAY JOIN arrayDistinct(pages) AS page");
    }
    if !joins.is_empty() {
        let cols: Vec<String> = joins
            .iter()
            .map(|(alias, col)| format!("any({col}) AS {alias}"))
            .collect();
        from.push_str(&format!(
            " LEFT JOIN (SELECT toDate(ts) AS day, visitor_id, {} FROM events WHERE {EVENTS_IN_RANGE} AND visitor_id != 0 GROUP BY day, visitor_id) AS a USING (day, visitor_id)",
            cols.join(", ")
        ));
    }
    let filters = where_filters(q, Rows::Visits, p)?;
    Ok(format!(
        "SELECT {} FROM {from} WHERE 1{filters}{}",
        sel.join(", "),
        group_by(q.dims.len())
    ))
}
/// Whether the visit rows alone answer `q` on the event tier, without a
/// pass over its hits: every dimension and filter is one a visit row keeps
/// (`visit_column`: source, channel, UTM campaign, country, device), and
/// the metrics count visitors, visits, page views and events (a visit's
/// hits are counted in its row: `pageviews`, `events`). A sub-day span
/// keeps visitors only (a visit's counts are not split by time). Only
/// where it pays: a landing dimension (else each hit is joined to its
/// visit), or visit counts over whole days (read anyway).
pub(in crate::query::sql) fn visit_level(q: &Query) -> bool {
    use crate::query::{Filter, Metric};
    fn kept(f: &Filter) -> bool {
        match f {
            Filter::And(v) | Filter::Or(v) => v.iter().all(kept),
            Filter::Not(x) => kept(x),
            Filter::HasDone { .. } => false,
            Filter::Cond { dim, .. } => visit_column(*dim).is_some(),
        }
    }
    let counts = |m: &Metric| {
        if q.range.span.is_some() {
            matches!(m, Metric::Visitors | Metric::Percentage) || m.is_session()
        } else {
            matches!(
                m,
                Metric::Visitors | Metric::Pageviews | Metric::Events | Metric::Percentage
            ) || m.is_session()
        }
    };
    // Where the hits alone answer (no landing value, no visit count), a
    // pass over them is cheaper than the newest version of every visit.
    let pays = !landing_dims(q).is_empty()
        || (q.range.span.is_none() && q.metrics.iter().any(|m| m.is_session()));
    pays && q.dims.iter().all(|d| visit_column(*d).is_some())
        && q.filters.iter().all(kept)
        && q.metrics.iter().all(counts)
}

/// Both sides of a [`visit_level`] query from one read of the visit rows:
/// a visit's visitor, page views and events are its hits' (a hit belongs
/// to the one visit of its visitor-day that spans it), plus the hits
/// without a visitor id (no visit holds them) from `events`, where the
/// site's key (site, day, visitor) finds them without reading the others.
/// Within a span, a visitor counts when one of its visits has a hit in it:
/// the visit starts or ends in it, or spans it whole and its visitor-day
/// has a hit in it (visits of a visitor-day never overlap).
pub(in crate::query::sql) fn visit_level_side(
    q: &Query,
    p: &mut Params,
) -> Result<String, QueryError> {
    let n = q.dims.len();
    let mut sel = Vec::new();
    for (i, d) in q.dims.iter().enumerate() {
        sel.push(format!("{} AS d{i}", visit_column(*d).unwrap_or("''")));
    }
    let who = visitor_day(q, "day");
    let (span, e_visitors) = if q.range.span.is_some() {
        const S: &str = "fromUnixTimestamp64Milli({start:Int64}, 'UTC')";
        const E: &str = "fromUnixTimestamp64Milli({end:Int64}, 'UTC')";
        (
            format!(" AND end >= {S} AND start < {E}"),
            format!(
                "uniqExactIf({who}, (start >= {S} AND start < {E}) OR (end >= {S} AND end < {E}) \
                 OR (day, visitor_id) IN (SELECT toDate(ts), visitor_id FROM events \
                 WHERE {EVENTS_IN_RANGE}{} AND visitor_id != 0))",
                hits_in_span(q)
            ),
        )
    } else {
        (String::new(), format!("uniqExact({who})"))
    };
    sel.push(format!("{e_visitors} AS e_visitors"));
    sel.push("sum(pageviews) AS e_pageviews".into());
    sel.push("sum(events) AS e_events".into());
    sel.push("count() AS s_visits".into());
    sel.push("countIf(events <= 1) AS s_bounces".into());
    sel.push("sum(dateDiff('millisecond', start, end)) AS s_duration_ms".into());
    sel.push("sum(pageviews) AS s_pageviews".into());
    sel.push("sum(events) AS s_events".into());
    sel.push(format!("uniqExact({who}) AS s_visitors"));
    // Within a span, a group whose visits have no hit in it is a group of
    // the visit side only: kept when the query counts visits.
    let having = if q.range.span.is_some() && n > 0 && !q.metrics.iter().any(|m| m.is_session()) {
        " HAVING e_visitors > 0"
    } else {
        ""
    };
    let visits = format!(
        "SELECT {} FROM (SELECT * FROM {} AS r WHERE 1{span}) AS v WHERE 1{}{}{having}",
        sel.join(", "),
        visit_rows_over(!span.is_empty()),
        where_filters(q, Rows::Visits, p)?,
        group_by(n)
    );
    // The hits without a visitor id: their own landing values (no visit);
    // within a span they make groups, never visitors.
    let mut own = Vec::new();
    for (i, d) in q.dims.iter().enumerate() {
        let col = match d {
            d if d.is_landing() => hit_visit_column(*d),
            d => event_column(*d),
        };
        own.push(format!("{} AS d{i}", col.unwrap_or_else(|| "''".into())));
    }
    own.extend([
        "toUInt64(0) AS e_visitors".to_string(),
        "toUInt64(countIf(name = 'pageview')) AS e_pageviews".into(),
        "toUInt64(count()) AS e_events".into(),
        "toUInt64(0) AS s_visits".into(),
        "toUInt64(0) AS s_bounces".into(),
        "toInt64(0) AS s_duration_ms".into(),
        "toUInt64(0) AS s_pageviews".into(),
        "toUInt64(0) AS s_events".into(),
        "toUInt64(0) AS s_visitors".into(),
    ]);
    let landing: Vec<String> = landing_dims(q)
        .iter()
        .map(|d| format!("'' AS v_{}", landing_name(*d).unwrap_or_default()))
        .collect();
    let idless = format!(
        "SELECT {} FROM (SELECT *, toUInt8(0) AS v_hit{} FROM events WHERE {EVENTS_IN_RANGE} AND visitor_id = 0{}) \
         WHERE 1{}{}",
        own.join(", "),
        landing
            .iter()
            .map(|c| format!(", {c}"))
            .collect::<String>(),
        hits_in_span(q),
        where_filters(q, Rows::Events, p)?,
        group_by(n)
    );
    let outer: Vec<String> = (0..n)
        .map(|i| format!("d{i}"))
        .chain(
            [
                "e_visitors",
                "e_pageviews",
                "e_events",
                "s_visits",
                "s_bounces",
                "s_duration_ms",
                "s_pageviews",
                "s_events",
                "s_visitors",
            ]
            .iter()
            .map(|c| format!("sum({c}) AS {c}")),
        )
        .collect();
    Ok(format!(
        "SELECT {} FROM ({visits} UNION ALL {idless}){}",
        outer.join(", "),
        group_by(n)
    ))
}
