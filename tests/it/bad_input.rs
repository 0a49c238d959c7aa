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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_over_its_budget_does_not_crowd_out_the_others() {
    let db = TestDb::new("ratelimit");
    let mut raw = db.config();
    raw.server.rate_limit_per_second = 5;
    raw.server.rate_limit_burst = 20;
    let app = start(raw).await;
    // Behind the trusted proxy (127.0.0.1): one greedy network, and
    // twenty ordinary visitors from other networks.
    let send = |ip: &'static str, path: String| {
        let addr = app.beacon_addr;
        async move {
            let body =
                format!(r#"{{"n":"pageview","u":"https://example.com{path}","d":"example.com"}}"#);
            post(
                addr,
                "/api/event",
                &[
                    ("user-agent", BROWSER_UA),
                    ("content-type", "text/plain"),
                    ("x-forwarded-for", ip),
                ],
                &body,
            )
            .await
            .0
        }
    };
    let flood = std::time::Instant::now();
    for i in 0..300 {
        assert_eq!(send("198.51.100.7", format!("/greedy/{i}")).await, 202);
    }
    // The burst, plus what 5 per second refilled while the flood lasted.
    let earned = 20 + (flood.elapsed().as_secs_f64() * 5.0).ceil() as u64;
    const OTHERS: [&str; 20] = [
        "203.0.113.1",
        "203.0.114.1",
        "203.0.115.1",
        "203.0.116.1",
        "203.0.117.1",
        "192.0.2.10",
        "192.0.3.10",
        "192.0.4.10",
        "192.0.5.10",
        "192.0.6.10",
        "100.64.1.1",
        "100.64.2.1",
        "100.64.3.1",
        "100.64.4.1",
        "100.64.5.1",
        "2001:db8:1::1",
        "2001:db8:2::1",
        "2001:db8:3::1",
        "2001:db8:4::1",
        "2001:db8:5::1",
    ];
    for (i, ip) in OTHERS.iter().enumerate() {
        assert_eq!(send(ip, format!("/other/{i}")).await, 202);
    }
    let metrics = app.metrics.clone();
    app.shutdown().await;
    let (greedy, others): (u64, u64) = db
        .client()
        .query("SELECT countIf(startsWith(pathname, '/greedy/')), countIf(startsWith(pathname, '/other/')) FROM events")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(others, 20, "every other visitor is stored");
    assert!(
        (20..=earned).contains(&greedy),
        "the greedy network got its burst and refill, no more: {greedy} of {earned}"
    );
    let limited = metrics.dropped(tacit::ingest::DropReason::RateLimited);
    assert_eq!(
        limited + greedy,
        300,
        "the excess is counted as rate_limited"
    );
    let counted: u64 = db
        .client()
        .query("SELECT sum(hits) FROM dropped_hits WHERE reason = 'rate_limited'")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(counted, limited, "and per site and day in dropped_hits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_refused_politely_and_slow_bodies_cut() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new("conncap");
    let mut raw = db.config();
    raw.server.io_threads = 1;
    raw.server.max_connections = 5;
    raw.server.body_timeout_ms = 500;
    let app = start(raw).await;
    // Five slow senders: headers, then a body that never comes.
    let mut slow = Vec::new();
    for _ in 0..5 {
        let mut s = tokio::net::TcpStream::connect(app.beacon_addr)
            .await
            .unwrap();
        s.write_all(b"POST /api/event HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n{")
            .await
            .unwrap();
        slow.push(s);
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // The sixth is told so and closed, while the five hold their places.
    let mut sixth = tokio::net::TcpStream::connect(app.beacon_addr)
        .await
        .unwrap();
    let mut answer = String::new();
    sixth.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 503") && answer.contains("too many connections"),
        "{answer}"
    );
    // The body timeout cuts the slow senders: 408, then the connection ends.
    for mut s in slow {
        let mut buf = String::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            s.read_to_string(&mut buf),
        )
        .await;
        assert!(buf.starts_with("HTTP/1.1 408"), "{buf}");
    }
    // Room again: an ordinary hit is served.
    beacon(app.beacon_addr, "/after").await;
    assert_eq!(
        app.metrics.rejected(tacit::ingest::Rejection::BodyTimeout),
        5
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_and_silent_connections_are_closed() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new("idle");
    let mut raw = db.config();
    raw.server.io_threads = 1;
    raw.server.idle_timeout_ms = 400;
    let app = start(raw).await;
    // One request on a keep-alive connection, then silence.
    let mut kept = tokio::net::TcpStream::connect(app.beacon_addr)
        .await
        .unwrap();
    let body = r#"{"n":"pageview","u":"https://example.com/idle","d":"example.com"}"#;
    let req = format!(
        "POST /api/event HTTP/1.1\r\nHost: x\r\nUser-Agent: {BROWSER_UA}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    kept.write_all(req.as_bytes()).await.unwrap();
    // A connection that never sends a byte.
    let mut silent = tokio::net::TcpStream::connect(app.beacon_addr)
        .await
        .unwrap();
    let started = Instant::now();
    for (name, s) in [("kept", &mut kept), ("silent", &mut silent)] {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "{name}: still open after 5 s");
        let answer = String::from_utf8_lossy(&buf);
        if name == "kept" {
            assert!(answer.starts_with("HTTP/1.1 2"), "{answer}");
        }
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350),
        "closed before the idle timeout: {waited:?}"
    );
    app.shutdown().await;
}
