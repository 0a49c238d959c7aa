//! A typed [`Query`] compiled to ClickHouse SQL. Every value (the site,
//! the dates, each filter value, the pagination) is a named parameter;
//! every identifier in the text comes from a `match` over the closed enums
//! of `query/mod.rs`, so nothing a client sends is ever spliced into SQL.
//!
//! Two tiers (see the module doc of `query`): the aggregate tier through
//! the analyst views (no filter, one kept dimension), and the event tier
//! (`events` for hit counts; `sessions` and, on open days, `live_visits`
//! (built from the events) for visits) for everything else,
//! within the event retention. The parts: `columns.rs` (what each
//! dimension reads), `filter.rs` (filters as conditions), `sides/` (hit
//! and visit counts per group); here the outer query joins them.

use super::{Context, Dim, Grain, Metric, OrderKey, Query, QueryError};

mod columns;
mod filter;
mod sides;

/// A parameter's value: bound as `String`, `UInt64` or `Int64`.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Str(String),
    U64(u64),
    I64(i64),
}

/// A statement and its named parameters.
#[derive(Debug, Clone)]
pub struct Sql {
    pub text: String,
    pub params: Vec<(String, Param)>,
}

/// Where a query is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The analyst views: rolled-up days plus the open days.
    Aggregate,
    /// `events` and `sessions`, within the event retention.
    Event,
}

/// The first output columns are the dimensions (`d0`…), then one column
/// per metric (`m0`…), then `_total` (the number of rows before
/// pagination).
pub const TOTAL: &str = "_total";

struct Params {
    list: Vec<(String, Param)>,
}

impl Params {
    fn value(&mut self, v: &str) -> String {
        let name = format!("p{}", self.list.len());
        self.list.push((name.clone(), Param::Str(v.to_string())));
        format!("{{{name}:String}}")
    }
}

/// The tier that answers `q`.
pub fn tier(q: &Query) -> Tier {
    // The aggregate tier keeps whole days and hours only, and one filter
    // (`columns::kept_filter`) by day.
    let filtered = !q.filters.is_empty();
    if (filtered && columns::kept_filter(q).is_none())
        || q.range.span.is_some()
        || q.grain() == Some(Grain::Minute)
        || q.metrics.iter().any(|m| m.is_event_only())
    {
        return Tier::Event;
    }
    let plain: Vec<Dim> = q
        .dims
        .iter()
        .copied()
        .filter(|d| !matches!(d, Dim::Time(_)))
        .collect();
    let session = q.metrics.iter().any(|m| m.is_session());
    let event = q.metrics.iter().any(|m| !m.is_session());
    let ok = match (plain.as_slice(), q.grain()) {
        (_, Some(Grain::Hour)) if filtered => false,
        ([d], _) if filtered && !d.is_visit_only() && columns::filtered_dimension(*d).is_none() => {
            false
        }
        ([], Some(Grain::Hour)) => !session,
        ([], _) => true,
        ([_], Some(Grain::Hour)) => false,
        ([d], _) if d.is_visit_only() => !event,
        // Closed days count landing values per visit (`rollup_landing_daily`).
        ([d], _) if d.is_landing() => !session,
        ([Dim::Prop(_)], _) => q
            .metrics
            .iter()
            .all(|m| matches!(m, Metric::Visitors | Metric::Events | Metric::Percentage)),
        ([d], _) => columns::kept_dimension(*d).is_some() && !session,
        _ => false,
    };
    if ok {
        Tier::Aggregate
    } else {
        Tier::Event
    }
}

