//! A tacit extension of the query API: email campaigns' opens and clicks
//! over a date range, per campaign, from `analytics_email_daily` (the
//! open pixel and signed click links of `tacit email-link`). People and
//! machines (image proxies, privacy relays, link scanners) apart: the
//! rates are the people's. Unique opens and clicks are distinct daily
//! visitors per variant, summed over days and variants (the view's
//! convention: approximate, see docs/queries.md). Whole days only, no
//! filters (the daily counts keep no visit dimension).

use serde_json::{json, Value};

use super::{run, Query, QueryError};
use crate::model::clock::format_day;
use crate::store::StoreError;

/// Campaigns in one answer, most opened first.
pub const LIMIT: u64 = 100;

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Row {
    campaign: String,
    h_opens: u64,
    h_unique_opens: u64,
    h_clicks: u64,
    h_unique_clicks: u64,
    m_opens: u64,
    m_clicks: u64,
}

/// `unique_clicks / unique_opens` as a percentage, two decimals.
fn click_to_open(clicks: u64, opens: u64) -> f64 {
    if opens == 0 {
        return 0.0;
    }
    (clicks as f64 * 10_000.0 / opens as f64).round() / 100.0
}

/// The query's site's campaigns over its range (its metrics and
/// dimensions are not used; its filters must be empty).
pub async fn answer(store: &crate::store::Store, q: &Query) -> Result<Value, QueryError> {
    if !q.filters.is_empty() {
        return Err(super::invalid(
            "filters",
            "email opens and clicks are counted per day by campaign (analytics_email_daily) and cannot be filtered",
        ));
    }
    if q.range.span.is_some() {
        return Err(super::invalid(
            "date_range",
            "email opens and clicks are counted per day: give whole days",
        ));
    }
    let rows: Vec<Row> = run::client(store)
        .query(
            "SELECT campaign, sumIf(opens, class = 'human') AS h_opens, \
             sumIf(unique_opens, class = 'human') AS h_unique_opens, \
             sumIf(clicks, class = 'human') AS h_clicks, \
             sumIf(unique_clicks, class = 'human') AS h_unique_clicks, \
             sumIf(opens, class != 'human') AS m_opens, \
             sumIf(clicks, class != 'human') AS m_clicks \
             FROM analytics_email_daily \
             WHERE site = ? AND day BETWEEN toDate(?) AND toDate(?) \
             GROUP BY campaign ORDER BY h_unique_opens DESC, campaign LIMIT ?",
        )
        .bind(&q.site)
        .bind(format_day(q.range.from))
        .bind(format_day(q.range.to))
        .bind(LIMIT)
        .fetch_all()
        .await
        .map_err(StoreError::from)?;
    let campaigns: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "campaign": r.campaign,
                "opens": r.h_opens,
                "unique_opens": r.h_unique_opens,
                "clicks": r.h_clicks,
                "unique_clicks": r.h_unique_clicks,
                "click_to_open": click_to_open(r.h_unique_clicks, r.h_unique_opens),
                "machine_opens": r.m_opens,
                "machine_clicks": r.m_clicks,
            })
        })
        .collect();
    Ok(json!({
        "site_id": q.site,
        "date_range": [format_day(q.range.from), format_day(q.range.to)],
        "campaigns": campaigns,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn click_to_open_is_a_percentage_of_opens() {
        assert_eq!(super::click_to_open(1, 3), 33.33);
        assert_eq!(super::click_to_open(5, 0), 0.0);
        assert_eq!(super::click_to_open(4, 4), 100.0);
    }
}
