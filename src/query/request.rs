//! Parsing and validation of a Stats API v2 body into a typed [`Query`].
//! Every refusal names the field (`metrics[2]`, `filters[0][1]`,
//! `pagination.limit`); what tacit cannot answer says why.

use serde_json::{json, Map, Value};

use super::{invalid, Context, Dim, Filter, Grain, Metric, Op, OrderKey, QueryError, Range};
use crate::model::clock::{date_of_day, day_of_date, format_day};

/// The most rows one answer holds (Plausible's limit).
pub const MAX_LIMIT: u64 = 10_000;
/// The longest `matches` pattern, in bytes.
pub const MAX_PATTERN: usize = 256;
/// The most values one condition lists, and filters one query holds.
const MAX_VALUES: usize = 100;
const MAX_FILTERS: usize = 30;

/// A validated query.
#[derive(Debug, Clone)]
pub struct Query {
    /// The site's domain (`site_id`).
    pub site: String,
    pub metrics: Vec<Metric>,
    pub range: Range,
    pub dims: Vec<Dim>,
    /// Combined with `and`.
    pub filters: Vec<Filter>,
    /// (key, descending); never empty after parsing.
    pub order_by: Vec<(OrderKey, bool)>,
    pub total_rows: bool,
    pub time_labels: bool,
    pub limit: u64,
    pub offset: u64,
    /// The custom property keys the query names (`event:props:<key>`),
    /// indexed by `Dim::Prop`.
    pub props: Vec<String>,
    /// The range to compare with (`include.comparisons`), if any.
    pub compare: Option<Range>,
    /// The query as understood, for the answer's `query`.
    pub echo: Value,
}

impl Query {
    /// A dimension's name as the client wrote it.
    pub fn dim_name(&self, d: Dim) -> String {
        dim_name(d, &self.props)
    }

    /// The time dimension's grain, if the query has one.
    pub fn grain(&self) -> Option<Grain> {
        self.dims.iter().find_map(|d| match d {
            Dim::Time(g) => Some(*g),
            _ => None,
        })
    }

    /// Every dimension the filters name.
    pub fn filter_dims(&self) -> Vec<Dim> {
        let mut v = Vec::new();
        self.filters.iter().for_each(|f| f.dims(&mut v));
        v
    }
}

fn dim_name(d: Dim, props: &[String]) -> String {
    match d {
        Dim::Prop(i) => format!("event:props:{}", props[i as usize]),
        d => d.name().to_string(),
    }
}

const TOP_KEYS: &[&str] = &[
    "site_id",
    "metrics",
    "date_range",
    "dimensions",
    "filters",
    "order_by",
    "include",
    "pagination",
];

