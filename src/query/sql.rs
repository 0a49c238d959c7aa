//! A typed [`Query`] compiled to ClickHouse SQL. Every value (the site,
//! the dates, each filter value, the pagination) is a named parameter;
//! every identifier in the text comes from a `match` over the closed enums
//! of `query/mod.rs`, so nothing a client sends is ever spliced into SQL.
//!
//! Two tiers (see the module doc of `query`): the aggregate tier through
//! the analyst views (no filter, one kept dimension), and the event tier
//! (`events` for hit counts, `sessions` for visits) for everything else,
//! within the event retention.

use super::{Context, Dim, Filter, Grain, Metric, Op, OrderKey, Query, QueryError};

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

/// The analyst view that keeps a dimension per day (its value column and
/// the condition that picks the dimension): the view of one question, so
/// the open days compute that dimension only.
fn kept_dimension(d: Dim) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match d {
        Dim::Page => ("analytics_pages_daily", "pathname", ""),
        Dim::Hostname => ("analytics_hostnames_daily", "hostname", ""),
        Dim::Name => ("analytics_breakdown_daily", "value", "dimension = 'event'"),
        Dim::Source => ("analytics_sources_daily", "source", ""),
        Dim::Channel => ("analytics_channels_daily", "channel", ""),
        Dim::UtmSource => (
            "analytics_campaigns_daily",
            "value",
            "utm_field = 'utm_source'",
        ),
        Dim::UtmMedium => (
            "analytics_campaigns_daily",
            "value",
            "utm_field = 'utm_medium'",
        ),
        Dim::UtmCampaign => (
            "analytics_campaigns_daily",
            "value",
            "utm_field = 'utm_campaign'",
        ),
        Dim::UtmContent => (
            "analytics_campaigns_daily",
            "value",
            "utm_field = 'utm_content'",
        ),
        Dim::UtmTerm => (
            "analytics_campaigns_daily",
            "value",
            "utm_field = 'utm_term'",
        ),
        Dim::Device => ("analytics_technology_daily", "value", "kind = 'device'"),
        Dim::Browser => ("analytics_technology_daily", "value", "kind = 'browser'"),
        Dim::Os => ("analytics_technology_daily", "value", "kind = 'os'"),
        Dim::Screen => ("analytics_technology_daily", "value", "kind = 'screen'"),
        Dim::Country => ("analytics_locations_daily", "value", "level = 'country'"),
        Dim::Region => ("analytics_locations_daily", "value", "level = 'region'"),
        _ => return None,
    })
}

/// The tier that answers `q`.
pub fn tier(q: &Query) -> Tier {
    if !q.filters.is_empty() {
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
        ([], Some(Grain::Hour)) => !session,
        ([], _) => true,
        ([_], Some(Grain::Hour)) => false,
        ([d], _) if d.is_visit_only() => !event,
        ([Dim::Prop(_)], _) => q
            .metrics
            .iter()
            .all(|m| matches!(m, Metric::Visitors | Metric::Events | Metric::Percentage)),
        ([d], _) => kept_dimension(*d).is_some() && !session,
        _ => false,
    };
    if ok {
        Tier::Aggregate
    } else {
        Tier::Event
    }
}

fn time_expr(g: Grain, date: &str, at: &str) -> String {
    match g {
        Grain::Hour => format!("formatDateTime(toStartOfHour({at}), '%Y-%m-%d %H:00:00')"),
        Grain::Day => format!("toString({date})"),
        Grain::Week => format!("toString(greatest(toMonday({date}), {{from:Date}}))"),
        Grain::Month => format!("toString(greatest(toStartOfMonth({date}), {{from:Date}}))"),
    }
}

/// A dimension's column in `events` (a custom property's value: empty
/// where the event does not carry it).
fn event_column(d: Dim) -> Option<String> {
    if let Dim::Prop(i) = d {
        return Some(format!("prop_values[indexOf(prop_keys, {{pk{i}:String}})]"));
    }
    Some(
        match d {
            Dim::Page => "pathname",
            Dim::Hostname => "toString(hostname)",
            Dim::Name => "toString(name)",
            Dim::Goal => "if(name = 'pageview', concat('Visit ', pathname), toString(name))",
            Dim::Source => "toString(referrer_source)",
            Dim::Referrer => "toString(referrer_host)",
            Dim::Channel => "toString(channel)",
            Dim::UtmSource => "utm_source",
            Dim::UtmMedium => "toString(utm_medium)",
            Dim::UtmCampaign => "utm_campaign",
            Dim::UtmContent => "utm_content",
            Dim::UtmTerm => "utm_term",
            Dim::Device => "toString(device)",
            Dim::Browser => "toString(browser)",
            Dim::BrowserVersion => "toString(browser_version)",
            Dim::Os => "toString(os)",
            Dim::OsVersion => "toString(os_version)",
            Dim::Country => "toString(country)",
            Dim::Region => "toString(region)",
            Dim::City => "toString(city)",
            Dim::Screen => "toString(screen)",
            Dim::EntryPage | Dim::ExitPage | Dim::Time(_) | Dim::Prop(_) => return None,
        }
        .to_string(),
    )
}

