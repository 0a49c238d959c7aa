//! A tacit extension of the query API: a configured funnel (`[[funnels]]`)
//! over a date range, step by step, as Plausible's funnel panel shows it
//! (how many reached each step, conversion from the first step and from
//! the previous one, drop-off).
//!
//! The unit is the visit, and the order is the one `analytics_funnels_daily`
//! (and `analytics_funnel`) define: a visit reaches step *k* when its hits,
//! in time order, pass steps 1..*k* in that order (other hits between are
//! allowed; a page step is a page view of that path, any other step an
//! event of that name). The numbers are that view's per-day counts summed
//! over the range, so they reach as far back as the aggregate tier: the
//! range must be whole days, and filters are refused (the daily rollup
//! keeps no dimension to filter on).

use serde_json::{json, Value};

use super::{run, Query, QueryError};
use crate::model::clock::format_day;
use crate::store::{Store, StoreError};

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct StepRow {
    step: u8,
    visits: u64,
}

/// One step's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    /// Visits that reached this step in order.
    pub visits: u64,
}

/// A percentage of `part` in `whole`, two decimals (0 when `whole` is 0).
fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 * 10_000.0 / whole as f64).round() / 100.0
}

/// The answer: per step, visits, conversion from the first step
/// (`conversion_rate`) and from the previous one (`conversion_rate_step`),
/// and the visits lost since the previous step (`dropoff`, and as a
/// percentage of the previous step).
pub fn shape(funnel: &str, q: &Query, steps: &[Step]) -> Value {
    let first = steps.first().map_or(0, |s| s.visits);
    let out: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let prev = if i == 0 {
                s.visits
            } else {
                steps[i - 1].visits
            };
            let lost = prev.saturating_sub(s.visits);
            json!({
                "step": i + 1,
                "name": s.name,
                "visits": s.visits,
                "conversion_rate": pct(s.visits, first),
                "conversion_rate_step": pct(s.visits, prev),
                "dropoff": lost,
                "dropoff_percentage": pct(lost, prev),
            })
        })
        .collect();
    let last = steps.last().map_or(0, |s| s.visits);
    json!({
        "funnel": funnel,
        "site_id": q.site,
        "date_range": [format_day(q.range.from), format_day(q.range.to)],
        "entering_visits": first,
        "converted_visits": last,
        "conversion_rate": pct(last, first),
        "steps": out,
    })
}

/// The configured funnel `funnel` of the query's site, whose steps are
/// `steps`, over the query's range (its metrics and dimensions are not
/// used; its filters must be empty).
pub async fn answer(
    store: &Store,
    q: &Query,
    funnel: &str,
    steps: &[String],
) -> Result<Value, QueryError> {
    if !q.filters.is_empty() {
        return Err(super::invalid(
            "filters",
            "a funnel is counted per day without dimensions (analytics_funnels_daily) and cannot be filtered",
        ));
    }
    if q.range.span.is_some() {
        return Err(super::invalid(
            "date_range",
            "a funnel is counted per day: give whole days",
        ));
    }
    let rows: Vec<StepRow> = run::client(store)
        .query(
            "SELECT step, sum(visits) AS visits FROM analytics_funnels_daily \
             WHERE site = ? AND funnel = ? AND day BETWEEN toDate(?) AND toDate(?) \
             GROUP BY step ORDER BY step",
        )
        .bind(&q.site)
        .bind(funnel)
        .bind(format_day(q.range.from))
        .bind(format_day(q.range.to))
        .fetch_all()
        .await
        .map_err(StoreError::from)?;
    let counted: Vec<Step> = steps
        .iter()
        .enumerate()
        .map(|(i, name)| Step {
            name: name.clone(),
            visits: rows
                .iter()
                .find(|r| r.step as usize == i + 1)
                .map_or(0, |r| r.visits),
        })
        .collect();
    Ok(shape(funnel, q, &counted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_dropoff_follow_the_steps() {
        let q = crate::query::parse(
            br#"{"site_id":"a.b","metrics":["visits"],"date_range":["2026-01-01","2026-01-02"]}"#,
            &crate::query::Context {
                today: 20_500,
                now_ms: 20_500 * 86_400_000,
                event_ttl_days: 30,
                aggregate_ttl_months: 25,
                keeps_region: false,
                keeps_city: false,
            },
        )
        .unwrap();
        let steps = [("/", 200), ("/pricing", 50), ("signup", 0)]
            .map(|(n, v)| Step {
                name: n.into(),
                visits: v,
            })
            .to_vec();
        let v = shape("f", &q, &steps);
        assert_eq!(v["entering_visits"], 200);
        assert_eq!(v["conversion_rate"], 0.0);
        let s = &v["steps"];
        assert_eq!(s[0]["conversion_rate_step"], 100.0);
        assert_eq!(s[0]["dropoff"], 0);
        assert_eq!(s[1]["conversion_rate"], 25.0);
        assert_eq!(s[1]["dropoff"], 150);
        assert_eq!(s[1]["dropoff_percentage"], 75.0);
        assert_eq!(s[2]["conversion_rate_step"], 0.0);
        assert_eq!(s[2]["dropoff_percentage"], 100.0);
        assert_eq!(pct(1, 3), 33.33);
    }
}