/// Parse a request body.
pub fn parse(body: &[u8], ctx: &Context) -> Result<Query, QueryError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| invalid("body", format!("not valid JSON ({e})")))?;
    let Value::Object(o) = v else {
        return Err(invalid("body", "must be a JSON object"));
    };
    if let Some(k) = o.keys().find(|k| !TOP_KEYS.contains(&k.as_str())) {
        return Err(invalid(k.clone(), "unknown field"));
    }
    let site = match o.get("site_id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_ascii_lowercase(),
        _ => return Err(invalid("site_id", "required: the site's domain")),
    };
    let metrics = metrics(o.get("metrics"))?;
    let range = date_range(o.get("date_range"), ctx)?;
    let mut props = Vec::new();
    let dims = dimensions(o.get("dimensions"), range, ctx, &mut props)?;
    let filters = match o.get("filters") {
        None => vec![],
        Some(Value::Array(a)) => {
            if a.len() > MAX_FILTERS {
                return Err(invalid("filters", format!("at most {MAX_FILTERS} filters")));
            }
            a.iter()
                .enumerate()
                .map(|(i, f)| filter(f, &format!("filters[{i}]"), ctx, 0, &mut props))
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(_) => return Err(invalid("filters", "must be a list")),
    };
    session_rule(&metrics, &dims)?;
    goal_rule(&metrics, &dims, &filters)?;
    let order_by = order_by(o.get("order_by"), &metrics, &dims, &props)?;
    let (total_rows, time_labels) = include(o.get("include"))?;
    let compare = match o.get("include").and_then(|i| i.get("comparisons")) {
        None | Some(Value::Null) => None,
        Some(c) => Some(comparison(c, range, o.get("date_range"), ctx)?),
    };
    if time_labels && !dims.iter().any(|d| matches!(d, Dim::Time(_))) {
        return Err(invalid("include.time_labels", "requires a time dimension"));
    }
    let (limit, offset) = pagination(o.get("pagination"))?;
    let iso = |d: i32, end: bool| {
        format!(
            "{}T{}+00:00",
            format_day(d),
            if end { "23:59:59" } else { "00:00:00" }
        )
    };
    let echo = json!({
        "site_id": site,
        "metrics": metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
        "date_range": [iso(range.from, false), iso(range.to, true)],
        "filters": o.get("filters").cloned().unwrap_or(json!([])),
        "dimensions": dims.iter().map(|d| dim_name(*d, &props)).collect::<Vec<_>>(),
        "order_by": order_by.iter().map(|(k, desc)| json!([
            match k { OrderKey::Metric(m) => m.name().to_string(), OrderKey::Dim(d) => dim_name(*d, &props) },
            if *desc { "desc" } else { "asc" },
        ])).collect::<Vec<_>>(),
        "include": {
            "total_rows": total_rows, "time_labels": time_labels, "imports": false,
            "comparisons": compare.map(|c| json!({"date_range": [iso(c.from, false), iso(c.to, true)]})),
        },
        "pagination": { "limit": limit, "offset": offset },
    });
    Ok(Query {
        site,
        metrics,
        range,
        dims,
        filters,
        order_by,
        total_rows,
        time_labels,
        limit,
        offset,
        props,
        compare,
        echo,
    })
}

fn metrics(v: Option<&Value>) -> Result<Vec<Metric>, QueryError> {
    let Some(Value::Array(a)) = v else {
        return Err(invalid("metrics", "required: a list of metric names"));
    };
    if a.is_empty() {
        return Err(invalid("metrics", "at least one metric"));
    }
    let mut out = Vec::new();
    for (i, m) in a.iter().enumerate() {
        let field = format!("metrics[{i}]");
        let Value::String(name) = m else {
            return Err(invalid(field, "must be a string"));
        };
        let metric = match Metric::ALL.iter().find(|(n, _)| n == name) {
            Some((_, m)) => *m,
            None => {
                return Err(match name.as_str() {
                    "conversion_rate"
                    | "group_conversion_rate"
                    | "total_revenue"
                    | "average_revenue"
                    | "scroll_depth"
                    | "time_on_page" => QueryError::Unsupported(format!(
                        "{field}: {name:?} is not answered by tacit's query API yet"
                    )),
                    _ => invalid(field, format!("unknown metric {name:?}")),
                })
            }
        };
        if out.contains(&metric) {
            return Err(invalid(field, format!("{name:?} is listed twice")));
        }
        out.push(metric);
    }
    Ok(out)
}

fn date(s: &str, field: &str) -> Result<i32, QueryError> {
    if s.len() != 10 {
        return Err(invalid(
            field,
            format!("expected a date YYYY-MM-DD, got {s:?} (tacit counts whole UTC days)"),
        ));
    }
    s.parse::<jiff::civil::Date>()
        .map(day_of_date)
        .map_err(|_| invalid(field, format!("not a date: {s:?}")))
}

/// The first day of the month `back` months before the month of `day`.
pub(crate) fn month_start(day: i32, back: i32) -> i32 {
    let d = date_of_day(day);
    let months = d.year() as i32 * 12 + d.month() as i32 - 1 - back;
    let (y, m) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    day_of_date(jiff::civil::date(y as i16, m as i8, 1))
}