/// A dimension's column among a visit's own (`sessions`).
fn visit_column(d: Dim) -> Option<&'static str> {
    Some(match d {
        Dim::EntryPage => "entry_page",
        Dim::ExitPage => "exit_page",
        Dim::Source => "toString(referrer_source)",
        Dim::Channel => "toString(channel)",
        Dim::UtmCampaign => "utm_campaign",
        Dim::Country => "toString(country)",
        Dim::Device => "toString(device)",
        _ => return None,
    })
}

/// Attributes of the visitor-day (the same on every hit of a daily
/// visitor id: they come from its user agent and address), joined to
/// visits from `events`.
fn visitor_column(d: Dim) -> Option<(&'static str, &'static str)> {
    Some(match d {
        Dim::Browser => ("a_browser", "toString(browser)"),
        Dim::BrowserVersion => ("a_browser_version", "toString(browser_version)"),
        Dim::Os => ("a_os", "toString(os)"),
        Dim::OsVersion => ("a_os_version", "toString(os_version)"),
        Dim::Region => ("a_region", "toString(region)"),
        Dim::City => ("a_city", "toString(city)"),
        Dim::Screen => ("a_screen", "toString(screen)"),
        _ => return None,
    })
}

/// One condition on an expression, before negation.
fn condition(op: Op, values: &[String], cs: bool, expr: &str, p: &mut Params) -> String {
    let parts: Vec<String> = values
        .iter()
        .map(|v| {
            // RE2's flag, in the value: the engine wants a constant pattern.
            let v = if op == Op::Matches && !cs {
                p.value(&format!("(?i){v}"))
            } else {
                p.value(v)
            };
            match (op, cs) {
                (Op::Is, true) => format!("{expr} = {v}"),
                (Op::Is, false) => format!("lowerUTF8({expr}) = lowerUTF8({v})"),
                (Op::Contains, true) => format!("position({expr}, {v}) > 0"),
                (Op::Contains, false) => format!("positionCaseInsensitiveUTF8({expr}, {v}) > 0"),
                (_, _) => format!("match({expr}, {v})"),
            }
        })
        .collect();
    format!("({})", parts.join(" OR "))
}

/// Which rows a filter reads.
#[derive(Clone, Copy, PartialEq)]
enum Rows {
    Events,
    Visits,
}

const EVENTS_IN_RANGE: &str =
    "site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date}";

fn filter_sql(f: &Filter, rows: Rows, p: &mut Params) -> Result<String, QueryError> {
    Ok(match f {
        Filter::And(v) | Filter::Or(v) => {
            let glue = if matches!(f, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            let parts = v
                .iter()
                .map(|x| filter_sql(x, rows, p))
                .collect::<Result<Vec<_>, _>>()?;
            format!("({})", parts.join(glue))
        }
        Filter::Not(x) => format!("NOT {}", filter_sql(x, rows, p)?),
        Filter::Cond {
            op,
            dim,
            values,
            case_sensitive,
        } => {
            let (op, negate) = op.positive();
            let c = |expr: &str, p: &mut Params| condition(op, values, *case_sensitive, expr, p);
            let positive = match rows {
                Rows::Events => {
                    let col = event_column(*dim).ok_or_else(|| {
                        QueryError::Unsupported(format!("{} cannot filter hits", dim.name()))
                    })?;
                    c(&col, p)
                }
                Rows::Visits => match (*dim, visit_column(*dim)) {
                    (_, Some(col)) => c(col, p),
                    (Dim::Page, None) => format!("arrayExists(x -> {}, pages)", c("x", p)),
                    (Dim::Goal, None) => format!(
                        "arrayExists(x -> {}, arrayConcat(arrayMap(x -> concat('Visit ', x), pages), \
                         arrayFilter(x -> x != 'pageview', arrayMap(x -> toString(x), event_names))))",
                        c("x", p)
                    ),
                    (Dim::Name, None) => {
                        format!("arrayExists(x -> {}, event_names)", c("toString(x)", p))
                    }
                    (d, None) => {
                        // A visit matches when its visitor had such a hit
                        // that day (visitor ids are daily).
                        let col = event_column(d).ok_or_else(|| {
                            QueryError::Unsupported(format!("{} cannot filter visits", d.name()))
                        })?;
                        format!(
                            "(day, visitor_id) IN (SELECT toDate(ts), visitor_id FROM events WHERE {EVENTS_IN_RANGE} AND {})",
                            c(&col, p)
                        )
                    }
                },
            };
            if negate {
                format!("NOT {positive}")
            } else {
                positive
            }
        }
    })
}

fn where_filters(q: &Query, rows: Rows, p: &mut Params) -> Result<String, QueryError> {
    let mut out = String::new();
    for f in &q.filters {
        out.push_str(" AND ");
        out.push_str(&filter_sql(f, rows, p)?);
    }
    Ok(out)
}

fn dim_list(n: usize) -> String {
    (0..n)
        .map(|i| format!("d{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn group_by(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" GROUP BY {}", dim_list(n))
    }
}

/// Hit counts per group from `events`: e_visitors, e_pageviews, e_events.
fn events_side(q: &Query, p: &mut Params) -> Result<String, QueryError> {
    let names: Vec<usize> = (0..q.dims.len()).collect();
    events_side_as(q, p, &names)
}

/// [`events_side`] with dimension `i` named `d{names[i]}`.
fn events_side_as(q: &Query, p: &mut Params, names: &[usize]) -> Result<String, QueryError> {
    let mut sel = Vec::new();
    for (&i, d) in names.iter().zip(&q.dims) {
        let e = match d {
            Dim::Time(g) => time_expr(*g, "toDate(ts)", "ts"),
            d => event_column(*d).ok_or_else(|| {
                QueryError::Unsupported(format!("{} is not a dimension of hits", d.name()))
            })?,
        };
        sel.push(format!("{e} AS d{i}"));
    }
    sel.push("uniqExactIf((toDate(ts), visitor_id), visitor_id != 0) AS e_visitors".into());
    sel.push("countIf(name = 'pageview') AS e_pageviews".into());
    sel.push("count() AS e_events".into());
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
        "SELECT {} FROM events WHERE {EVENTS_IN_RANGE}{filters}{group}",
        sel.join(", ")
    ))
}

