//! Parsing and validation of a Stats API v2 body into a typed [`Query`].
//! Every refusal names the field (`metrics[2]`, `filters[0][1]`,
//! `pagination.limit`); what tacit cannot answer says why. The parts:
//! `range.rs` (`date_range`, comparisons, time labels), `dims.rs`
//! (dimension names), `filters.rs` (one filter), `rules.rs` (the rules
//! across fields, `order_by`, `include`, `pagination`).

use serde_json::{json, Value};

use super::{invalid, Context, Dim, Filter, Grain, Metric, OrderKey, QueryError, Range};

mod dims;
mod filters;
pub mod range;
mod rules;

pub use filters::MAX_PATTERN;
pub use rules::MAX_LIMIT;

/// The most filters one query holds.
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

pub(super) fn dim_name(d: Dim, props: &[String]) -> String {
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
    let range = range::date_range(o.get("date_range"), ctx)?;
    let mut props = Vec::new();
    let dims = dims::dimensions(o.get("dimensions"), range, ctx, &mut props)?;
    let filters = match o.get("filters") {
        None => vec![],
        Some(Value::Array(a)) => {
            if a.len() > MAX_FILTERS {
                return Err(invalid("filters", format!("at most {MAX_FILTERS} filters")));
            }
            a.iter()
                .enumerate()
                .map(|(i, f)| filters::filter(f, &format!("filters[{i}]"), ctx, 0, &mut props))
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(_) => return Err(invalid("filters", "must be a list")),
    };
    rules::session_rule(&metrics, &dims)?;
    rules::goal_rule(&metrics, &dims, &filters)?;
    let order_by = rules::order_by(o.get("order_by"), &metrics, &dims, &props)?;
    let (total_rows, time_labels) = rules::include(o.get("include"))?;
    let compare = match o.get("include").and_then(|i| i.get("comparisons")) {
        None | Some(Value::Null) => None,
        Some(c) => Some(range::comparison(c, range, o.get("date_range"), ctx)?),
    };
    if time_labels && !dims.iter().any(|d| matches!(d, Dim::Time(_))) {
        return Err(invalid("include.time_labels", "requires a time dimension"));
    }
    let (limit, offset) = rules::pagination(o.get("pagination"))?;
    let echo = json!({
        "site_id": site,
        "metrics": metrics.iter().map(|m| m.name()).collect::<Vec<_>>(),
        "date_range": range::echo(range),
        "filters": o.get("filters").cloned().unwrap_or(json!([])),
        "dimensions": dims.iter().map(|d| dim_name(*d, &props)).collect::<Vec<_>>(),
        "order_by": order_by.iter().map(|(k, desc)| json!([
            match k { OrderKey::Metric(m) => m.name().to_string(), OrderKey::Dim(d) => dim_name(*d, &props) },
            if *desc { "desc" } else { "asc" },
        ])).collect::<Vec<_>>(),
        "include": {
            "total_rows": total_rows, "time_labels": time_labels, "imports": false,
            "comparisons": compare.map(|c| json!({"date_range": range::echo(c)})),
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
            None => return Err(invalid(field, format!("unknown metric {name:?}"))),
        };
        if out.contains(&metric) {
            return Err(invalid(field, format!("{name:?} is listed twice")));
        }
        out.push(metric);
    }
    Ok(out)
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::clock::day_of_date;

    fn ctx() -> Context {
        Context {
            today: day_of_date(jiff::civil::date(2026, 3, 15)),
            now_ms: day_of_date(jiff::civil::date(2026, 3, 15)) as i64 * 86_400_000 + 50_000_000,
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
