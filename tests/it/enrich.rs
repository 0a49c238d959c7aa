//! Enrichment and policy end to end: a hit becomes browser, OS, device,
//! source, channel, UTM and location columns; bots, consent signals,
//! opt-outs and excluded countries are dropped and counted per site and day.

use serde::Deserialize;

use crate::common::*;

#[derive(Debug, clickhouse::Row, Deserialize)]
struct Row {
    pathname: String,
    browser: String,
    browser_version: String,
    os: String,
    device: String,
    screen: String,
    referrer_source: String,
    channel: String,
    utm_source: String,
    utm_medium: String,
    utm_campaign: String,
    country: String,
    region: String,
    city: String,
    consent: String,
    visitor_id: u64,
}

const COLS: &str =
    "SELECT pathname, browser, browser_version, os, device, screen, referrer_source, channel, \
    utm_source, utm_medium, utm_campaign, country, region, city, consent, visitor_id FROM events";

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

fn config(db: &TestDb) -> tacit::config::RawConfig {
    let mut raw = db.config();
    let vendor = |f: &str| crate::support::vendor(f).display().to_string();
    raw.enrich.geoip = vec![
        vendor("test/GeoIP2-City-Test.mmdb"),
        vendor("dbip-country.mmdb"),
    ];
    raw
}

async fn send(
    addr: std::net::SocketAddr,
    path: &str,
    referrer: &str,
    headers: &[(&str, &str)],
) -> u16 {
    let body = serde_json::json!({"n": "pageview", "u": format!("https://example.com{path}"), "r": referrer, "w": 390}).to_string();
    post(addr, "/api/event", headers, &body).await.0
}

