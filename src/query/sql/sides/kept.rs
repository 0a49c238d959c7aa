//! Both sides of a query on the aggregate tier: the rolled-up days'
//! counts from the rollups, the open days' from their hits and visits.

use super::group_by;
use super::rows::{hits_with_visits, visit_rows};
use crate::query::sql::columns::{
    event_column, filtered_dimension, hit_visit_column, kept_dimension, kept_filter,
    landing_rollup_name, time_expr,
};
use crate::query::sql::filter::{condition, where_filters, Rows, EVENTS_IN_RANGE};
use crate::query::sql::Params;
use crate::query::{Dim, Grain, Op, Query, QueryError};

/// The newest rollup version of each day.
const NEWEST: &str = "(day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)";

/// The one filter of a query the filtered rollups answer, as a condition
/// on their `filter` and `filter_value` columns.
fn kept_filter_condition(q: &Query, p: &mut Params) -> Option<String> {
    kept_filter(q).map(|(name, values)| {
        format!(
            "filter = '{name}' AND {}",
            condition(Op::Is, values, true, "filter_value", p)
        )
    })
}

/// The aggregate tier's hit counts (one kept dimension, or none; with
/// one kept filter, from the filtered rollups).
pub(in crate::query::sql) fn kept_events_side(
    q: &Query,
    p: &mut Params,
) -> Result<String, QueryError> {
    let mut sel = Vec::new();
    let mut kept = None;
    let mut prop = None;
    let mut landing = None;
    let filter = kept_filter_condition(q, p);
    let mut filtered_dim = "all";
    let hourly = q.grain() == Some(Grain::Hour);
    for (i, d) in q.dims.iter().enumerate() {
        let e = match d {
            Dim::Time(g) => time_expr(*g, if hourly { "toDate(hour)" } else { "day" }, "hour"),
            d if filter.is_some() => {
                filtered_dim = filtered_dimension(*d).ok_or(QueryError::Shape)?;
                "value".to_string()
            }
            Dim::Prop(k) => {
                prop = Some(*k);
                "value".to_string()
            }
            d if d.is_landing() => {
                landing = landing_rollup_name(*d);
                "value".to_string()
            }
            d => {
                kept = kept_dimension(*d);
                kept.map_or("''", |k| k.1).to_string()
            }
        };
        sel.push(format!("{e} AS d{i}"));
    }
    sel.push("sum(visitors) AS v_visitors".into());
    // The properties' view counts no page views (the tier rule keeps
    // `pageviews` off this path).
    sel.push(if prop.is_some() {
        "toUInt64(0) AS v_pageviews".into()
    } else {
        "sum(pageviews) AS v_pageviews".into()
    });
    sel.push("sum(events) AS v_events".into());
    // The rolled-up days only: the views' open half would compute every
    // breakdown of every site's open days before any outer filter.
    let days = "site = {site:String} AND day BETWEEN {from:Date} AND {to:Date} AND day IN (SELECT day FROM rollup_days)";
    let source = match (kept, hourly) {
        _ if filter.is_some() => format!(
            "rollup_filtered_daily WHERE {days} AND {} AND dimension = '{filtered_dim}' AND {NEWEST}",
            filter.unwrap_or_default()
        ),
        _ if landing.is_some() => landing_days(landing.unwrap_or_default(), days),
        _ if prop.is_some() => format!(
            "analytics_properties_daily WHERE {days} AND property = {{pk{}:String}}",
            prop.unwrap_or_default()
        ),
        (_, true) => "analytics_overview_hourly WHERE site = {site:String} AND toDate(hour) BETWEEN {from:Date} AND {to:Date} AND toDate(hour) IN (SELECT day FROM rollup_days)".to_string(),
        (None, false) => format!("analytics_totals_daily WHERE {days}"),
        (Some((view, _, "")), false) => format!("{view} WHERE {days}"),
        (Some((view, _, which)), false) => format!("{view} WHERE {days} AND {which}"),
    };
    let n = q.dims.len();
    let outer: Vec<String> = (0..n)
        .map(|i| format!("d{i}"))
        .chain([
            "sum(v_visitors) AS e_visitors".to_string(),
            "sum(v_pageviews) AS e_pageviews".to_string(),
            "sum(v_events) AS e_events".to_string(),
        ])
        .collect();
    Ok(format!(
        "SELECT {} FROM (SELECT {} FROM {source}{} UNION ALL {}){}",
        outer.join(", "),
        sel.join(", "),
        group_by(n),
        open_days_side(q, prop.is_some(), p)?,
        group_by(n)
    ))
}