fn date_range(v: Option<&Value>, ctx: &Context) -> Result<Range, QueryError> {
    let today = ctx.today;
    let last_days = |n: i32| Range {
        from: today - n,
        to: today - 1,
    };
    let r = match v {
        None => return Err(invalid("date_range", "required")),
        Some(Value::String(s)) => match s.as_str() {
            "day" => Range {
                from: today,
                to: today,
            },
            "7d" => last_days(7),
            "28d" => last_days(28),
            "30d" => last_days(30),
            "91d" => last_days(91),
            "month" => Range {
                from: month_start(today, 0),
                to: month_start(today, -1) - 1,
            },
            "6mo" => Range {
                from: month_start(today, 5),
                to: month_start(today, -1) - 1,
            },
            "12mo" => Range {
                from: month_start(today, 11),
                to: month_start(today, -1) - 1,
            },
            "year" => {
                let y = date_of_day(today).year();
                Range {
                    from: day_of_date(jiff::civil::date(y, 1, 1)),
                    to: day_of_date(jiff::civil::date(y, 12, 31)),
                }
            }
            "all" => Range {
                from: ctx.history_start(),
                to: today,
            },
            "24h" | "realtime" => {
                return Err(QueryError::Unsupported(format!(
                    "date_range: {s:?} is not answered yet; tacit counts whole UTC days (use \"day\")"
                )))
            }
            _ => {
                return Err(invalid(
                    "date_range",
                    format!("unknown range {s:?}: day, 7d, 28d, 30d, 91d, month, 6mo, 12mo, year, all, or [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]"),
                ))
            }
        },
        Some(Value::Array(a)) if a.len() == 2 => {
            let (Value::String(x), Value::String(y)) = (&a[0], &a[1]) else {
                return Err(invalid("date_range", "two dates as strings"));
            };
            let r = Range {
                from: date(x, "date_range[0]")?,
                to: date(y, "date_range[1]")?,
            };
            if r.to < r.from {
                return Err(invalid("date_range", "the end is before the start"));
            }
            r
        }
        Some(_) => {
            return Err(invalid(
                "date_range",
                "a range name or a list of two dates",
            ))
        }
    };
    // The aggregate tier keeps at most 240 months (`all` reaches back that far).
    if r.days() > 240 * 31 + 1 {
        return Err(invalid("date_range", "at most twenty years"));
    }
    Ok(r)
}

fn dim(name: &str, field: &str, ctx: &Context, props: &mut Vec<String>) -> Result<Dim, QueryError> {
    if let Some(key) = name.strip_prefix("event:props:") {
        if key.is_empty() || key.len() > 300 {
            return Err(invalid(field, "event:props:<key>, a key of 1 to 300 bytes"));
        }
        let i = match props.iter().position(|k| k == key) {
            Some(i) => i,
            None if props.len() < 8 => {
                props.push(key.to_string());
                props.len() - 1
            }
            None => return Err(invalid(field, "at most 8 custom properties per query")),
        };
        return Ok(Dim::Prop(i as u8));
    }
    if let Some((_, d)) = Dim::NAMED.iter().find(|(n, _)| *n == name) {
        return match d {
            Dim::Region if !ctx.keeps_region => Err(QueryError::Unsupported(format!(
                "{field}: tacit does not store regions under this server's policy (policy.location)"
            ))),
            Dim::City if !ctx.keeps_city => Err(QueryError::Unsupported(format!(
                "{field}: tacit does not store cities under this server's policy (policy.location)"
            ))),
            d => Ok(*d),
        };
    }
    let reason = match name {
        n if n.contains("visitor_id") || n.contains("user_id") || n == "visit:ip" => {
            "tacit answers no question per visitor: visitor ids are daily pseudonyms that never leave the event tier"
        }
        "visit:referrer_url" | "visit:referrer_path" => {
            "tacit stores only the referrer's host (visit:referrer), never its URL"
        }
        "visit:country_name" | "visit:region_name" | "visit:city_name" => {
            "names are not answered yet: use the ISO codes (visit:country, visit:region)"
        }
        n if n.starts_with("time") => {
            return Err(invalid(field, format!("unknown time dimension {n:?}: time, time:hour, time:day, time:week, time:month")))
        }
        _ => return Err(invalid(field, format!("unknown dimension {name:?}"))),
    };
    Err(QueryError::Unsupported(format!(
        "{field}: {name}: {reason}"
    )))
}

