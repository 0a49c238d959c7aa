//! The dashboard in real headless Chromium (Debian's package, driven by
//! playwright-core from npm; tests/browser/dashboard.mjs): on generated
//! data it loads with no external request and no cookie; a click on a
//! source filters every panel and adds a chip, removing it restores the
//! view; a comparison shows deltas; the interval switch redraws the graph;
//! the URL round-trips the view; a shared link opens without credentials
//! on the partner listener and refuses other sites; and every panel's
//! numbers equal the query API's answer to the same request, which the
//! script asks `POST /api/v2/query` itself (with a key). Screenshots stay
//! in target/browser-shots/dashboard/. Beside it, shared links over plain
//! HTTP: signed, bound to one site and one filter, revocable.

use std::process::Command;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tacit::config::{RawConfig, RawFunnel, RawSite};
use tacit::model::clock::format_day;

use crate::analytics::SITE;
use crate::common::*;

const KEY: &str = "dashboard-test-key";
const OTHER: &str = "other.org";
const OTHER_KEY: &str = "dashboard-other-key";
const SECRET: &str = "5eb1d2a4c6e8f0123456789abcdef0123456789abcdef0123456789abcdef012";

fn sha(k: &str) -> String {
    hex::encode(Sha256::digest(k.as_bytes()))
}

/// Two sites with keys, a funnel, the property `plan`, shared links on.
fn config(db: &TestDb) -> RawConfig {
    let mut raw = db.config();
    raw.sites[0].api_keys_sha256 = vec![sha(KEY)];
    raw.sites[0].api_rate_limit_per_hour = Some(100_000);
    raw.sites[0].allowed_properties = Some(vec!["plan".into()]);
    raw.sites.push(RawSite {
        domain: OTHER.into(),
        api_keys_sha256: vec![sha(OTHER_KEY)],
        ..Default::default()
    });
    raw.funnels = vec![RawFunnel {
        name: "signup".into(),
        steps: vec!["/".into(), "/pricing".into(), "/signup".into()],
        sites: vec![SITE.into()],
    }];
    raw.dashboard.share_secret = SECRET.into();
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_query_apis_answers_in_chromium() {
    let db = TestDb::new("dashboard");
    let app = start(config(&db)).await;
    let today = today(&db).await;
    // Four days: the view is the last two, the comparison the two before.
    let days = [today - 4, today - 3, today - 2, today - 1];
    crate::analytics::load_generated(&db, &days).await;
    // A live visitor, for the realtime view.
    let before = db.count("events").await;
    for path in ["/", "/pricing", "/signup"] {
        beacon(app.beacon_addr, path).await;
    }
    db.wait_rows("events", before + 3, 20).await;

    let shots =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-shots/dashboard");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let args = json!({
        "admin": format!("http://{}", app.admin_addr),
        "partner": format!("http://{}", app.partner_addr),
        "site": SITE,
        "other": OTHER,
        "key": KEY,
        "from": format_day(days[2]),
        "to": format_day(days[3]),
        "shots": shots.to_string_lossy(),
    })
    .to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/dashboard.mjs");
    let out =
        tokio::task::spawn_blocking(move || Command::new("node").args([script, &args]).output())
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
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("the script reports JSON");
    // The script compared panels with the API: it says how many numbers.
    assert!(
        report["compared"].as_u64().unwrap_or(0) > 200,
        "numbers compared: {report}"
    );
    for name in [
        "01-overview.png",
        "02-filtered-by-source.png",
        "03-chip-removed.png",
        "04-comparison.png",
        "05-interval-hour.png",
        "06-url-round-trip.png",
        "07-dark-360px.png",
        "08-shared-link.png",
        "09-realtime.png",
        "10-settings.png",
        "11-filtered-by-goal.png",
        "12-funnel.png",
        "13-email.png",
    ] {
        let len = std::fs::metadata(shots.join(name)).map_or(0, |m| m.len());
        assert!(len > 10_000, "screenshot {name}: {len} bytes");
    }
    app.shutdown().await;
}