/// The rolled-up days' counts of a landing dimension (`dimension`, as
/// `landing_rollup_name` spells it) per visit, from `rollup_landing_daily`; a
/// site-day rolled up before that table existed (now past the event tier,
/// or imported as aggregates) keeps its per-hit counts in `rollup_daily`.
/// `days` picks the site's rolled-up days of the range.
fn landing_days(dimension: &str, days: &str) -> String {
    let newest = NEWEST;
    let per_visit = format!(
        "SELECT day, value, pageviews, events, visitors FROM rollup_landing_daily \
         WHERE {days} AND dimension = '{dimension}' AND {newest}"
    );
    // The referrer host was never counted per hit.
    let per_hit = if dimension == "referrer" {
        String::new()
    } else {
        format!(
            " UNION ALL SELECT day, value, pageviews, events, visitors FROM rollup_daily \
             WHERE {days} AND dimension = '{dimension}' AND {newest} \
             AND day NOT IN (SELECT day FROM rollup_landing_daily WHERE {days} AND {newest})"
        )
    };
    format!("({per_visit}{per_hit}) AS r")
}

/// The days no rollup holds yet, straight from `events`, counted per day
/// as the views count them (visitors are distinct per day); a landing
/// dimension is each hit's visit's (`hits_with_visits`).
fn open_days_side(q: &Query, prop: bool, p: &mut Params) -> Result<String, QueryError> {
    let mut sel = Vec::new();
    let mut filters = where_filters(q, Rows::Events, p)?;
    for (i, d) in q.dims.iter().enumerate() {
        let e = match d {
            Dim::Time(g) => time_expr(*g, "toDate(ts)", "ts"),
            d if d.is_landing() => hit_visit_column(*d).unwrap_or_default(),
            Dim::Prop(k) => {
                filters.push_str(&format!(" AND has(prop_keys, {{pk{k}:String}})"));
                format!("prop_values[indexOf(prop_keys, {{pk{k}:String}})]")
            }
            d => event_column(*d).unwrap_or_else(|| "''".into()),
        };
        sel.push(format!("{e} AS d{i}"));
    }
    sel.push("uniqExactIf(visitor_id, visitor_id != 0) AS v_visitors".into());
    sel.push(if prop {
        "toUInt64(0) AS v_pageviews".into()
    } else {
        "countIf(name = 'pageview') AS v_pageviews".into()
    });
    sel.push("count() AS v_events".into());
    let group: Vec<String> = std::iter::once("toDate(ts)".to_string())
        .chain((0..q.dims.len()).map(|i| format!("d{i}")))
        .collect();
    Ok(format!(
        "SELECT {} FROM {} WHERE {EVENTS_IN_RANGE} AND toDate(ts) NOT IN (SELECT day FROM rollup_days){filters} GROUP BY {}",
        sel.join(", "),
        hits_with_visits(q, true),
        group.join(", ")
    ))
}

/// The aggregate tier's visit counts (overall, by entry or by exit page;
/// with one kept filter, from the filtered rollups).
pub(in crate::query::sql) fn kept_visits_side(
    q: &Query,
    p: &mut Params,
) -> Result<String, QueryError> {
    let mut sel = Vec::new();
    let mut kind = "all";
    for (i, d) in q.dims.iter().enumerate() {
        let e = match d {
            Dim::Time(g) => time_expr(*g, "day", "day"),
            d => {
                kind = if *d == Dim::EntryPage {
                    "entry_page"
                } else {
                    "exit_page"
                };
                "value".to_string()
            }
        };
        sel.push(format!("{e} AS d{i}"));
    }
    sel.push("sum(visits) AS s_visits".into());
    sel.push("sum(bounces) AS s_bounces".into());
    sel.push("sum(duration_s) * 1000 AS s_duration_ms".into());
    sel.push("sum(pageviews) AS s_pageviews".into());
    // The rolled-up days' counts, and the open days' from their visits
    // (built from their events by `live_visits`: `visit_rows`).
    let value = match kind {
        "all" => "''",
        k => k,
    };
    let days = "site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}";
    let table = match kept_filter_condition(q, p) {
        Some(f) => format!("rollup_visits_filtered_daily WHERE {days} AND {f}"),
        None => format!("rollup_visits_daily WHERE {days}"),
    };
    let filters = where_filters(q, Rows::Visits, p)?;
    Ok(format!(
        "SELECT {} FROM (SELECT day, value, visits, bounces, duration_s, pageviews FROM {table} \
         AND kind = '{kind}' AND {NEWEST} \
         UNION ALL SELECT day, {value} AS value, count() AS visits, countIf(events <= 1) AS bounces, \
         sum(dateDiff('millisecond', start, end)) / 1000.0 AS duration_s, sum(pageviews) AS pageviews \
         FROM {} AS o WHERE 1{filters} GROUP BY day, value){}",
        sel.join(", "),
        visit_rows(true),
        group_by(q.dims.len())
    ))
}