fn dimensions(
    v: Option<&Value>,
    range: Range,
    ctx: &Context,
    props: &mut Vec<String>,
) -> Result<Vec<Dim>, QueryError> {
    let a = match v {
        None => return Ok(vec![]),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(invalid("dimensions", "must be a list")),
    };
    let mut out = Vec::new();
    for (i, d) in a.iter().enumerate() {
        let field = format!("dimensions[{i}]");
        let Value::String(name) = d else {
            return Err(invalid(field, "must be a string"));
        };
        let d = match name.as_str() {
            "time" => Dim::Time(match range.days() {
                1 => Grain::Hour,
                2..=40 => Grain::Day,
                _ => Grain::Month,
            }),
            "time:hour" => Dim::Time(Grain::Hour),
            "time:day" => Dim::Time(Grain::Day),
            "time:week" => Dim::Time(Grain::Week),
            "time:month" => Dim::Time(Grain::Month),
            n => dim(n, &field, ctx, props)?,
        };
        if out.contains(&d)
            || (matches!(d, Dim::Time(_)) && out.iter().any(|x| matches!(x, Dim::Time(_))))
        {
            return Err(invalid(field, format!("{name:?} is listed twice")));
        }
        if d == Dim::Time(Grain::Hour) && range.days() > 92 {
            return Err(invalid(field, "time:hour spans at most 92 days"));
        }
        out.push(d);
    }
    Ok(out)
}

fn filter(
    v: &Value,
    field: &str,
    ctx: &Context,
    depth: usize,
    props: &mut Vec<String>,
) -> Result<Filter, QueryError> {
    if depth > 8 {
        return Err(invalid(field, "filters nest at most 8 deep"));
    }
    let Value::Array(a) = v else {
        return Err(invalid(
            field,
            "a filter is a list: [operator, dimension, [values]]",
        ));
    };
    let Some(Value::String(op)) = a.first() else {
        return Err(invalid(format!("{field}[0]"), "an operator name"));
    };
    let list = |i: usize| -> Result<&Vec<Value>, QueryError> {
        match a.get(i) {
            Some(Value::Array(l)) if !l.is_empty() => Ok(l),
            _ => Err(invalid(format!("{field}[{i}]"), "a non-empty list")),
        }
    };
    match op.as_str() {
        "and" | "or" => {
            if a.len() != 2 {
                return Err(invalid(field, format!("[\"{op}\", [filters]]")));
            }
            let parts = list(1)?
                .iter()
                .enumerate()
                .map(|(i, f)| filter(f, &format!("{field}[1][{i}]"), ctx, depth + 1, props))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if op == "and" {
                Filter::And(parts)
            } else {
                Filter::Or(parts)
            })
        }
        "not" => {
            if a.len() != 2 {
                return Err(invalid(field, "[\"not\", filter]"));
            }
            Ok(Filter::Not(Box::new(filter(
                &a[1],
                &format!("{field}[1]"),
                ctx,
                depth + 1,
                props,
            )?)))
        }
        "has_done" | "has_not_done" => Err(QueryError::Unsupported(format!(
            "{field}[0]: {op:?} is not answered by the query API yet"
        ))),
        name => {
            let Some((_, op)) = Op::ALL.iter().find(|(n, _)| *n == name) else {
                return Err(invalid(
                    format!("{field}[0]"),
                    format!("unknown operator {name:?}"),
                ));
            };
            if !(3..=4).contains(&a.len()) {
                return Err(invalid(
                    field,
                    "[operator, dimension, [values], {modifiers}]",
                ));
            }
            let Value::String(dname) = &a[1] else {
                return Err(invalid(format!("{field}[1]"), "a dimension name"));
            };
            let d = if dname.starts_with("time") {
                return Err(invalid(
                    format!("{field}[1]"),
                    "time is filtered with date_range",
                ));
            } else {
                dim(dname, &format!("{field}[1]"), ctx, props)?
            };
            let raw = list(2)?;
            if raw.len() > MAX_VALUES {
                return Err(invalid(
                    format!("{field}[2]"),
                    format!("at most {MAX_VALUES} values"),
                ));
            }
            let mut values = Vec::new();
            for (i, x) in raw.iter().enumerate() {
                let s = match x {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => {
                        return Err(invalid(format!("{field}[2][{i}]"), "a string"));
                    }
                };
                if op.positive().0 == Op::Matches {
                    if s.len() > MAX_PATTERN {
                        return Err(invalid(
                            format!("{field}[2][{i}]"),
                            format!("a pattern is at most {MAX_PATTERN} bytes"),
                        ));
                    }
                    // RE2 syntax (the engine's): Rust's regex accepts the
                    // same language (no look-around, no back-references).
                    if regex::RegexBuilder::new(&s)
                        .size_limit(1 << 20)
                        .build()
                        .is_err()
                    {
                        return Err(invalid(
                            format!("{field}[2][{i}]"),
                            "not a valid RE2 regular expression",
                        ));
                    }
                }
                values.push(s);
            }
            let mut case_sensitive = true;
            if let Some(m) = a.get(3) {
                let Value::Object(m) = m else {
                    return Err(invalid(format!("{field}[3]"), "an object of modifiers"));
                };
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("case_sensitive", Value::Bool(b)) => case_sensitive = *b,
                        _ => {
                            return Err(invalid(
                                format!("{field}[3].{k}"),
                                "unknown modifier (case_sensitive: true|false)",
                            ))
                        }
                    }
                }
            }
            Ok(Filter::Cond {
                op: *op,
                dim: d,
                values,
                case_sensitive,
            })
        }
    }
}