/// Compile `q`; `totals` (for `percentage` and `conversion_rate`) come
/// from first queries without dimensions ([`totals_query`],
/// [`goal_totals_query`]).
pub fn compile(q: &Query, ctx: &Context, totals: Totals) -> Result<Sql, QueryError> {
    let mut p = Params { list: Vec::new() };
    let tier =
        if open_day(q, ctx) || referrer_before_rollups(q, ctx) || filtered_past_retention(q, ctx) {
            Tier::Event
        } else {
            tier(q)
        };
    within_retention(q, tier, ctx)?;
    let shape = Shape::of(q);
    if shape.visits_only && q.metrics.iter().any(|m| m.is_event_only()) {
        return Err(QueryError::Unsupported(
            "scroll_depth, time_on_page and the revenue metrics are read from hits, not by entry or exit page".into(),
        ));
    }
    let from = sides(q, tier, shape, &mut p)?;
    let from = if q.metrics.contains(&Metric::GroupConversionRate) {
        with_group_totals(q, shape, from, &mut p)?
    } else {
        from
    };
    let mut sel: Vec<String> = (0..q.dims.len()).map(|i| format!("d{i}")).collect();
    for (i, m) in q.metrics.iter().enumerate() {
        sel.push(format!("{} AS m{i}", metric_expr(*m, shape)));
    }
    sel.push(format!("count() OVER () AS {TOTAL}"));
    let text = format!(
        "SELECT {} FROM {from}{} LIMIT {{limit:UInt64}} OFFSET {{offset:UInt64}}",
        sel.join(", "),
        order_clause(q)
    );
    let params = bind(q, &text, p.list, totals);
    Ok(Sql { text, params })
}

/// Today alone: no rollup holds it yet, and the analyst views compute
/// every open day's breakdowns for every site at once, so `events` and
/// `sessions` answer it directly (the same numbers, a fraction of the work
/// on a busy day).
fn open_day(q: &Query, ctx: &Context) -> bool {
    q.range.from == q.range.to && q.range.from >= ctx.today
}

/// A breakdown by referrer before the event horizon: the rollups keep
/// referrer hosts per visit only (`rollup_landing_daily`, migration 0028)
/// for the days rolled up since, so a range older than the event tier's is
/// refused rather than answered with days missing. Source, channel and UTM
/// tags keep the older days' per-hit counts (`rollup_daily`).
fn referrer_before_rollups(q: &Query, ctx: &Context) -> bool {
    q.dims.contains(&Dim::Referrer) && q.range.from < ctx.event_horizon()
}

/// A filtered query reaching past the event horizon: the filtered rollups
/// live as long as the event tier, so it is the event tier's (and refused).
fn filtered_past_retention(q: &Query, ctx: &Context) -> bool {
    !q.filters.is_empty() && q.range.from < ctx.event_horizon()
}

/// An event-tier query must lie within what the event tier keeps.
fn within_retention(q: &Query, tier: Tier, ctx: &Context) -> Result<(), QueryError> {
    if tier == Tier::Event && q.range.from < ctx.event_horizon() {
        return Err(QueryError::Unsupported(format!(
            "this query needs per-hit rows (filters, or a breakdown the daily aggregates do not keep), and tacit keeps them {} days (policy.event_ttl_days): choose a range from {} on; older days keep one breakdown at a time, without filters",
            ctx.event_ttl_days,
            crate::model::clock::format_day(ctx.event_horizon())
        )));
    }
    Ok(())
}

/// Which sides a query reads.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// A visit's entry or exit page is known only per visit: then every
    /// count is over visits.
    visits_only: bool,
    need_visits: bool,
    need_events: bool,
}

impl Shape {
    fn of(q: &Query) -> Self {
        let all_dims: Vec<Dim> = q.dims.iter().copied().chain(q.filter_dims()).collect();
        let visits_only = all_dims.iter().any(|d| d.is_visit_only());
        Self {
            visits_only,
            need_visits: visits_only || q.metrics.iter().any(|m| m.is_session()),
            need_events: !visits_only && q.metrics.iter().any(|m| !m.is_session()),
        }
    }
}

/// The `FROM` of the outer query: the hit side, the visit side, or both
/// joined on the dimensions.
fn sides(q: &Query, tier: Tier, shape: Shape, p: &mut Params) -> Result<String, QueryError> {
    // Visit-level dimensions, filters and counts: the visit rows alone
    // answer both sides (no pass over the hits, no hit-to-visit join).
    if tier == Tier::Event && shape.need_events && !shape.visits_only && sides::visit_level(q) {
        return Ok(format!("({}) AS e", sides::visit_level_side(q, p)?));
    }
    let (e, s) = match tier {
        Tier::Aggregate => (
            shape
                .need_events
                .then(|| sides::kept_events_side(q, p))
                .transpose()?,
            shape
                .need_visits
                .then(|| sides::kept_visits_side(q, p))
                .transpose()?,
        ),
        Tier::Event => (
            shape
                .need_events
                .then(|| sides::events_side(q, p))
                .transpose()?,
            shape
                .need_visits
                .then(|| sides::visits_side(q, p))
                .transpose()?,
        ),
    };
    Ok(match (e, s) {
        (Some(e), None) => format!("({e}) AS e"),
        (None, Some(s)) => format!("({s}) AS s"),
        (Some(e), Some(s)) if q.dims.is_empty() => format!("({e}) AS e CROSS JOIN ({s}) AS s"),
        (Some(e), Some(s)) => format!(
            "({e}) AS e FULL OUTER JOIN ({s}) AS s USING ({})",
            sides::dim_list(q.dims.len())
        ),
        (None, None) => return Err(QueryError::Shape),
    })
}

