//! Pixel and beacon hits land in `events` with the right fields.

use serde::Deserialize;

use crate::common::*;

#[derive(Debug, clickhouse::Row, Deserialize)]
struct Row {
    site: String,
    name: String,
    hostname: String,
    pathname: String,
    referrer_host: String,
    ip_prefix: String,
    language: String,
    screen_width: u16,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
}

const COLS: &str = "SELECT site, name, hostname, pathname, referrer_host, ip_prefix, language, screen_width, prop_keys, prop_values FROM events";

#[tokio::test]
async fn pixel_hit_lands_with_its_fields() {
    let db = TestDb::new("pixel");
    let app = start(db.config()).await;
    let (status, headers, body) = get(
        app.beacon_addr,
        "/p.gif?n=pageview&u=https%3A%2F%2Fwww.example.com%2Fpricing%2F%3Fplan%3Dpro%23top&r=https%3A%2F%2Fwww.google.com%2Fsearch%3Fq%3Dx&d=example.com&w=390",
        &[("user-agent", BROWSER_UA), ("accept-language", "fr-CH, fr;q=0.9"), ("x-forwarded-for", "198.51.100.23")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, tacit::beacon::GIF);
    assert_eq!(body.len(), 43);
    assert_eq!(headers["content-type"], "image/gif");
    assert_eq!(headers["cache-control"], "no-store");

    db.wait_rows("events", 1, 10).await;
    let row: Row = db.client().query(COLS).fetch_one().await.unwrap();
    assert_eq!(row.site, "example.com");
    assert_eq!(row.name, "pageview");
    assert_eq!(row.hostname, "example.com");
    assert_eq!(row.pathname, "/pricing");
    assert_eq!(row.referrer_host, "google.com");
    assert_eq!(row.ip_prefix, "198.51.100.0/24");
    assert_eq!(row.language, "fr");
    assert_eq!(row.screen_width, 390);
    assert!(row.prop_keys.is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn beacon_hit_lands_with_short_or_long_names_and_cors() {
    let db = TestDb::new("beacon");
    let app = start(db.config()).await;
    let short = r#"{"n":"pageview","u":"https://example.com/a?x=1","d":"example.com","r":"https://www.google.com/","w":1280,"p":{"plan":"pro"}}"#;
    let long = r#"{"name":"signup","url":"https://example.com/b","domain":"example.com","referrer":"https://news.ycombinator.com/item?id=1","screen_width":800,"props":{"plan":"team","seats":5}}"#;
    for (body, ctype) in [
        (short, "text/plain;charset=UTF-8"),
        (long, "application/json"),
    ] {
        let (s, h, b) = post(
            app.beacon_addr,
            "/api/event",
            &[
                ("user-agent", BROWSER_UA),
                ("content-type", ctype),
                ("origin", "https://example.com"),
            ],
            body,
        )
        .await;
        assert_eq!(s, 202, "{}", String::from_utf8_lossy(&b));
        assert_eq!(h["access-control-allow-origin"], "https://example.com");
    }
    db.wait_rows("events", 2, 10).await;
    let rows: Vec<Row> = db
        .client()
        .query(&format!("{COLS} ORDER BY name"))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(rows[0].name, "pageview");
    assert_eq!(rows[0].pathname, "/a");
    assert_eq!(rows[0].referrer_host, "google.com");
    assert_eq!(rows[0].screen_width, 1280);
    assert_eq!(
        (rows[0].prop_keys.clone(), rows[0].prop_values.clone()),
        (vec!["plan".into()], vec!["pro".into()])
    );
    assert_eq!(rows[1].name, "signup");
    assert_eq!(rows[1].referrer_host, "news.ycombinator.com");
    assert_eq!(rows[1].prop_keys, vec!["plan", "seats"]);
    assert_eq!(rows[1].prop_values, vec!["team", "5"]);

    // CORS preflight: any origin of a configured site, nothing else.
    for origin in [
        "https://example.com",
        "https://shop.example.com",
        "http://example.com:8000",
    ] {
        let (s, h, _) = crate::common::http(
            hyper::Method::OPTIONS,
            &format!("http://{}/api/event", app.beacon_addr),
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
            ],
            vec![],
        )
        .await;
        assert_eq!(s, 204, "{origin}");
        assert_eq!(h["access-control-allow-origin"], origin);
        assert!(h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST"));
    }
    let (s, h, _) = crate::common::http(
        hyper::Method::OPTIONS,
        &format!("http://{}/api/event", app.beacon_addr),
        &[("origin", "https://evil-example.com")],
        vec![],
    )
    .await;
    assert_eq!(s, 403);
    assert!(h.get("access-control-allow-origin").is_none());
    app.shutdown().await;
}