/// Plausible's rule: metrics counted over visits do not mix with event
/// dimensions, except pages (visits that viewed the page).
fn session_rule(metrics: &[Metric], dims: &[Dim]) -> Result<(), QueryError> {
    let session: Vec<&str> = metrics
        .iter()
        .filter(|m| m.is_session())
        .map(|m| m.name())
        .collect();
    let event: Vec<&str> = dims
        .iter()
        .filter(|d| d.is_event() && **d != Dim::Page && **d != Dim::Hostname)
        .map(|d| d.name())
        .collect();
    if !session.is_empty() && !event.is_empty() {
        return Err(invalid(
            "metrics",
            format!(
                "session metric(s) {} cannot be queried along with event dimension(s) {}",
                session.join(", "),
                event.join(", ")
            ),
        ));
    }
    Ok(())
}

/// `conversion_rate` divides by the visitors without the goal filters, so
/// it needs a goal: a dimension, or a filter at the top level.
fn goal_rule(metrics: &[Metric], dims: &[Dim], filters: &[Filter]) -> Result<(), QueryError> {
    let group = metrics.contains(&Metric::GroupConversionRate);
    if group && dims.is_empty() {
        return Err(invalid(
            "metrics",
            "group_conversion_rate needs dimensions (the groups)",
        ));
    }
    if !metrics.contains(&Metric::ConversionRate) && !group {
        return Ok(());
    }
    let mut named = Vec::new();
    filters
        .iter()
        .filter(|f| !f.is_goal())
        .for_each(|f| f.dims(&mut named));
    if named.contains(&Dim::Goal) {
        return Err(invalid(
            "filters",
            "with conversion rates, event:goal filters stand at the top level",
        ));
    }
    if !dims.contains(&Dim::Goal) && !filters.iter().any(Filter::is_goal) {
        return Err(invalid(
            "metrics",
            "conversion rates need an event:goal dimension or filter",
        ));
    }
    Ok(())
}