/// A link made on the admin listener, as its token.
async fn share(app: &tacit::app::Running, body: Value) -> (u16, Value) {
    let (s, _, b) = post(
        app.admin_addr,
        "/dashboard/api/share",
        &[],
        &body.to_string(),
    )
    .await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

#[tokio::test]
async fn shared_links_are_one_site_one_filter_and_revocable() {
    let db = TestDb::new("dashshare");
    let app = start(config(&db)).await;
    let today = today(&db).await;
    crate::analytics::load_generated(&db, &[today - 1]).await;
    let day = format_day(today - 1);
    let filter = json!(["is", "visit:source", ["Google"]]);
    let (s, link) = share(&app, json!({"site_id": SITE, "filter": filter})).await;
    assert_eq!(s, 200, "{link}");
    let path = link["path"].as_str().unwrap().to_string();
    let id = link["id"].as_str().unwrap().to_string();

    // The page and its routes open on the partner listener with no key.
    let (s, h, page) = get(app.partner_addr, &path, &[]).await;
    assert_eq!(s, 200);
    assert!(String::from_utf8_lossy(&page).contains("<title>tacit</title>"));
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h.get("set-cookie").is_none());
    let (s, _, b) = get(app.partner_addr, &format!("{path}/sites"), &[]).await;
    assert_eq!(s, 200);
    let sites: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(sites["sites"].as_array().unwrap().len(), 1, "{sites}");
    assert_eq!(sites["shared"]["filter"], filter);
    assert_eq!(sites["can_share"], false);

    // A query through the link equals the API's with the link's filter.
    let q = |site: &str| json!({"site_id": site, "metrics": ["visitors", "pageviews"], "date_range": [day, day]});
    let (s, _, b) = post(
        app.partner_addr,
        &format!("{path}/query"),
        &[],
        &q(SITE).to_string(),
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let shared: Value = serde_json::from_slice(&b).unwrap();
    let mut with_filter = q(SITE);
    with_filter["filters"] = json!([filter]);
    let auth = format!("Bearer {KEY}");
    let (s, _, b) = post(
        app.admin_addr,
        "/api/v2/query",
        &[("authorization", &auth)],
        &with_filter.to_string(),
    )
    .await;
    assert_eq!(s, 200);
    let direct: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(shared["results"], direct["results"]);
    let (s, _, b) = post(
        app.admin_addr,
        "/api/v2/query",
        &[("authorization", &auth)],
        &q(SITE).to_string(),
    )
    .await;
    assert_eq!(s, 200);
    let unfiltered: Value = serde_json::from_slice(&b).unwrap();
    assert!(
        unfiltered["results"][0]["metrics"][0].as_u64()
            > shared["results"][0]["metrics"][0].as_u64(),
        "the link's filter narrows: {unfiltered} vs {shared}"
    );

    // Another site through the link: 403, for queries and realtime alike.
    let (s, _, _) = post(
        app.partner_addr,
        &format!("{path}/query"),
        &[],
        &q(OTHER).to_string(),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _, _) = get(
        app.partner_addr,
        &format!("{path}/realtime?site_id={OTHER}"),
        &[],
    )
    .await;
    assert_eq!(s, 403);
    let (s, _, b) = get(
        app.partner_addr,
        &format!("{path}/realtime?site_id={SITE}"),
        &[],
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    // A link cannot make links; the admin routes are not on the partner listener.
    let (s, _, _) = post(
        app.partner_addr,
        &format!("{path}/share"),
        &[],
        &json!({"site_id": SITE}).to_string(),
    )
    .await;
    assert_eq!(s, 404);
    for p in ["/dashboard", "/dashboard/api/sites"] {
        assert_eq!(get(app.partner_addr, p, &[]).await.0, 404, "{p}");
    }
    // A tampered token: one 404 for all.
    let mut bad = path.clone();
    bad.pop();
    bad.push(if path.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(get(app.partner_addr, &bad, &[]).await.0, 404);
    assert_eq!(get(app.partner_addr, "/share/nope", &[]).await.0, 404);
    // A link's filter is one chip-like condition; unknown sites have none.
    assert_eq!(
        share(
            &app,
            json!({"site_id": SITE, "filter": ["matches", "event:page", [".*"]]})
        )
        .await
        .0,
        400
    );
    assert_eq!(share(&app, json!({"site_id": "nope.example"})).await.0, 404);
    app.shutdown().await;

    // Revoked by id: the same secret, the link no longer opens.
    let mut raw = config(&db);
    raw.dashboard.revoked_shares = vec![id];
    let app = start(raw).await;
    assert_eq!(get(app.partner_addr, &path, &[]).await.0, 404);
    assert_eq!(
        post(
            app.partner_addr,
            &format!("{path}/query"),
            &[],
            &q(SITE).to_string()
        )
        .await
        .0,
        404
    );
    app.shutdown().await;

    // No secret: no links at all.
    let mut raw = config(&db);
    raw.dashboard.share_secret = String::new();
    let app = start(raw).await;
    assert_eq!(get(app.partner_addr, &path, &[]).await.0, 404);
    assert_eq!(share(&app, json!({"site_id": SITE})).await.0, 404);
    let (s, _, b) = get(app.admin_addr, "/dashboard/api/sites", &[]).await;
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&b).unwrap()["can_share"],
        false
    );
    // The partner listener still serves the export API and nothing of the admin's.
    for p in ["/metrics", "/readyz"] {
        assert_eq!(get(app.partner_addr, p, &[]).await.0, 404, "{p}");
    }
    assert_eq!(
        get(app.admin_addr, "/v1/exports/acme?period=2026-11", &[])
            .await
            .0,
        404
    );
    app.shutdown().await;
}

/// Visits per funnel step, computed here from the raw hits: a visit is a
/// visitor's hits with no gap over 30 minutes within a UTC day (the
/// generator lays visits hours apart), and it reaches step k when its
/// hits in time order pass steps 1..k in order (a page view by path, any
/// other event by name).
async fn funnel_by_hand(db: &TestDb, steps: &[&str], from: i32, to: i32) -> Vec<u64> {
    let rows = crate::analytics::run(
        db,
        "SELECT visitor_id, toUnixTimestamp64Milli(ts) AS t, toString(name), toString(pathname) \
         FROM events WHERE site = {site:String} AND visitor_id != 0 \
         AND toDate(ts) BETWEEN {from:Date} AND {to:Date} ORDER BY visitor_id, t",
        &[
            ("site", SITE),
            ("from", &format_day(from)),
            ("to", &format_day(to)),
        ],
    )
    .await;
    assert!(rows.len() > 1000, "generated hits: {}", rows.len());
    let mut want = vec![0u64; steps.len()];
    let mut depth = 0usize;
    let mut last: Option<(u64, i64)> = None;
    let close = |depth: usize, want: &mut Vec<u64>| {
        for w in want.iter_mut().take(depth) {
            *w += 1;
        }
    };
    for r in &rows {
        let visitor = r[0].as_u64().unwrap();
        let t = r[1].as_i64().unwrap();
        let hit = if r[2] == "pageview" { &r[3] } else { &r[2] };
        let same_visit = last.is_some_and(|(v, lt)| {
            v == visitor && t - lt <= 30 * 60_000 && t / 86_400_000 == lt / 86_400_000
        });
        if !same_visit {
            if last.is_some() {
                close(depth, &mut want);
            }
            depth = 0;
        }
        if depth < steps.len() && hit.as_str() == Some(steps[depth]) {
            depth += 1;
        }
        last = Some((visitor, t));
    }
    close(depth, &mut want);
    want
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        (a as f64 * 10_000.0 / b as f64).round() / 100.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funnels_answer_per_step_as_counted_from_the_hits() {
    let db = TestDb::new("dashfunnel");
    let mut raw = config(&db);
    raw.funnels.push(RawFunnel {
        name: "pricing to signup".into(),
        steps: vec!["/pricing".into(), "signup".into()],
        sites: vec![SITE.into()],
    });
    let app = start(raw).await;
    let today = today(&db).await;
    let days = [today - 3, today - 2, today - 1];
    crate::analytics::load_generated(&db, &days).await;
    let ask = |addr, path: String, body: Value| async move {
        let (s, _, b) = post(addr, &path, &[], &body.to_string()).await;
        (
            s,
            serde_json::from_slice::<Value>(&b).unwrap_or(Value::Null),
        )
    };
    let range = |a: i32, b: i32| json!([format_day(a), format_day(b)]);
    let check = |got: &Value, want: &[u64], steps: &[&str]| {
        let s = got["steps"].as_array().unwrap();
        assert_eq!(s.len(), steps.len(), "{got}");
        for (i, st) in s.iter().enumerate() {
            let prev = if i == 0 { want[0] } else { want[i - 1] };
            assert_eq!(st["name"], steps[i], "{got}");
            assert_eq!(st["visits"], want[i], "step {} of {got}", i + 1);
            assert_eq!(st["conversion_rate"], pct(want[i], want[0]), "{got}");
            assert_eq!(st["conversion_rate_step"], pct(want[i], prev), "{got}");
            assert_eq!(st["dropoff"], prev - want[i], "{got}");
        }
        assert_eq!(got["entering_visits"], want[0]);
        assert_eq!(got["converted_visits"], want[steps.len() - 1]);
    };
    let funnels: [(&str, &[&str]); 2] = [
        ("signup", &["/", "/pricing", "/signup"]),
        ("pricing to signup", &["/pricing", "signup"]),
    ];
    // From the open days (visits), then with the first day rolled up (the
    // seam inside the range), then a one-day range.
    for rolled in [false, true] {
        if rolled {
            tacit::analytics::rollup::rollup_day(&db.store(), days[0], 10)
                .await
                .unwrap();
        }
        for (name, steps) in funnels {
            for (from, to) in [(days[0], days[2]), (days[1], days[1])] {
                let want = funnel_by_hand(&db, steps, from, to).await;
                assert!(want[steps.len() - 1] > 0 && want[0] > want[1], "{want:?}");
                let (s, got) = ask(
                    app.admin_addr,
                    "/dashboard/api/funnel".into(),
                    json!({"site_id": SITE, "funnel": name, "date_range": range(from, to)}),
                )
                .await;
                assert_eq!(s, 200, "{got}");
                check(&got, &want, steps);
            }
        }
    }
    // Refusals name the part: filters, an unknown funnel, another site's.
    let (s, got) = ask(
        app.admin_addr,
        "/dashboard/api/funnel".into(),
        json!({"site_id": SITE, "funnel": "signup", "date_range": "7d",
               "filters": [["is", "visit:source", ["Google"]]]}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        got["error"].as_str().unwrap().starts_with("filters"),
        "{got}"
    );
    for (site, name) in [(SITE, "nope"), (OTHER, "signup")] {
        let (s, _) = ask(
            app.admin_addr,
            "/dashboard/api/funnel".into(),
            json!({"site_id": site, "funnel": name, "date_range": "7d"}),
        )
        .await;
        assert_eq!(s, 404, "{site} {name}");
    }
    // A shared link: its own site's funnel, unless the link is filtered.
    let (_, open) = share(&app, json!({"site_id": SITE})).await;
    let (_, filtered) = share(
        &app,
        json!({"site_id": SITE, "filter": ["is", "visit:source", ["Google"]]}),
    )
    .await;
    let body = json!({"site_id": SITE, "funnel": "signup", "date_range": range(days[0], days[2])});
    let (s, via_link) = ask(
        app.partner_addr,
        format!("{}/funnel", open["path"].as_str().unwrap()),
        body.clone(),
    )
    .await;
    assert_eq!(s, 200, "{via_link}");
    let (_, direct) = ask(app.admin_addr, "/dashboard/api/funnel".into(), body.clone()).await;
    assert_eq!(via_link["steps"], direct["steps"]);
    let (s, _) = ask(
        app.partner_addr,
        format!("{}/funnel", filtered["path"].as_str().unwrap()),
        body,
    )
    .await;
    assert_eq!(s, 400, "a filtered link gets no unfiltered funnel");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_opens_and_clicks_as_counted_from_email_events() {
    let db = TestDb::new("dashemail");
    let app = start(config(&db)).await;
    let today = today(&db).await;
    let days = [today - 2, today - 1];
    crate::analytics::load_generated(&db, &days).await;
    for (from, to) in [(days[0], days[1]), (days[1], days[1])] {
        let (from, to) = (format_day(from), format_day(to));
        // By hand from the raw opens and clicks: people apart from
        // machines, unique per day and variant, summed.
        let want = crate::analytics::run(
            &db,
            "SELECT campaign, countIf(kind = 'open' AND class = 'human') AS o, \
             uniqExactIf((toDate(ts), variant, visitor_id), kind = 'open' AND class = 'human' AND visitor_id != 0) AS uo, \
             countIf(kind = 'click' AND class = 'human'), \
             uniqExactIf((toDate(ts), variant, visitor_id), kind = 'click' AND class = 'human' AND visitor_id != 0) AS uc, \
             countIf(kind = 'open' AND class != 'human'), countIf(kind = 'click' AND class != 'human') \
             FROM email_events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date} \
             GROUP BY campaign ORDER BY uo DESC, campaign",
            &[("site", SITE), ("from", &from), ("to", &to)],
        )
        .await;
        assert_eq!(want.len(), 3, "three generated campaigns: {want:?}");
        let (s, _, b) = post(
            app.admin_addr,
            "/dashboard/api/email",
            &[],
            &json!({"site_id": SITE, "date_range": [from, to]}).to_string(),
        )
        .await;
        let got: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(s, 200, "{got}");
        let got: Vec<Vec<Value>> = got["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                [
                    "campaign",
                    "opens",
                    "unique_opens",
                    "clicks",
                    "unique_clicks",
                    "machine_opens",
                    "machine_clicks",
                ]
                .iter()
                .map(|k| c[*k].clone())
                .collect()
            })
            .collect();
        assert_eq!(got, want);
        assert!(want
            .iter()
            .all(|r| r[2].as_u64() > Some(0) && r[4].as_u64() > Some(0)));
    }
    // Filters are refused by name; another site is 404, as for funnels.
    let (s, _, b) = post(
        app.admin_addr,
        "/dashboard/api/email",
        &[],
        &json!({"site_id": SITE, "date_range": "7d", "filters": [["is", "visit:country", ["DE"]]]})
            .to_string(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(String::from_utf8_lossy(&b).contains("filters"));
    let (s, _, _) = post(
        app.admin_addr,
        "/dashboard/api/email",
        &[],
        &json!({"site_id": "nope.example", "date_range": "7d"}).to_string(),
    )
    .await;
    assert_eq!(s, 404);
    app.shutdown().await;
}
