//! The analyst views expose no visitor id, and every Grafana panel runs.

use std::collections::BTreeSet;

use crate::analytics::*;
use crate::common::*;
use serde_json::Value;
use tacit::model::clock::format_day;

#[tokio::test]
async fn analyst_views_never_expose_visitor_ids() {
    let db = TestDb::new("views");
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let cols: Vec<(String, String, String)> = db
        .client()
        .query("SELECT table, name, comment FROM system.columns WHERE database = ? AND table LIKE 'analytics\\_%' ORDER BY table, position")
        .bind(&db.name)
        .fetch_all()
        .await
        .unwrap();
    let views: BTreeSet<&str> = cols.iter().map(|c| c.0.as_str()).collect();
    assert!(views.len() >= 17, "{views:?}");
    // Parameterized views list no columns; their own comment documents
    // parameters and columns.
    let tables: Vec<(String, String)> = db
        .client()
        .query("SELECT name, comment FROM system.tables WHERE database = ? AND name LIKE 'analytics\\_%' ORDER BY name")
        .bind(&db.name)
        .fetch_all()
        .await
        .unwrap();
    for question in [
        "analytics_pages_daily",
        "analytics_sources_daily",
        "analytics_channels_daily",
        "analytics_campaigns_daily",
        "analytics_locations_daily",
        "analytics_technology_daily",
        "analytics_languages_daily",
        "analytics_custom_events_daily",
        "analytics_properties_daily",
        "analytics_goal_conversions",
        "analytics_funnel",
    ] {
        assert!(tables.iter().any(|t| t.0 == question), "no view {question}");
    }
    for (name, comment) in &tables {
        if !views.contains(name.as_str()) {
            assert!(comment.contains("Parameters:"), "{name}: {comment:?}");
            assert!(!comment.contains("visitor_id"), "{name}");
        }
    }
    for (table, name, comment) in &cols {
        assert!(
            !name.contains("visitor_id") && !name.contains("session_id"),
            "{table}.{name}"
        );
        assert!(!comment.trim().is_empty(), "{table}.{name} has no comment");
    }
}

/// Fill the Grafana macros the dashboard uses, as the plugin would.
fn fill_grafana_macros(sql: &str, site: &str, from: &str, to: &str) -> String {
    let from_t = format!("toDateTime('{from} 00:00:00', 'UTC')");
    let to_t = format!("toDateTime('{to} 23:59:59', 'UTC')");
    let mut out = sql
        .replace("${site}", site)
        .replace("$__fromTime", &from_t)
        .replace("$__toTime", &to_t);
    while let Some(i) = out.find("$__timeFilter(") {
        let rest = &out[i + "$__timeFilter(".len()..];
        let end = rest.find(')').expect("closing parenthesis");
        let col = rest[..end].trim().to_string();
        let cond = format!("{col} >= {from_t} AND {col} <= {to_t}");
        out.replace_range(i..i + "$__timeFilter(".len() + end + 1, &cond);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_dashboard_panels_run() {
    let db = TestDb::new("grafana");
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let today = today(&db).await;
    let days = [today - 2, today - 1];
    load_generated(&db, &days).await;
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/dashboards/tacit-grafana.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let panels = dash["panels"].as_array().unwrap();
    assert!(panels.len() >= 10);
    let (from, to) = (format_day(days[0]), format_day(days[1]));
    for p in panels {
        for t in p["targets"].as_array().unwrap() {
            let raw = t["rawSql"].as_str().unwrap();
            assert!(
                !raw.contains("visitor_id") && !raw.contains(" events"),
                "{raw}"
            );
            let sql = fill_grafana_macros(raw, SITE, &from, &to);
            let rows = run(&db, &sql, &[]).await;
            let title = p["title"].as_str().unwrap();
            if title != "Filtered traffic" {
                assert!(!rows.is_empty(), "panel {title} returned nothing:\n{sql}");
            }
        }
    }
    // The overview panel matches cookbook query 1 over the same range.
    let q1 = cookbook().into_iter().find(|(n, _)| *n == 1).unwrap().1;
    let panel = fill_grafana_macros(
        panels[1]["targets"][0]["rawSql"].as_str().unwrap(),
        SITE,
        &from,
        &to,
    );
    let a = run(&db, &panel, &[]).await;
    let b = run(&db, &q1, &[("site", SITE), ("from", &from), ("to", &to)]).await;
    assert_eq!(a[0][0], b[0][0]);
    assert_eq!(a[0][1], b[0][1]);
}
