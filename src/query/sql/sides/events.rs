//! The hit side of a query on the event tier: hit counts per group from
//! `events` (`e_*`), with the engagement and revenue columns its metrics
//! read.

use super::rows::hits_with_visits;
use super::{hits_in_span, visitor_day};
use crate::query::sql::columns::{event_column, hit_visit_column, time_expr};
use crate::query::sql::filter::{where_filters, Rows, EVENTS_IN_RANGE};
use crate::query::sql::Params;
use crate::query::{Dim, Query, QueryError};

/// Hit counts per group from `events`: e_visitors, e_pageviews, e_events.
pub(in crate::query::sql) fn events_side(q: &Query, p: &mut Params) -> Result<String, QueryError> {
    let names: Vec<usize> = (0..q.dims.len()).collect();
    events_side_as(q, p, &names)
}

/// [`events_side`] with dimension `i` named `d{names[i]}`.
pub(in crate::query::sql) fn events_side_as(
    q: &Query,
    p: &mut Params,
    names: &[usize],
) -> Result<String, QueryError> {
    let mut sel = Vec::new();
    for (&i, d) in names.iter().zip(&q.dims) {
        let e = match d {
            Dim::Time(g) => time_expr(*g, "toDate(ts)", "ts"),
            d if d.is_landing() => hit_visit_column(*d).unwrap_or_default(),
            d => event_column(*d).ok_or_else(|| {
                QueryError::Unsupported(format!("{} is not a dimension of hits", d.name()))
            })?,
        };
        sel.push(format!("{e} AS d{i}"));
    }
    sel.push(format!(
        "uniqExactIf({}, visitor_id != 0) AS e_visitors",
        visitor_day(q, "toDate(ts)")
    ));
    sel.push("countIf(name = 'pageview') AS e_pageviews".into());
    sel.push("count() AS e_events".into());
    sel.extend(engagement_and_revenue(q));
    let mut filters = where_filters(q, Rows::Events, p)?;
    // A property breakdown counts the events that carry the property, as
    // the analyst views do.
    for d in &q.dims {
        if let Dim::Prop(i) = d {
            filters.push_str(&format!(" AND has(prop_keys, {{pk{i}:String}})"));
        }
    }
    let group = if names.is_empty() {
        String::new()
    } else {
        let n: Vec<String> = names.iter().map(|i| format!("d{i}")).collect();
        format!(" GROUP BY {}", n.join(", "))
    };
    Ok(format!(
        "SELECT {} FROM {} WHERE {EVENTS_IN_RANGE}{}{filters}{group}",
        sel.join(", "),
        hits_with_visits(q, false),
        hits_in_span(q)
    ))
}

/// The engagement and revenue columns a query's metrics read (only
/// then: each costs a pass over the rows): each visitor-page's deepest
/// scroll, the engaged time and visitors, the revenue, the events that
/// carry revenue, and its currencies.
fn engagement_and_revenue(q: &Query) -> Vec<String> {
    use crate::query::Metric;
    let has = |m: &[Metric]| q.metrics.iter().any(|x| m.contains(x));
    let mut out = Vec::new();
    if has(&[Metric::ScrollDepth]) {
        out.push(
            "tupleElement(maxMapIf([cityHash64(toDate(ts), visitor_id, pathname)], [scroll_depth], name = 'engagement' AND visitor_id != 0), 2) AS e_scroll_v"
                .into(),
        );
    }
    if has(&[Metric::TimeOnPage]) {
        out.push("sumIf(engaged_ms, name = 'engagement') AS e_engaged_ms".into());
        out.push(
            "uniqExactIf((toDate(ts), visitor_id), name = 'engagement' AND visitor_id != 0) AS e_engaged_visitors"
                .into(),
        );
    }
    if has(&[Metric::TotalRevenue, Metric::AverageRevenue]) {
        out.push("sumIf(toFloat64(revenue_amount), revenue_currency != '') AS e_revenue".into());
        out.push("countIf(revenue_currency != '') AS e_revenue_n".into());
    }
    if has(&[Metric::Currencies]) {
        out.push("uniqExactIf(revenue_currency, revenue_currency != '') AS e_currencies".into());
    }
    out
}
