//! Running a compiled query and shaping Plausible's answer:
//! `{"results": [{"metrics": [...], "dimensions": [...]}], "meta": {...},
//! "query": {...}}`. Every statement runs read-only (`readonly = 2`: no
//! write, no DDL, whatever its text) and with `max_execution_time`; an
//! engine failure comes back as [`QueryError::Store`], whose text is
//! log-safe and never reaches the client (admin/query.rs).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::sql::{self, Param, Sql, Totals};
use super::{Context, Dim, Grain, Metric, Query, QueryError};
use crate::store::{Store, StoreError};

/// Every statement gives up after this many seconds, in the engine.
pub const QUERY_SECONDS: u64 = 10;

/// The connection every query statement runs on: read only, whatever
/// the statement says (`readonly = 2`: settings may change, `readonly`
/// itself may not), and given up after [`QUERY_SECONDS`] in the engine.
pub fn client(store: &Store) -> clickhouse::Client {
    store
        .client()
        .clone()
        .with_setting("readonly", "2")
        .with_setting("output_format_json_quote_64bit_integers", "0")
        .with_setting("max_execution_time", QUERY_SECONDS.to_string())
        .with_setting("timeout_overflow_mode", "throw")
}

async fn rows(store: &Store, s: &Sql) -> Result<Vec<Vec<Value>>, QueryError> {
    let client = client(store);
    let mut query = client.query(&s.text);
    for (name, v) in &s.params {
        query = match v {
            Param::Str(x) => query.param(name, x.as_str()),
            Param::U64(x) => query.param(name, *x),
            Param::I64(x) => query.param(name, *x),
        };
    }
    let call = async { query.fetch_bytes("JSONCompact")?.collect().await };
    let bytes = crate::store::timed(Duration::from_secs(QUERY_SECONDS + 5), call)
        .await
        .map_err(StoreError::from)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| QueryError::Shape)?;
    let Some(Value::Array(data)) = v.get("data") else {
        return Err(QueryError::Shape);
    };
    data.iter()
        .map(|r| match r {
            Value::Array(a) => Ok(a.clone()),
            _ => Err(QueryError::Shape),
        })
        .collect()
}

/// The visitors of a totals query (one row, one metric).
async fn visitors(store: &Store, t: &Query, ctx: &Context) -> Result<u64, QueryError> {
    let r = rows(store, &sql::compile(t, ctx, Totals::default())?).await?;
    Ok(r.first()
        .and_then(|row| row.first())
        .and_then(Value::as_u64)
        .unwrap_or(0))
}

/// The rows of a query (dimensions, metrics, `_total`) and the number of
/// rows before pagination.
struct Answer {
    rows: Vec<Vec<Value>>,
    total_rows: Option<u64>,
}

async fn answer(store: &Store, q: &Query, ctx: &Context) -> Result<Answer, QueryError> {
    let mut totals = Totals::default();
    if q.metrics.contains(&Metric::Percentage) {
        totals.visitors = visitors(store, &sql::totals_query(q), ctx).await?;
    }
    if q.metrics.contains(&Metric::ConversionRate) {
        totals.without_goals = visitors(store, &sql::goal_totals_query(q), ctx).await?;
    }
    if q.metrics
        .iter()
        .any(|m| matches!(m, Metric::TotalRevenue | Metric::AverageRevenue))
    {
        // tacit converts no currency: revenue in several is refused.
        let mut t = sql::totals_query(q);
        t.metrics = vec![Metric::Currencies];
        let n = visitors(store, &t, ctx).await?;
        if n > 1 {
            return Err(QueryError::Unsupported(format!(
                "total_revenue, average_revenue: the matching events carry revenue in {n} currencies and tacit converts none; filter by event:goal to the goals of one currency"
            )));
        }
    }
    let compiled = sql::compile(q, ctx, totals)?;
    let data = rows(store, &compiled).await?;
    let (nd, nm) = (q.dims.len(), q.metrics.len());
    if data.iter().any(|r| r.len() != nd + nm + 1) {
        return Err(QueryError::Shape);
    }
    let mut total_rows = data
        .first()
        .and_then(|r| r.get(nd + nm))
        .and_then(Value::as_u64);
    if total_rows.is_none() && q.total_rows && q.offset > 0 {
        // Past the last row: count from the start.
        let mut first = q.clone();
        first.offset = 0;
        first.limit = 1;
        let r = rows(store, &sql::compile(&first, ctx, totals)?).await?;
        total_rows = r
            .first()
            .and_then(|r| r.get(nd + nm))
            .and_then(Value::as_u64);
    }
    Ok(Answer {
        rows: data,
        total_rows,
    })
}

/// A row's key for matching it with the compared period's: its dimension
/// values, the time bucket replaced by its position in the range.
fn key(q: &Query, labels: &HashMap<String, usize>, dims: &[Value]) -> Vec<Value> {
    q.dims
        .iter()
        .zip(dims)
        .map(|(d, v)| match d {
            Dim::Time(_) => json!(v.as_str().and_then(|s| labels.get(s)).copied()),
            _ => v.clone(),
        })
        .collect()
}

