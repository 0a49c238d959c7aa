//! Bad input gets its 4xx with a one-line reason, is counted, and never
//! reaches ClickHouse.

use hyper::Method;

use crate::common::*;

#[tokio::test]
async fn bad_inputs_get_their_status_and_never_land() {
    let db = TestDb::new("bad");
    let mut raw = db.config();
    raw.server.max_body_bytes = 1024;
    let app = start(raw).await;
    let a = app.beacon_addr;
    let ua = [
        ("user-agent", BROWSER_UA),
        ("content-type", "application/json"),
    ];
    let big = format!(
        r#"{{"n":"pageview","u":"https://example.com/","p":{{"k":"{}"}}}}"#,
        "x".repeat(2000)
    );
    // (method, path, headers, body, expected status)
    type Case<'a> = (Method, &'a str, Vec<(&'a str, &'a str)>, String, u16);
    let cases: Vec<Case> = vec![
        (Method::POST, "/api/event", ua.to_vec(), big, 413),
        (
            Method::POST,
            "/api/event",
            ua.to_vec(),
            "{not json".into(),
            400,
        ),
        (
            Method::POST,
            "/api/event",
            ua.to_vec(),
            r#"{"n":"pageview"}"#.into(),
            400,
        ),
        (
            Method::POST,
            "/api/event",
            ua.to_vec(),
            r#"{"u":"https://example.com/"}"#.into(),
            400,
        ),
        (
            Method::POST,
            "/api/event",
            ua.to_vec(),
            r#"{"n":"pageview","u":"ftp://example.com/"}"#.into(),
            400,
        ),
        (
            Method::POST,
            "/api/event",
            ua.to_vec(),
            r#"{"n":"pageview","u":"https://example.com/","d":"unknown.org"}"#.into(),
            400,
        ),
        (
            Method::POST,
            "/api/event",
            ua.to_vec(),
            r#"{"n":"pageview","u":"https://unknown.org/"}"#.into(),
            400,
        ),
        (
            Method::POST,
            "/api/event",
            vec![("content-type", "image/png")],
            r#"{"n":"pageview","u":"https://example.com/"}"#.into(),
            415,
        ),
        (Method::PUT, "/api/event", ua.to_vec(), "{}".into(), 405),
        (Method::DELETE, "/p.gif", vec![], String::new(), 405),
        (Method::GET, "/p.gif?n=pageview", vec![], String::new(), 400),
        (
            Method::GET,
            "/p.gif?n=pageview&u=https%3A%2F%2Fexample.com%2F&w=wide",
            vec![],
            String::new(),
            400,
        ),
        (Method::GET, "/nope", vec![], String::new(), 404),
    ];
    for (method, path, headers, body, want) in cases {
        let (s, _, b) = http(
            method.clone(),
            &format!("http://{a}{path}"),
            &headers,
            body.into_bytes(),
        )
        .await;
        let text = String::from_utf8_lossy(&b);
        assert_eq!(s, want, "{method} {path}: {text}");
        assert_eq!(text.trim().lines().count(), 1, "one-line reason: {text:?}");
    }
    // A good hit after the bad ones: once it is stored, nothing else is.
    beacon(a, "/good").await;
    // Shutdown drains the writer: whatever was accepted is in ClickHouse.
    let metrics = app.metrics.clone();
    app.shutdown().await;
    assert_eq!(db.count("events").await, 1);
    let m = metrics.render();
    assert!(
        m.contains("tacit_hits_rejected_total{reason=\"unknown_site\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("tacit_hits_rejected_total{reason=\"body_too_large\"} 1"),
        "{m}"
    );
}

#[tokio::test]
async fn prefetch_and_agentless_hits_are_dropped_and_counted() {
    let db = TestDb::new("drops");
    let app = start(db.config()).await;
    let body = r#"{"n":"pageview","u":"https://example.com/"}"#;
    let (s, _, _) = post(
        app.beacon_addr,
        "/api/event",
        &[("user-agent", BROWSER_UA), ("sec-purpose", "prefetch")],
        body,
    )
    .await;
    assert_eq!(s, 202);
    let (s, _, _) = post(app.beacon_addr, "/api/event", &[], body).await;
    assert_eq!(s, 202);
    beacon(app.beacon_addr, "/kept").await;
    db.wait_rows("events", 1, 10).await;
    assert_eq!(app.metrics.dropped(tacit::ingest::DropReason::Prefetch), 1);
    assert_eq!(
        app.metrics
            .dropped(tacit::ingest::DropReason::EmptyUserAgent),
        1
    );
    app.shutdown().await;
}