/// group_conversion_rate: joins the visitors of the same group (the
/// dimensions but the goal) without the goal filters, as `g_visitors`.
fn with_group_totals(
    q: &Query,
    shape: Shape,
    from: String,
    p: &mut Params,
) -> Result<String, QueryError> {
    if shape.visits_only {
        return Err(QueryError::Unsupported(
            "group_conversion_rate is not answered with entry or exit pages".into(),
        ));
    }
    let mut g = goal_totals_query(q);
    let keep: Vec<usize> = (0..q.dims.len())
        .filter(|&i| q.dims[i] != Dim::Goal)
        .collect();
    g.dims = keep.iter().map(|&i| q.dims[i]).collect();
    // Named as in the main query (renaming `d0 AS d1, d1 AS d2` in one
    // SELECT would read the new alias).
    let inner = sides::events_side_as(&g, p, &keep)?;
    let using: Vec<String> = keep.iter().map(|j| format!("d{j}")).collect();
    let cols: Vec<String> = using
        .iter()
        .cloned()
        .chain(std::iter::once("e_visitors AS g_visitors".to_string()))
        .collect();
    let side = format!("(SELECT {} FROM ({inner}))", cols.join(", "));
    Ok(if using.is_empty() {
        format!("{from} CROSS JOIN {side} AS g")
    } else {
        format!("{from} LEFT JOIN {side} AS g USING ({})", using.join(", "))
    })
}

/// A metric over the sides' columns.
fn metric_expr(m: Metric, shape: Shape) -> String {
    let count = |name: &str| {
        if shape.visits_only {
            format!("s_{name}")
        } else {
            format!("e_{name}")
        }
    };
    match m {
        Metric::Visitors => count("visitors"),
        Metric::Pageviews => count("pageviews"),
        Metric::Events => count("events"),
        Metric::Visits => "s_visits".into(),
        Metric::BounceRate => "if(s_visits = 0, 0, round(s_bounces * 100 / s_visits))".into(),
        Metric::VisitDuration => {
            "if(s_visits = 0, 0, round(s_duration_ms / s_visits / 1000))".into()
        }
        Metric::ViewsPerVisit => "if(s_visits = 0, 0, round(s_pageviews / s_visits, 2))".into(),
        Metric::Percentage => format!(
            "if({{total:UInt64}} = 0, 0, round({} * 100 / {{total:UInt64}}, 1))",
            count("visitors")
        ),
        Metric::ConversionRate => format!(
            "if({{goal_total:UInt64}} = 0, 0, round({} * 100 / {{goal_total:UInt64}}, 2))",
            count("visitors")
        ),
        Metric::GroupConversionRate => format!(
            "if(g_visitors = 0, 0, round({} * 100 / g_visitors, 2))",
            count("visitors")
        ),
        Metric::ScrollDepth => "if(empty(e_scroll_v), NULL, round(arrayAvg(e_scroll_v)))".into(),
        Metric::TimeOnPage => {
            "if(e_engaged_visitors = 0, NULL, round(e_engaged_ms / e_engaged_visitors / 1000))"
                .into()
        }
        Metric::TotalRevenue => "round(e_revenue, 2)".into(),
        Metric::AverageRevenue => {
            "if(e_revenue_n = 0, NULL, round(e_revenue / e_revenue_n, 2))".into()
        }
        Metric::Currencies => "e_currencies".into(),
        Metric::Bounces => "s_bounces".into(),
        Metric::TotalTime => "round(s_duration_ms / 1000)".into(),
    }
}