fn order_by(
    v: Option<&Value>,
    metrics: &[Metric],
    dims: &[Dim],
    props: &[String],
) -> Result<Vec<(OrderKey, bool)>, QueryError> {
    let mut out = Vec::new();
    match v {
        None => {
            // Plausible's default: time ascending, else the first metric
            // descending; the other dimensions break ties.
            if let Some(t) = dims.iter().find(|d| matches!(d, Dim::Time(_))) {
                out.push((OrderKey::Dim(*t), false));
            } else if !dims.is_empty() {
                out.push((OrderKey::Metric(metrics[0]), true));
            }
        }
        Some(Value::Array(a)) => {
            for (i, e) in a.iter().enumerate() {
                let field = format!("order_by[{i}]");
                let (Some(Value::String(k)), Some(Value::String(dir)), 2) =
                    (e.get(0), e.get(1), e.as_array().map_or(0, |x| x.len()))
                else {
                    return Err(invalid(field, "[metric or dimension, \"asc\" | \"desc\"]"));
                };
                let desc = match dir.as_str() {
                    "asc" => false,
                    "desc" => true,
                    _ => return Err(invalid(format!("{field}[1]"), "\"asc\" or \"desc\"")),
                };
                let key = if let Some(m) = metrics.iter().find(|m| m.name() == k) {
                    OrderKey::Metric(*m)
                } else if let Some(d) = dims.iter().find(|d| {
                    dim_name(**d, props) == *k || (k == "time" && matches!(d, Dim::Time(_)))
                }) {
                    OrderKey::Dim(*d)
                } else {
                    return Err(invalid(
                        format!("{field}[0]"),
                        format!("{k:?} is neither a queried metric nor a queried dimension"),
                    ));
                };
                out.push((key, desc));
            }
        }
        Some(_) => return Err(invalid("order_by", "must be a list")),
    }
    for d in dims {
        if !out.iter().any(|(k, _)| *k == OrderKey::Dim(*d)) {
            out.push((OrderKey::Dim(*d), false));
        }
    }
    Ok(out)
}

fn flag(m: &Map<String, Value>, k: &str) -> Result<bool, QueryError> {
    match m.get(k) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid(format!("include.{k}"), "true or false")),
    }
}

fn include(v: Option<&Value>) -> Result<(bool, bool), QueryError> {
    let m = match v {
        None => return Ok((false, false)),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(invalid("include", "an object")),
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["total_rows", "time_labels", "imports", "comparisons"].contains(&k.as_str()))
    {
        return Err(invalid(format!("include.{k}"), "unknown field"));
    }
    // `imports`: tacit imports no other tool's data; accepted and ignored.
    flag(m, "imports")?;
    Ok((flag(m, "total_rows")?, flag(m, "time_labels")?))
}

/// The same calendar day a year earlier (29 February: the 28th).
fn year_before(day: i32) -> i32 {
    let d = date_of_day(day);
    let (y, m) = (d.year() - 1, d.month());
    let last = jiff::civil::date(y, m, 1).days_in_month();
    day_of_date(jiff::civil::date(y, m, d.day().min(last)))
}

