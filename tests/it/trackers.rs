//! Real trackers in a real browser: the official Plausible tracker, pinned
//! in `tests/browser/package.json`, and Umami's tracker (fetched by
//! `scripts/setup`), unchanged, in headless Chromium against tacit. Every request it makes is answered 2xx with CORS headers the
//! browser accepts, and every event lands with its name, page, props,
//! revenue, interactivity and engagement values.

use std::collections::BTreeMap;

use crate::common::*;

#[derive(clickhouse::Row, serde::Deserialize, Debug)]
struct Stored {
    name: String,
    pathname: String,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
    interactive: u8,
    revenue: String,
    revenue_currency: String,
    scroll_depth: u8,
}

/// Every stored event, in order.
async fn stored(db: &TestDb) -> Vec<Stored> {
    db.client()
        .query(
            "SELECT name, pathname, prop_keys, prop_values, interactive, toString(revenue_amount) AS revenue, \
             revenue_currency, scroll_depth FROM events ORDER BY ts",
        )
        .fetch_all()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_plausible_tracker_works_unchanged() {
    let db = TestDb::new("plausible");
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let mut raw = db.config();
    raw.sites[0].origins = vec![origin.clone()];
    let app = start(raw).await;
    let endpoint = format!("http://{}/api/event", app.beacon_addr);
    let (report, stdout) = browser("plausible.mjs", vec![endpoint, port.to_string()]).await;
    let sent = report["sent"].as_array().unwrap();
    // What the tracker sent, by event name; each answered 202 and readable.
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    for s in sent {
        assert_eq!(s["status"], 202, "{s}");
        assert_eq!(s["cors"], origin.as_str(), "CORS: {s}");
        assert_eq!(s["body"]["v"], 36, "the current tracker version: {s}");
        *by_name
            .entry(s["body"]["n"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for r in report["results"].as_array().unwrap() {
        assert_eq!(r["status"], 202, "the tracker's own callback: {r}");
    }
    for name in [
        "pageview",
        "Signup",
        "Purchase",
        "Scrolled",
        "404",
        "Outbound Link: Click",
        "File Download",
        "Form: Submission",
        "engagement",
    ] {
        assert!(
            by_name.contains_key(name),
            "{name} not sent: {by_name:?}\n{stdout}"
        );
    }
    app.shutdown().await;

    let rows = stored(&db).await;
    let mut landed: BTreeMap<String, u64> = BTreeMap::new();
    for r in &rows {
        *landed.entry(r.name.clone()).or_default() += 1;
    }
    assert_eq!(landed, by_name, "every event sent is stored, once");
    let one = |n: &str| rows.iter().find(|r| r.name == n).unwrap();
    let prop = |r: &Stored, k: &str| {
        r.prop_keys
            .iter()
            .position(|x| x == k)
            .map(|i| r.prop_values[i].clone())
    };
    let signup = one("Signup");
    assert_eq!(prop(signup, "plan").as_deref(), Some("pro"));
    assert_eq!(signup.interactive, 1);
    let purchase = one("Purchase");
    assert_eq!(
        (
            purchase.revenue.as_str(),
            purchase.revenue_currency.as_str()
        ),
        ("10.5", "EUR")
    );
    assert_eq!(one("Scrolled").interactive, 0, "interactive: false is kept");
    assert!(
        rows.iter()
            .any(|r| r.name == "pageview" && r.pathname == "/checkout"),
        "the SPA navigation is a pageview of its path"
    );
    assert_eq!(
        prop(one("Outbound Link: Click"), "url").as_deref(),
        Some("https://partner.example.org/offer")
    );
    assert!(prop(one("File Download"), "url")
        .unwrap()
        .ends_with("/files/price-list.pdf"));
    assert!(
        rows.iter()
            .any(|r| r.name == "engagement" && r.scroll_depth > 0),
        "an engagement event with its scroll depth"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn umamis_tracker_works_unchanged() {
    const WEBSITE: &str = "4fb7fa4c-5b46-438d-94b3-3a8fb9bc2e8b";
    let db = TestDb::new("umami");
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let mut raw = db.config();
    raw.sites[0].origins = vec![origin.clone()];
    raw.sites[0].umami_website_id = WEBSITE.into();
    let app = start(raw).await;
    let base = format!("http://{}", app.beacon_addr);
    let (report, stdout) = browser(
        "umami.mjs",
        vec![base, port.to_string(), WEBSITE.to_string()],
    )
    .await;
    let sent = report["sent"].as_array().unwrap();
    for s in sent {
        assert_eq!(s["status"], 200, "{s}");
        assert_eq!(s["cors"], origin.as_str(), "CORS: {s}");
    }
    assert_eq!(
        sent.len(),
        4,
        "pageview, click, custom event, SPA pageview: {stdout}"
    );
    app.shutdown().await;
    let rows = stored(&db).await;
    let names: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.pathname.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("pageview", "/"),
            ("Signup", "/"),
            ("Purchase", "/"),
            ("pageview", "/next")
        ]
    );
    assert_eq!(
        (rows[1].prop_keys.clone(), rows[1].prop_values.clone()),
        (vec!["plan".to_string()], vec!["pro".to_string()])
    );
    assert!(
        rows[2].prop_keys.contains(&"amount".to_string())
            && rows[2].prop_values.contains(&"5".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tacits_own_tracker_from_its_snippet() {
    let db = TestDb::new("tracker");
    let port = free_port();
    let app = start(db.config()).await;
    let base = format!("http://{}", app.beacon_addr);
    // The snippet as `tacit snippet` prints it; the test page is on
    // 127.0.0.1 in an automated browser, which the tracker skips unless told.
    let snippet = tacit::beacon::script::snippet(&base, "example.com").replace(
        "data-domain=",
        "data-allow-local=\"1\" data-allow-automation=\"1\" data-domain=",
    );
    let (report, stdout) = browser("tacit.mjs", vec![base, port.to_string(), snippet]).await;
    assert_eq!(report["failed"].as_array().unwrap().len(), 0, "{stdout}");
    assert_eq!(report["cookies"], 0, "no cookies");
    assert_eq!(report["storage"], 0, "nothing in storage");
    let sent = report["sent"].as_array().unwrap().len() as u64;
    app.shutdown().await;
    let rows = stored(&db).await;
    assert_eq!(
        rows.len() as u64,
        sent,
        "every hit the browser sent is stored: {stdout}"
    );
    let has = |n: &str, path: &str| rows.iter().any(|r| r.name == n && r.pathname == path);
    assert!(has("pageview", "/") && has("pageview", "/next"), "{rows:?}");
    assert!(has("Signup", "/"));
    assert!(has("Outbound Link: Click", "/next"));
    assert!(has("File Download", "/next"));
    assert!(has("Form: Submission", "/next"));
    assert!(
        rows.iter()
            .any(|r| r.name == "engagement" && r.pathname == "/next" && r.scroll_depth > 0),
        "engagement on tab hide, with scroll depth: {rows:?}"
    );
    let signup = rows.iter().find(|r| r.name == "Signup").unwrap();
    assert_eq!(signup.prop_values, vec!["pro".to_string()]);
}