/// `ORDER BY` over the output columns (`d0`…, `m0`…).
fn order_clause(q: &Query) -> String {
    let order: Vec<String> = q
        .order_by
        .iter()
        .map(|(k, desc)| {
            let col = match k {
                OrderKey::Metric(m) => format!(
                    "m{}",
                    q.metrics.iter().position(|x| x == m).unwrap_or_default()
                ),
                OrderKey::Dim(d) => format!(
                    "d{}",
                    q.dims.iter().position(|x| x == d).unwrap_or_default()
                ),
            };
            format!("{col} {}", if *desc { "DESC" } else { "ASC" })
        })
        .collect();
    if order.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", order.join(", "))
    }
}

/// The parameters `text` names: the filter values, then the site, range,
/// pagination, totals and property keys.
fn bind(
    q: &Query,
    text: &str,
    mut params: Vec<(String, Param)>,
    totals: Totals,
) -> Vec<(String, Param)> {
    use crate::model::clock::format_day;
    params.push(("site".into(), Param::Str(q.site.clone())));
    params.push(("from".into(), Param::Str(format_day(q.range.from))));
    params.push(("to".into(), Param::Str(format_day(q.range.to))));
    if let Some(s) = q.range.span {
        if text.contains("{start:Int64}") {
            params.push(("start".into(), Param::I64(s.start)));
        }
        if text.contains("{end:Int64}") {
            params.push(("end".into(), Param::I64(s.end)));
        }
    }
    params.push(("limit".into(), Param::U64(q.limit)));
    params.push(("offset".into(), Param::U64(q.offset)));
    if text.contains("{total:UInt64}") {
        params.push(("total".into(), Param::U64(totals.visitors)));
    }
    for (i, key) in q.props.iter().enumerate() {
        if text.contains(&format!("{{pk{i}:String}}")) {
            params.push((format!("pk{i}"), Param::Str(key.clone())));
        }
    }
    if text.contains("{goal_total:UInt64}") {
        params.push(("goal_total".into(), Param::U64(totals.without_goals)));
    }
    params
}

/// What `percentage` and `conversion_rate` divide by.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    /// Visitors of the query without its dimensions.
    pub visitors: u64,
    /// The same without the `event:goal` filters.
    pub without_goals: u64,
}

/// The query whose one row holds the visitors `conversion_rate` divides
/// by: [`totals_query`] without the top-level goal filters.
pub fn goal_totals_query(q: &Query) -> Query {
    let mut t = totals_query(q);
    t.filters.retain(|f| !f.is_goal());
    t
}