/// `include.comparisons`: `{"mode": "previous_period" | "year_over_year"
/// | "custom", "date_range": [from, to] (custom), "match_day_of_week":
/// bool}`. As in Plausible, the compared range stops where the query's
/// stops being in the past (today), so a month in progress is compared
/// day for day.
fn comparison(
    v: &Value,
    range: Range,
    asked: Option<&Value>,
    ctx: &Context,
) -> Result<Range, QueryError> {
    let Value::Object(m) = v else {
        return Err(invalid("include.comparisons", "an object with a mode"));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["mode", "date_range", "match_day_of_week"].contains(&k.as_str()))
    {
        return Err(invalid(format!("include.comparisons.{k}"), "unknown field"));
    }
    if asked == Some(&json!("all")) {
        return Err(invalid(
            "include.comparisons",
            "\"all\" has nothing before it to compare with",
        ));
    }
    let match_weekday = match m.get("match_day_of_week") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(invalid(
                "include.comparisons.match_day_of_week",
                "true or false",
            ))
        }
    };
    let to = range.to.min(ctx.today).max(range.from);
    let len = to - range.from + 1;
    let shifted = |from: i32, to: i32| {
        // Back to the same weekday as the query's first day.
        let back = if match_weekday {
            (from - range.from).rem_euclid(7)
        } else {
            0
        };
        Range {
            from: from - back,
            to: to - back,
        }
    };
    let r = match m.get("mode").and_then(Value::as_str) {
        Some("previous_period") => shifted(range.from - len, range.from - 1),
        Some("year_over_year") => shifted(year_before(range.from), year_before(to)),
        Some("custom") => {
            let Some(Value::Array(a)) = m.get("date_range") else {
                return Err(invalid(
                    "include.comparisons.date_range",
                    "two dates for the custom mode",
                ));
            };
            let (Some(Value::String(x)), Some(Value::String(y)), 2) =
                (a.first(), a.get(1), a.len())
            else {
                return Err(invalid(
                    "include.comparisons.date_range",
                    "two dates as strings",
                ));
            };
            let r = Range {
                from: date(x, "include.comparisons.date_range[0]")?,
                to: date(y, "include.comparisons.date_range[1]")?,
            };
            if r.to < r.from {
                return Err(invalid(
                    "include.comparisons.date_range",
                    "the end is before the start",
                ));
            }
            r
        }
        _ => {
            return Err(invalid(
                "include.comparisons.mode",
                "previous_period, year_over_year or custom",
            ))
        }
    };
    Ok(r)
}

