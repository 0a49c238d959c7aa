//! One filter of `filters`: `[op, dimension, [values], {modifiers}]`,
//! or a combination (`and`, `or`, `not`), each refusal naming its place
//! (`filters[0][1][2]`).

use serde_json::Value;

use super::dims::dim;
use crate::query::{invalid, Context, Filter, Op, QueryError};

/// The longest `matches` pattern, in bytes.
pub const MAX_PATTERN: usize = 256;
/// The most values one condition lists.
const MAX_VALUES: usize = 100;

pub(super) fn filter(
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
        "has_done" | "has_not_done" => {
            if a.len() != 2 {
                return Err(invalid(field, format!("[\"{op}\", filter]")));
            }
            let inner = filter(&a[1], &format!("{field}[1]"), ctx, depth + 1, props)?;
            let mut dims = Vec::new();
            inner.dims(&mut dims);
            if let Some(d) = dims.iter().find(|d| !d.is_event()) {
                return Err(invalid(
                    format!("{field}[1]"),
                    format!("{op} takes a condition on event dimensions (event:name, event:page, event:goal, event:hostname, event:props:*), not {}", d.name()),
                ));
            }
            Ok(Filter::HasDone {
                inner: Box::new(inner),
                negated: op == "has_not_done",
            })
        }
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