/// Visit counts per group from `sessions` (the newest version of each
/// visit): s_visits, s_bounces, s_duration_ms, s_pageviews, s_events,
/// s_visitors.
fn visits_side(q: &Query, p: &mut Params) -> Result<String, QueryError> {
    let mut sel = Vec::new();
    let mut joins: Vec<(&str, &str)> = Vec::new();
    let mut pages = false;
    for (i, d) in q.dims.iter().enumerate() {
        let e = match (*d, visit_column(*d), visitor_column(*d)) {
            (Dim::Time(g), _, _) => time_expr(g, "day", "start"),
            (_, Some(c), _) => c.to_string(),
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
                    "visit metrics by {}: tacit's visits keep their pages, entry and exit page, source, channel, utm_campaign, country and device, and the visitor's browser, OS, region and screen",
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
    sel.push("uniqExact((day, visitor_id)) AS s_visitors".into());
    let mut from = String::from(
        "(SELECT day, visitor_id, start, end, pageviews, events, entry_page, exit_page, referrer_source, \
         channel, utm_campaign, country, device, event_names, pages FROM sessions FINAL \
         WHERE site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}) AS v",
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

/// The aggregate tier's hit counts (one kept dimension, or none).
fn kept_events_side(q: &Query) -> String {
    let mut sel = Vec::new();
    let mut kept = None;
    let mut prop = None;
    let hourly = q.grain() == Some(Grain::Hour);
    for (i, d) in q.dims.iter().enumerate() {
        let e = match d {
            Dim::Time(g) => time_expr(*g, if hourly { "toDate(hour)" } else { "day" }, "hour"),
            Dim::Prop(k) => {
                prop = Some(*k);
                "value".to_string()
            }
            d => {
                kept = kept_dimension(*d);
                kept.map_or("''", |k| k.1).to_string()
            }
        };
        sel.push(format!("{e} AS d{i}"));
    }
    sel.push("sum(visitors) AS e_visitors".into());
    // The properties' view counts no page views (the tier rule keeps
    // `pageviews` off this path).
    sel.push(if prop.is_some() {
        "toUInt64(0) AS e_pageviews".into()
    } else {
        "sum(pageviews) AS e_pageviews".into()
    });
    sel.push("sum(events) AS e_events".into());
    let days = "site = {site:String} AND day BETWEEN {from:Date} AND {to:Date}";
    let source = match (kept, hourly) {
        _ if prop.is_some() => format!(
            "analytics_properties_daily WHERE {days} AND property = {{pk{}:String}}",
            prop.unwrap_or_default()
        ),
        (_, true) => "analytics_overview_hourly WHERE site = {site:String} AND toDate(hour) BETWEEN {from:Date} AND {to:Date}".to_string(),
        (None, false) => format!("analytics_totals_daily WHERE {days}"),
        (Some((view, _, "")), false) => format!("{view} WHERE {days}"),
        (Some((view, _, which)), false) => format!("{view} WHERE {days} AND {which}"),
    };
    format!(
        "SELECT {} FROM {source}{}",
        sel.join(", "),
        group_by(q.dims.len())
    )
}

/// The aggregate tier's visit counts (overall, by entry or by exit page).
fn kept_visits_side(q: &Query) -> String {
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
    format!(
        "SELECT {} FROM analytics_visits_daily WHERE site = {{site:String}} AND day BETWEEN {{from:Date}} AND {{to:Date}} AND kind = '{kind}'{}",
        sel.join(", "),
        group_by(q.dims.len())
    )
}

/// Compile `q`; `total_visitors` (for `percentage`) comes from a first
/// query without dimensions ([`totals_query`]).
pub fn compile(q: &Query, ctx: &Context, totals: Totals) -> Result<Sql, QueryError> {
    let mut p = Params { list: Vec::new() };
    let tier = tier(q);
    if tier == Tier::Event && q.range.from < ctx.event_horizon() {
        return Err(QueryError::Unsupported(format!(
            "this query needs per-hit rows (filters, or a breakdown the daily aggregates do not keep), and tacit keeps them {} days (policy.event_ttl_days): choose a range from {} on; older days keep one breakdown at a time, without filters",
            ctx.event_ttl_days,
            crate::model::clock::format_day(ctx.event_horizon())
        )));
    }
    let all_dims: Vec<Dim> = q.dims.iter().copied().chain(q.filter_dims()).collect();
    // A visit's entry or exit page is known only per visit: then every
    // count is over visits.
    let visits_only = all_dims.iter().any(|d| d.is_visit_only());
    let need_visits = visits_only || q.metrics.iter().any(|m| m.is_session());
    let need_events = !visits_only && q.metrics.iter().any(|m| !m.is_session());
    let (e, s) = match tier {
        Tier::Aggregate => (
            need_events.then(|| kept_events_side(q)),
            need_visits.then(|| kept_visits_side(q)),
        ),
        Tier::Event => (
            need_events.then(|| events_side(q, &mut p)).transpose()?,
            need_visits.then(|| visits_side(q, &mut p)).transpose()?,
        ),
    };
    let from = match (e, s) {
        (Some(e), None) => format!("({e}) AS e"),
        (None, Some(s)) => format!("({s}) AS s"),
        (Some(e), Some(s)) if q.dims.is_empty() => format!("({e}) AS e CROSS JOIN ({s}) AS s"),
        (Some(e), Some(s)) => format!(
            "({e}) AS e FULL OUTER JOIN ({s}) AS s USING ({})",
            dim_list(q.dims.len())
        ),
        (None, None) => return Err(QueryError::Shape),
    };
    // group_conversion_rate: the visitors of the same group (the
    // dimensions but the goal) without the goal filters.
    let from = if q.metrics.contains(&Metric::GroupConversionRate) {
        if visits_only {
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
        let inner = events_side_as(&g, &mut p, &keep)?;
        let cols: Vec<String> = keep
            .iter()
            .map(|j| format!("d{j}"))
            .chain(std::iter::once("e_visitors AS g_visitors".to_string()))
            .collect();
        let using: Vec<String> = keep.iter().map(|j| format!("d{j}")).collect();
        let side = format!("(SELECT {} FROM ({inner}))", cols.join(", "));
        if using.is_empty() {
            format!("{from} CROSS JOIN {side} AS g")
        } else {
            format!("{from} LEFT JOIN {side} AS g USING ({})", using.join(", "))
        }
    } else {
        from
    };
    let count = |name: &str| {
        if visits_only {
            format!("s_{name}")
        } else {
            format!("e_{name}")
        }
    };
    let mut sel: Vec<String> = (0..q.dims.len()).map(|i| format!("d{i}")).collect();
    for (i, m) in q.metrics.iter().enumerate() {
        let e = match m {
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
        };
        sel.push(format!("{e} AS m{i}"));
    }
    sel.push(format!("count() OVER () AS {TOTAL}"));
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
    let order = if order.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", order.join(", "))
    };
    let text = format!(
        "SELECT {} FROM {from}{order} LIMIT {{limit:UInt64}} OFFSET {{offset:UInt64}}",
        sel.join(", ")
    );
    let mut params = p.list;
    params.push(("site".into(), Param::Str(q.site.clone())));
    params.push((
        "from".into(),
        Param::Str(crate::model::clock::format_day(q.range.from)),
    ));
    params.push((
        "to".into(),
        Param::Str(crate::model::clock::format_day(q.range.to)),
    ));
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
    Ok(Sql { text, params })
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
        b["filters"] = json!([["is", "visit:country", ["DE"]]]);
        assert_eq!(t(b), Tier::Event);
        let mut b = base.clone();
        b["dimensions"] = json!(["visit:referrer"]);
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
