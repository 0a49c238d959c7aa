//! The built-in dashboard in real headless Chromium (Debian's package,
//! driven by playwright-core from npm): the page loads with no external
//! requests, shows the numbers the cookbook SQL returns, and leaves a
//! screenshot in target/artifacts/dashboard.png.

use std::process::Command;

use serde_json::json;
use tacit::model::clock::format_day;

use crate::analytics::{run, SITE};
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_the_sql_numbers_in_chromium() {
    let db = TestDb::new("dashboard");
    let app = start(db.config()).await;
    let today = today(&db).await;
    let days = [today - 2, today - 1];
    crate::analytics::load_generated(&db, &days).await;
    let (from, to) = (format_day(days[0]), format_day(days[1]));
    let p = [("site", SITE), ("from", from.as_str()), ("to", to.as_str())];
    let q = crate::analytics::cookbook();
    let sql = |n: u32| q.iter().find(|(i, _)| *i == n).unwrap().1.clone();
    let overview = run(&db, &sql(1), &p).await;
    let visits = run(&db, &sql(3), &p).await;
    let pages = run(&db, &sql(4), &p).await;
    let expected = json!({
        "visitors": overview[0][0],
        "pageviews": overview[0][1],
        "visits": visits[0][0],
        "top_page": pages[0][0],
        "chart_points": 2,
    });

    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let url = format!(
        "http://{}/dashboard?site={SITE}&from={from}&to={to}",
        app.admin_addr
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/dashboard.mjs");
    let expected_s = expected.to_string();
    let shot_s = shot.to_string_lossy().into_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args([script, &url, &expected_s, &shot_s])
            .output()
    })
    .await
    .unwrap()
    .expect("node runs (scripts/setup installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser check failed:\n{stdout}\n{stderr}"
    );
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "screenshot kept"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_dashboard_caps_its_range_and_partners_see_only_their_api() {
    let db = TestDb::new("dashcap");
    let app = start(db.config()).await;
    let (s, _, b) = get(
        app.admin_addr,
        "/dashboard/data?site=example.com&from=2025-01-01&to=2026-11-01",
        &[],
    )
    .await;
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&b));
    assert!(String::from_utf8_lossy(&b).contains("366 days"));
    let (s, _, _) = get(
        app.admin_addr,
        "/dashboard/data?site=example.com&from=2026-11-02&to=2026-11-01",
        &[],
    )
    .await;
    assert_eq!(s, 400, "from after to");
    // The partner listener serves the export API and nothing else; the
    // admin listener no longer serves it.
    for path in ["/dashboard", "/metrics", "/readyz"] {
        assert_eq!(get(app.partner_addr, path, &[]).await.0, 404, "{path}");
    }
    assert_eq!(
        get(app.admin_addr, "/v1/exports/acme?period=2026-11", &[])
            .await
            .0,
        404
    );
    app.shutdown().await;
}
