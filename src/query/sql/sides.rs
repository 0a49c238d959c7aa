//! The two sides of a query, each grouped by the query's dimensions:
//! hit counts (`e_*`) and visit counts (`s_*`), from the event tier or
//! from the analyst views. Visits are `sessions`' on rolled-up days and
//! the collectors' live `visits` on open days (`visit_rows`); a hit
//! counted by a landing dimension carries its visit's value
//! (`hits_with_visits`), unless the visit rows alone answer the query
//! (`visit_level`: no hit joined to its visit).

use super::columns::{
    event_column, filtered_dimension, from_landing_hit, hit_visit_column, kept_dimension,
    kept_filter, landing_name, landing_rollup_name, time_expr, visit_column, visitor_column,
};
use super::filter::{condition, where_filters, Rows, EVENTS_IN_RANGE};
use super::Params;
use crate::query::{Dim, Grain, Op, Query, QueryError};

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

/// Hit counts per group from `events`: e_visitors, e_pageviews, e_events.
pub(super) fn events_side(q: &Query, p: &mut Params) -> Result<String, QueryError> {
    let names: Vec<usize> = (0..q.dims.len()).collect();
    events_side_as(q, p, &names)
}

/// [`events_side`] with dimension `i` named `d{names[i]}`.
pub(super) fn events_side_as(
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

/// The landing dimensions a query names (dimensions and filters).
fn landing_dims(q: &Query) -> Vec<Dim> {
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
fn hits_with_visits(q: &Query, open_only: bool) -> String {
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

/// [`visit_rows`] for a sub-day span, whose readers keep only the visits
/// that end at or after its start (`end >= {start}`): the live half builds
/// the visits of the visitor-days with a hit since the start only. A live
/// visit is built from its events, so one that ends at or after the start
/// has a hit there (its last); the condition drops no row the span keeps,
/// and the engine pushes it into the events' read (their key starts with
/// site, day and visitor), so the realtime screen's visit figures cost the
/// visitors of the last half hour instead of the whole day.
pub(super) fn visit_rows_since_start() -> String {
    visit_rows_in(false, true)
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
fn landing_join(dims: &[Dim], open_only: bool) -> String {
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

/// Visit counts per group from `sessions` (the newest version of each
/// visit): s_visits, s_bounces, s_duration_ms, s_pageviews, s_events,
/// s_visitors.
pub(super) fn visits_side(q: &Query, p: &mut Params) -> Result<String, QueryError> {
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
    let rows = if span.is_empty() {
        visit_rows(false)
    } else {
        visit_rows_since_start()
    };
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
pub(super) fn kept_events_side(q: &Query, p: &mut Params) -> Result<String, QueryError> {
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
pub(super) fn kept_visits_side(q: &Query, p: &mut Params) -> Result<String, QueryError> {
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
    // (live where the collectors wrote them: `visit_rows`).
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

/// Whether the visit rows alone answer `q` on the event tier, without a
/// pass over its hits: every dimension and filter is one a visit row keeps
/// (`visit_column`: source, channel, UTM campaign, country, device), and
/// the metrics count visitors, visits, page views and events (a visit's
/// hits are counted in its row: `pageviews`, `events`). A sub-day span
/// keeps visitors only (a visit's counts are not split by time). Only
/// where it pays: a landing dimension (else each hit is joined to its
/// visit), or visit counts over whole days (read anyway).
pub(super) fn visit_level(q: &Query) -> bool {
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
pub(super) fn visit_level_side(q: &Query, p: &mut Params) -> Result<String, QueryError> {
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
        if span.is_empty() {
            visit_rows(false)
        } else {
            visit_rows_since_start()
        },
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