#[tokio::test]
async fn hits_are_enriched_and_coarsened_per_policy() {
    let db = TestDb::new("enrich");
    let mut raw = config(&db);
    raw.policy.location = "city".into();
    let app = start(raw).await;
    let h = [("user-agent", IPHONE), ("x-forwarded-for", "81.2.69.142")];
    assert_eq!(
        send(
            app.beacon_addr,
            "/a?utm_source=newsletter&utm_medium=email&utm_campaign=launch",
            "",
            &h
        )
        .await,
        202
    );
    assert_eq!(
        send(app.beacon_addr, "/b", "https://www.google.com/", &h).await,
        202
    );
    assert_eq!(
        send(
            app.beacon_addr,
            "/c?gclid=xyz",
            "https://www.google.com/",
            &h
        )
        .await,
        202
    );
    assert_eq!(
        send(
            app.beacon_addr,
            "/d",
            "https://chatgpt.com/",
            &[("user-agent", BROWSER_UA), ("x-forwarded-for", "8.8.8.8")]
        )
        .await,
        202
    );
    db.wait_rows("events", 4, 10).await;
    let rows: Vec<Row> = db
        .client()
        .query(&format!("{COLS} ORDER BY pathname"))
        .fetch_all()
        .await
        .unwrap();
    let a = &rows[0];
    assert_eq!(
        (
            a.browser.as_str(),
            a.browser_version.as_str(),
            a.os.as_str(),
            a.device.as_str(),
            a.screen.as_str()
        ),
        ("Mobile Safari", "17", "iOS", "mobile", "mobile")
    );
    assert_eq!(
        (a.referrer_source.as_str(), a.channel.as_str()),
        ("Newsletter", "email")
    );
    assert_eq!(
        (
            a.utm_source.as_str(),
            a.utm_medium.as_str(),
            a.utm_campaign.as_str()
        ),
        ("newsletter", "email", "launch")
    );
    assert_eq!(
        (a.country.as_str(), a.region.as_str(), a.city.as_str()),
        ("GB", "GB-ENG", "London")
    );
    assert_eq!(a.consent, "full");
    assert_eq!(
        (rows[1].referrer_source.as_str(), rows[1].channel.as_str()),
        ("Google", "search")
    );
    assert_eq!(rows[2].channel, "paid");
    assert_eq!(
        (
            rows[3].referrer_source.as_str(),
            rows[3].channel.as_str(),
            rows[3].country.as_str()
        ),
        ("ChatGPT", "ai", "US")
    );
    assert_eq!(
        (rows[3].browser.as_str(), rows[3].device.as_str()),
        ("Chrome", "desktop")
    );
    assert_eq!(
        rows[0].visitor_id, rows[1].visitor_id,
        "same visitor on one day"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn drops_are_counted_per_site_day_and_reason() {
    let db = TestDb::new("dropagg");
    let mut raw = config(&db);
    raw.policy.exclude_countries = vec!["SE".into()];
    raw.policy.gpc = "anonymous".into();
    let app = start(raw).await;
    let a = app.beacon_addr;
    let bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let headless = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36";
    for ua in [bot, headless, "curl/8.5.0"] {
        assert_eq!(send(a, "/", "", &[("user-agent", ua)]).await, 202);
    }
    assert_eq!(
        send(a, "/", "", &[("user-agent", BROWSER_UA), ("dnt", "1")]).await,
        202
    );
    assert_eq!(
        send(
            a,
            "/",
            "",
            &[
                ("user-agent", BROWSER_UA),
                ("x-forwarded-for", "89.160.20.128")
            ]
        )
        .await,
        202
    );
    assert_eq!(
        send(
            a,
            "/",
            "",
            &[
                ("user-agent", BROWSER_UA),
                ("cookie", "a=b; tacit_optout=1")
            ]
        )
        .await,
        202
    );
    // GPC is "anonymous" here: stored, without a visitor id.
    assert_eq!(
        send(
            a,
            "/gpc",
            "",
            &[("user-agent", BROWSER_UA), ("sec-gpc", "1")]
        )
        .await,
        202
    );
    db.wait_rows("events", 1, 10).await;
    let row: Row = db.client().query(COLS).fetch_one().await.unwrap();
    assert_eq!(
        (row.pathname.as_str(), row.consent.as_str(), row.visitor_id),
        ("/gpc", "anonymous", 0)
    );
    // tacit's UTC day (the engine's `today()` is in the server's zone).
    let day = tacit::model::clock::format_day(tacit::model::clock::day_of(
        tacit::model::clock::Clock::now_ms(&tacit::model::clock::SystemClock),
    ));
    app.shutdown().await; // writes the counts
    let counts: Vec<(String, String, u64)> = db
        .client()
        .query("SELECT site, reason, sum(hits) FROM dropped_hits WHERE day = toDate(?) GROUP BY site, reason ORDER BY reason")
        .bind(day)
        .fetch_all()
        .await
        .unwrap();
    let expected = vec![
        ("example.com".to_string(), "bot".to_string(), 3u64),
        ("example.com".into(), "do_not_track".into(), 1),
        ("example.com".into(), "excluded_country".into(), 1),
        ("example.com".into(), "opt_out".into(), 1),
    ];
    assert_eq!(counts, expected);
}

#[tokio::test]
async fn opt_out_endpoint_sets_the_only_cookie() {
    let db = TestDb::new("optout");
    let app = start(config(&db)).await;
    let (s, h, _) = get(app.beacon_addr, "/opt-out", &[]).await;
    assert_eq!(s, 200);
    let cookie = h["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("tacit_optout=1;") && cookie.contains("Max-Age="),
        "{cookie}"
    );
    let (_, h, _) = get(
        app.beacon_addr,
        "/opt-out",
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert!(h["set-cookie"]
        .to_str()
        .unwrap()
        .contains("SameSite=None; Secure"));
    let (s, h, _) = get(app.beacon_addr, "/opt-in", &[]).await;
    assert_eq!(s, 200);
    assert!(h["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    // No other endpoint sets a cookie.
    let (_, h, _) = get(
        app.beacon_addr,
        "/p.gif?n=pageview&u=https%3A%2F%2Fexample.com%2F",
        &[("user-agent", BROWSER_UA)],
    )
    .await;
    assert!(h.get("set-cookie").is_none());
    app.shutdown().await;
}

/// The stored device class weighs the agent, `Sec-CH-UA-Mobile` and the
/// tracker's width in that order (`model::device::decide`), end to end.
#[tokio::test]
async fn device_class_from_agent_then_hint_then_width() {
    let db = TestDb::new("device");
    let app = start(config(&db)).await;
    const APP: &str = "Dalvik/2.1.0 (Linux; U; Android 13; M2101K6G Build/TKQ1.221013.002)";
    const TABLET_CHROME: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    let cases: [(&str, &str, Option<&str>, u32, &str); 5] = [
        // A desktop agent in a phone-sized window stays a desktop.
        ("/1", BROWSER_UA, None, 375, "desktop"),
        // An agent that names its kind outranks the hint and the width.
        ("/2", TABLET_CHROME, Some("?1"), 390, "tablet"),
        // An app's own agent: the hint, else the width, else its guess.
        ("/3", APP, Some("?1"), 800, "mobile"),
        ("/4", APP, None, 800, "tablet"),
        ("/5", APP, None, 0, "mobile"),
    ];
    for (path, ua, hint, w, _) in cases {
        let mut h = vec![("user-agent", ua), ("x-forwarded-for", "81.2.69.142")];
        if let Some(v) = hint {
            h.push(("sec-ch-ua-mobile", v));
        }
        let mut body =
            serde_json::json!({"n": "pageview", "u": format!("https://example.com{path}")});
        if w > 0 {
            body["w"] = w.into();
        }
        assert_eq!(
            post(app.beacon_addr, "/api/event", &h, &body.to_string())
                .await
                .0,
            202
        );
    }
    db.wait_rows("events", cases.len() as u64, 10).await;
    let rows: Vec<(String, String)> = db
        .client()
        .query("SELECT pathname, device FROM events ORDER BY pathname")
        .fetch_all()
        .await
        .unwrap();
    let want: Vec<(String, String)> = cases
        .iter()
        .map(|(p, _, _, _, d)| (p.to_string(), d.to_string()))
        .collect();
    assert_eq!(rows, want);
    app.shutdown().await;
}
