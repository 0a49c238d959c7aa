//! The rest of a body: the rules across fields (session metrics and
//! event dimensions, conversion rates and goals), `order_by`, `include`
//! and `pagination`.

use serde_json::{Map, Value};

use super::dim_name;
use crate::query::{invalid, Dim, Filter, Metric, OrderKey, QueryError};

/// The most rows one answer holds (Plausible's limit).
pub const MAX_LIMIT: u64 = 10_000;

/// Plausible's rule: metrics counted over visits do not mix with event
/// dimensions, except pages (visits that viewed the page).
pub(super) fn session_rule(metrics: &[Metric], dims: &[Dim]) -> Result<(), QueryError> {
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
pub(super) fn goal_rule(
    metrics: &[Metric],
    dims: &[Dim],
    filters: &[Filter],
) -> Result<(), QueryError> {
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

pub(super) fn order_by(
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

pub(super) fn include(v: Option<&Value>) -> Result<(bool, bool), QueryError> {
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

pub(super) fn pagination(v: Option<&Value>) -> Result<(u64, u64), QueryError> {
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
