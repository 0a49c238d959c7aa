//! Filters compiled to conditions: on hits (`events`), or on visits
//! (`sessions`: a visit's own attributes, its pages and events, or the
//! attributes of its visitor-day). A landing dimension (source, referrer,
//! channel, UTM tags) is the visit's: on hits it selects the hits of the
//! visits that match (each hit joined to its visit, `sides/`), on visits
//! it reads the visit's value or its landing hit's.

use super::columns::{event_column, from_landing_hit, hit_visit_column, visit_column};
use super::Params;
use crate::query::{Dim, Filter, Op, Query, QueryError};

/// One condition on an expression, before negation.
pub(super) fn condition(op: Op, values: &[String], cs: bool, expr: &str, p: &mut Params) -> String {
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
pub(super) enum Rows {
    Events,
    Visits,
}

pub(super) const EVENTS_IN_RANGE: &str =
    "site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date}";

pub(super) fn filter_sql(f: &Filter, rows: Rows, p: &mut Params) -> Result<String, QueryError> {
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
        Filter::HasDone { inner, negated } => {
            // The visitor-day did a matching event (visits keep no id
            // that events carry, and visitor ids are daily).
            let key = match rows {
                Rows::Events => "(toDate(ts), visitor_id)",
                Rows::Visits => "(day, visitor_id)",
            };
            format!(
                "{}{key} IN (SELECT toDate(ts), visitor_id FROM events WHERE {EVENTS_IN_RANGE} AND visitor_id != 0 AND {})",
                if *negated { "NOT " } else { "" },
                filter_sql(inner, Rows::Events, p)?
            )
        }
        Filter::Cond {
            op,
            dim,
            values,
            case_sensitive,
        } => {
            let (op, negate) = op.positive();
            let c = |expr: &str, p: &mut Params| condition(op, values, *case_sensitive, expr, p);
            let positive = match rows {
                // A landing dimension selects whole visits: the hits of
                // the visits whose landing value matches.
                Rows::Events if dim.is_landing() => {
                    c(&hit_visit_column(*dim).unwrap_or_default(), p)
                }
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
                    (d, None) if from_landing_hit(d) => format!(
                        "(day, visitor_id, start) IN (SELECT toDate(ts), visitor_id, ts FROM events WHERE {EVENTS_IN_RANGE} AND visitor_id != 0 AND {})",
                        c(&event_column(d).unwrap_or_default(), p)
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

pub(super) fn where_filters(q: &Query, rows: Rows, p: &mut Params) -> Result<String, QueryError> {
    let mut out = String::new();
    for f in &q.filters {
        out.push_str(" AND ");
        out.push_str(&filter_sql(f, rows, p)?);
    }
    Ok(out)
}