/// Plausible's change: percent for counts (100 from nothing), the
/// difference for rates.
fn change(m: Metric, new: &Value, old: &Value) -> Value {
    let (n, o) = (new.as_f64().unwrap_or(0.0), old.as_f64().unwrap_or(0.0));
    match m {
        Metric::BounceRate
        | Metric::ConversionRate
        | Metric::GroupConversionRate
        | Metric::Percentage => {
            json!(((n - o) * 10.0).round() / 10.0)
        }
        _ if o == 0.0 => json!(if n > 0.0 { 100 } else { 0 }),
        _ => json!(((n - o) / o * 100.0).round() as i64),
    }
}

/// Run `q` and shape the answer.
pub async fn run(store: &Store, q: &Query, ctx: &Context) -> Result<Value, QueryError> {
    let main = answer(store, q, ctx).await?;
    let (nd, nm) = (q.dims.len(), q.metrics.len());
    let compared = match q.compare {
        None => None,
        Some(range) => {
            let mut c = q.clone();
            c.range = range;
            c.limit = super::request::MAX_LIMIT;
            c.offset = 0;
            c.total_rows = true;
            c.compare = None;
            let a = answer(store, &c, ctx).await?;
            if a.total_rows.unwrap_or(0) > c.limit {
                return Err(QueryError::Unsupported(format!(
                    "the compared period has more than {} rows: filter or narrow the query",
                    c.limit
                )));
            }
            let labels = index(&c);
            let by_key: HashMap<Vec<Value>, Vec<Value>> = a
                .rows
                .into_iter()
                .map(|r| (key(&c, &labels, &r[..nd]), r))
                .collect();
            Some((c, by_key))
        }
    };
    let main_labels = index(q);
    let mut results = Vec::with_capacity(main.rows.len());
    for r in &main.rows {
        let mut row = json!({
            "metrics": r[nd..nd + nm].to_vec(),
            "dimensions": r[..nd].to_vec(),
        });
        if let Some((c, by_key)) = &compared {
            let k = key(q, &main_labels, &r[..nd]);
            let (dims, metrics) = match by_key.get(&k) {
                Some(o) => (o[..nd].to_vec(), o[nd..nd + nm].to_vec()),
                None => {
                    // Nothing then: zeros, under the compared bucket's label.
                    let labels = c.grain().map(|g| time_labels(c, g)).unwrap_or_default();
                    let dims = q
                        .dims
                        .iter()
                        .zip(&k)
                        .zip(&r[..nd])
                        .map(|((d, kv), v)| match d {
                            Dim::Time(_) => kv
                                .as_u64()
                                .and_then(|i| labels.get(i as usize))
                                .map_or(Value::Null, |l| json!(l)),
                            _ => v.clone(),
                        })
                        .collect();
                    (dims, vec![json!(0); nm])
                }
            };
            let change: Vec<Value> = q
                .metrics
                .iter()
                .zip(&r[nd..nd + nm])
                .zip(&metrics)
                .map(|((m, new), old)| change(*m, new, old))
                .collect();
            row["comparison"] = json!({ "dimensions": dims, "metrics": metrics, "change": change });
        }
        results.push(row);
    }
    let mut meta = Map::new();
    if q.time_labels {
        if let Some(g) = q.grain() {
            meta.insert("time_labels".into(), json!(time_labels(q, g)));
            if let Some((c, _)) = &compared {
                meta.insert("comparison_time_labels".into(), json!(time_labels(c, g)));
            }
        }
    }
    if q.total_rows {
        meta.insert("total_rows".into(), json!(main.total_rows.unwrap_or(0)));
    }
    Ok(json!({
        "results": results,
        "meta": meta,
        "query": q.echo,
    }))
}

/// Visitors whose hits reached the engine in the five minutes before
/// `now_ms` (Plausible's current visitors).
pub async fn current_visitors(store: &Store, site: &str, now_ms: i64) -> Result<u64, QueryError> {
    let s = Sql {
        text: "SELECT uniqExact(visitor_id) FROM events \
               WHERE site = {site:String} AND toDate(ts) BETWEEN toDate(fromUnixTimestamp64Milli({since:Int64}, 'UTC')) AND toDate(fromUnixTimestamp64Milli({now:Int64}, 'UTC')) \
               AND ts > fromUnixTimestamp64Milli({since:Int64}, 'UTC') AND ts <= fromUnixTimestamp64Milli({now:Int64}, 'UTC') \
               AND visitor_id != 0"
            .into(),
        params: vec![
            ("site".into(), Param::Str(site.into())),
            ("since".into(), Param::I64(now_ms - REALTIME_MS)),
            ("now".into(), Param::I64(now_ms)),
        ],
    };
    let r = rows(store, &s).await?;
    r.first()
        .and_then(|row| row.first())
        .and_then(Value::as_u64)
        .ok_or(QueryError::Shape)
}

pub use super::request::range::REALTIME_MS;

/// A query's time labels by position.
fn index(q: &Query) -> HashMap<String, usize> {
    q.grain()
        .map(|g| time_labels(q, g))
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, l)| (l, i))
        .collect()
}

/// Every bucket of the range, as the time dimension prints it.
pub fn time_labels(q: &Query, g: Grain) -> Vec<String> {
    super::request::range::labels(q.range, g)
}