/// The query whose one row holds the visitors `percentage` divides by:
/// the same range and filters, no dimension.
pub fn totals_query(q: &Query) -> Query {
    let mut t = q.clone();
    t.dims.clear();
    t.metrics = vec![Metric::Visitors];
    t.order_by.clear();
    t.limit = 1;
    t.offset = 0;
    // Visitors over visits when the filters name a visit's entry or exit
    // page, as the main query counts them.
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        Context {
            today: 20_000,
            now_ms: 20_000 * 86_400_000 + 3_600_000,
            event_ttl_days: 30,
            aggregate_ttl_months: 25,
            keeps_region: true,
            keeps_city: true,
        }
    }

    fn compiled(body: serde_json::Value) -> Result<Sql, QueryError> {
        let q = super::super::parse(body.to_string().as_bytes(), &ctx())?;
        compile(
            &q,
            &ctx(),
            Totals {
                visitors: 10,
                without_goals: 10,
            },
        )
    }

    #[test]
    fn values_are_parameters_never_text() {
        let evil = "x' OR 1=1 --";
        let s = compiled(json!({
            "site_id": "a.b", "metrics": ["visitors", "bounce_rate", "percentage"], "date_range": "7d",
            "dimensions": ["event:page"],
            "filters": [["contains", "visit:browser", [evil]], ["not", ["matches", "event:page", [evil.replace('\'', "")]]], ["is", "visit:entry_page", [evil], {"case_sensitive": false}]]
        }))
        .unwrap();
        assert!(!s.text.contains("OR 1=1"), "{}", s.text);
        assert!(s.params.iter().any(|(_, v)| *v == Param::Str(evil.into())));
        assert!(s.text.contains("{p0:String}") && s.text.contains("{total:UInt64}"));
    }

    #[test]
    fn visit_level_queries_join_no_hit_to_its_visit() {
        let sql = |metrics: serde_json::Value, dims: serde_json::Value, range: &str| {
            compiled(json!({"site_id": "a.b", "metrics": metrics, "dimensions": dims, "date_range": range}))
                .unwrap()
                .text
        };
        // Landing dimensions and visit counts: the visit rows answer.
        for (m, d, r) in [
            (
                json!(["visitors", "pageviews"]),
                json!(["visit:source"]),
                "day",
            ),
            (
                json!(["visitors", "visits", "bounce_rate"]),
                json!([]),
                "day",
            ),
            (
                json!(["visitors"]),
                json!(["visit:channel", "visit:country"]),
                "30m",
            ),
        ] {
            let s = sql(m, d.clone(), r);
            assert!(!s.contains("ASOF"), "{d} {r}: {s}");
            assert!(s.contains("visitor_id = 0"), "{d} {r}: {s}");
        }
        // Hits only where no visit is needed, and where a visit row lacks
        // the value or a span splits its counts.
        for (m, d, r) in [
            (json!(["visitors"]), json!(["visit:country"]), "day"),
            (json!(["visitors"]), json!(["visit:referrer"]), "day"),
            (
                json!(["visitors", "pageviews"]),
                json!(["visit:source"]),
                "30m",
            ),
        ] {
            let s = sql(m, d.clone(), r);
            assert!(!s.contains("visitor_id = 0"), "{d} {r}: {s}");
        }
    }

    #[test]
    fn tiers() {
        let t = |body: serde_json::Value| {
            let q = super::super::parse(body.to_string().as_bytes(), &ctx()).unwrap();
            tier(&q)
        };
        let base = json!({"site_id": "a.b", "metrics": ["visitors"], "date_range": "12mo"});
        assert_eq!(t(base.clone()), Tier::Aggregate);
        let mut b = base.clone();
        b["dimensions"] = json!(["visit:source", "time:month"]);
        assert_eq!(t(b.clone()), Tier::Aggregate);
        // One country, device, browser or OS `is` one value: the filtered
        // rollups (within the event retention); any other filter: hits.
        b["filters"] = json!([["is", "visit:country", ["DE"]]]);
        assert_eq!(t(b.clone()), Tier::Aggregate);
        for f in [
            json!([["is_not", "visit:country", ["DE"]]]),
            json!([["is", "visit:country", ["DE", "FR"]]]),
            json!([["is", "visit:country", ["DE"], {"case_sensitive": false}]]),
            json!([["is", "event:page", ["/"]]]),
            json!([["is", "visit:country", ["DE"]], ["is", "visit:os", ["iOS"]]]),
        ] {
            b["filters"] = f.clone();
            assert_eq!(t(b.clone()), Tier::Event, "{f}");
        }
        let mut f = base.clone();
        f["filters"] = json!([["is", "visit:browser", ["Firefox"]]]);
        for (dims, want) in [
            (json!(["visit:os"]), Tier::Aggregate),
            (json!(["visit:utm_source"]), Tier::Aggregate),
            (json!(["event:hostname"]), Tier::Event),
        ] {
            f["dimensions"] = dims.clone();
            assert_eq!(t(f.clone()), want, "{dims}");
        }
        let mut h = f.clone();
        h["date_range"] = json!("7d");
        h["dimensions"] = json!(["time:hour"]);
        assert_eq!(t(h), Tier::Event);
        f["dimensions"] = json!(["event:page"]);
        let e = compiled(f.clone()).unwrap_err();
        assert!(e.to_string().contains("policy.event_ttl_days"), "{e}");
        f["date_range"] = json!("7d");
        let s = compiled(f).unwrap();
        assert!(s.text.contains("rollup_filtered_daily"), "{}", s.text);
        // A landing dimension alone: its closed days are rolled up per visit.
        let mut b = base.clone();
        b["dimensions"] = json!(["visit:referrer"]);
        assert_eq!(t(b.clone()), Tier::Aggregate);
        b["metrics"] = json!(["visitors", "visits"]);
        assert_eq!(t(b), Tier::Event);
        let mut b = base;
        b["metrics"] = json!(["visits", "bounce_rate"]);
        b["dimensions"] = json!(["visit:entry_page"]);
        assert_eq!(t(b), Tier::Aggregate);
        // An event-tier query reaching past the retention is refused.
        let e = compiled(json!({"site_id": "a.b", "metrics": ["visitors"], "date_range": "12mo", "dimensions": ["visit:referrer"]})).unwrap_err();
        assert!(e.to_string().contains("policy.event_ttl_days"), "{e}");
    }
}