fn pagination(v: Option<&Value>) -> Result<(u64, u64), QueryError> {
    let m = match v {
        None => return Ok((MAX_LIMIT, 0)),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(invalid("pagination", "an object")),
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["limit", "offset"].contains(&k.as_str()))
    {
        return Err(invalid(format!("pagination.{k}"), "unknown field"));
    }
    let num = |k: &str, default: u64| match m.get(k) {
        None => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| invalid(format!("pagination.{k}"), "a whole number ≥ 0")),
        Some(_) => Err(invalid(format!("pagination.{k}"), "a whole number")),
    };
    let limit = num("limit", MAX_LIMIT)?;
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(invalid(
            "pagination.limit",
            format!("between 1 and {MAX_LIMIT}"),
        ));
    }
    let offset = num("offset", 0)?;
    if offset > 1_000_000 {
        return Err(invalid("pagination.offset", "at most 1000000"));
    }
    Ok((limit, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            today: day_of_date(jiff::civil::date(2026, 3, 15)),
            event_ttl_days: 30,
            aggregate_ttl_months: 25,
            keeps_region: true,
            keeps_city: false,
        }
    }

    fn q(body: Value) -> Result<Query, QueryError> {
        parse(body.to_string().as_bytes(), &ctx())
    }

    fn field(body: Value) -> String {
        match q(body).unwrap_err() {
            QueryError::Invalid { field, .. } => field,
            e => panic!("not invalid: {e}"),
        }
    }

    #[test]
    fn ranges_resolve_to_utc_days() {
        let r = |s: Value| {
            let q = q(json!({"site_id": "a.b", "metrics": ["visitors"], "date_range": s})).unwrap();
            (format_day(q.range.from), format_day(q.range.to))
        };
        assert_eq!(r(json!("day")), ("2026-03-15".into(), "2026-03-15".into()));
        assert_eq!(r(json!("7d")), ("2026-03-08".into(), "2026-03-14".into()));
        assert_eq!(
            r(json!("month")),
            ("2026-03-01".into(), "2026-03-31".into())
        );
        assert_eq!(r(json!("6mo")), ("2025-10-01".into(), "2026-03-31".into()));
        assert_eq!(r(json!("12mo")), ("2025-04-01".into(), "2026-03-31".into()));
        assert_eq!(r(json!("year")), ("2026-01-01".into(), "2026-12-31".into()));
        assert_eq!(
            r(json!(["2026-01-01", "2026-01-31"])),
            ("2026-01-01".into(), "2026-01-31".into())
        );
    }

    #[test]
    fn comparisons_stop_where_the_query_does() {
        let cmp = |range: Value, how: Value| {
            let q = q(json!({"site_id": "a.b", "metrics": ["visitors"], "date_range": range, "include": {"comparisons": how}})).unwrap();
            let c = q.compare.unwrap();
            (format_day(c.from), format_day(c.to))
        };
        // A month in progress (today is the 15th): the first half of the
        // month before.
        assert_eq!(
            cmp(json!("month"), json!({"mode": "previous_period"})),
            ("2026-02-14".into(), "2026-02-28".into())
        );
        assert_eq!(
            cmp(json!("7d"), json!({"mode": "year_over_year"})),
            ("2025-03-08".into(), "2025-03-14".into())
        );
        // The same weekday: 2026-03-08 is a Sunday, so is 2025-03-02.
        assert_eq!(
            cmp(
                json!("7d"),
                json!({"mode": "year_over_year", "match_day_of_week": true})
            ),
            ("2025-03-02".into(), "2025-03-08".into())
        );
        assert_eq!(
            cmp(
                json!(["2026-03-02", "2026-03-04"]),
                json!({"mode": "previous_period", "match_day_of_week": true})
            ),
            ("2026-02-23".into(), "2026-02-25".into())
        );
    }

    #[test]
    fn refusals_name_the_field() {
        let base = || json!({"site_id": "a.b", "metrics": ["visitors"], "date_range": "day"});
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            b
        };
        assert_eq!(
            field(with("metrics", json!(["visitors", "nope"]))),
            "metrics[1]"
        );
        assert_eq!(field(with("date_range", json!("9y"))), "date_range");
        assert_eq!(
            field(with("dimensions", json!(["visit:nope"]))),
            "dimensions[0]"
        );
        assert_eq!(
            field(with("filters", json!([["is", "visit:browser", "Chrome"]]))),
            "filters[0][2]"
        );
        assert_eq!(
            field(with("filters", json!([["matches", "event:page", ["(a"]]]))),
            "filters[0][2][0]"
        );
        assert_eq!(
            field(with(
                "filters",
                json!([["and", [["nope", "event:page", ["/"]]]]])
            )),
            "filters[0][1][0][0]"
        );
        assert_eq!(
            field(with("pagination", json!({"limit": 10001}))),
            "pagination.limit"
        );
        assert_eq!(
            field(with("include", json!({"time_labels": true}))),
            "include.time_labels"
        );
        assert_eq!(
            field(with("order_by", json!([["pageviews", "desc"]]))),
            "order_by[0][0]"
        );
        assert_eq!(field(with("extra", json!(1))), "extra");
        let mut b = with("metrics", json!(["bounce_rate"]));
        b["dimensions"] = json!(["event:name"]);
        assert_eq!(field(b), "metrics");
        assert!(matches!(
            q(with("dimensions", json!(["visit:city"]))),
            Err(QueryError::Unsupported(_))
        ));
        assert!(matches!(
            q(with("dimensions", json!(["visit:visitor_id"]))),
            Err(QueryError::Unsupported(_))
        ));
    }

    #[test]
    fn time_picks_a_grain_and_orders_first() {
        let q = q(json!({"site_id": "a.b", "metrics": ["visitors"], "date_range": "30d", "dimensions": ["visit:browser", "time"]})).unwrap();
        assert_eq!(q.dims[1], Dim::Time(Grain::Day));
        assert_eq!(q.order_by[0], (OrderKey::Dim(Dim::Time(Grain::Day)), false));
        assert_eq!(q.order_by[1], (OrderKey::Dim(Dim::Browser), false));
    }
}
