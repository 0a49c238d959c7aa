//! `POST /api/import` over HTTP against the running collector and the real
//! engine: an upload imports what `tacit import` imports (the same file
//! through the command into another site gives the same views), answers
//! the summary as JSON, is idempotent, and every refusal is a 4xx with a
//! short reason; nothing of an upload stays on disk.

use std::collections::BTreeMap;
use std::io::Write;

use hyper::Method;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tacit::commands::import::{self as imp, Format, Options, Overlap};
use tacit::config::RawSite;
use tacit::model::clock::{Clock, SystemClock};

use crate::common::*;
use crate::import::fixture;

const KEY: &str = "upload-key-6c1f0a";
const OTHER_KEY: &str = "other-key-93bd2e";
/// The site's query API key: it reads, it never imports.
const READ_KEY: &str = "read-key-51aa7c";

fn sha(k: &str) -> String {
    hex::encode(Sha256::digest(k.as_bytes()))
}

async fn totals(db: &TestDb, site: &str) -> BTreeMap<String, (u64, u64)> {
    let rows: Vec<(String, u64, u64)> = db
        .client()
        .query(
            "SELECT toString(day), sum(pageviews), sum(visitors) FROM analytics_totals_daily
             WHERE site = ? GROUP BY day ORDER BY day",
        )
        .bind(site)
        .fetch_all()
        .await
        .unwrap();
    rows.into_iter().map(|(d, p, v)| (d, (p, v))).collect()
}

async fn upload(
    app: &tacit::app::Running,
    query: &str,
    key: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("content-type", "application/octet-stream")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let (s, h, b) = http(
        Method::POST,
        &format!("http://{}/api/import?{query}", app.admin_addr),
        &headers,
        body,
    )
    .await;
    assert_eq!(
        h.get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/json")
    );
    (s, serde_json::from_slice(&b).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_imported_like_the_command() {
    let db = TestDb::new("import_upload");
    let mut raw = db.config();
    raw.sites = ["up.example", "cli.example", "other.example"]
        .iter()
        .map(|d| RawSite {
            domain: (*d).into(),
            ..Default::default()
        })
        .collect();
    raw.sites[0].import_keys_sha256 = vec![sha(KEY)];
    raw.sites[2].import_keys_sha256 = vec![sha(OTHER_KEY)];
    raw.sites[0].api_keys_sha256 = vec![sha(READ_KEY)];
    let app = start(raw.clone()).await;

    // GoatCounter's export, gzipped as it ships.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(fixture("goatcounter_export.csv")).unwrap())
        .unwrap();
    let body = gz.finish().unwrap();
    let q = "site=up.example&from=goatcounter&name=export.csv.gz";
    let (s, summary) = upload(&app, q, Some(KEY), body.clone()).await;
    assert_eq!(s, 200, "{summary}");
    assert_eq!(summary["file"], "export.csv.gz");
    assert_eq!(summary["rows_read"], 16, "{summary}");
    assert_eq!(summary["skipped"]["bot"], 2, "{summary}");

    // The command, same file, another site: the same views.
    let cfg = raw.validate().unwrap();
    let cli = imp::import_file(
        &cfg,
        &db.store(),
        std::sync::Arc::new(tacit::enrich::Enrichers::load(&cfg.enrich).unwrap()),
        &fixture("goatcounter_export.csv"),
        &Options {
            site: "cli.example".into(),
            format: Format::GoatCounter,
            log_format: None,
            max_bad_lines: 0,
            overlap: Overlap::Refuse,
        },
        SystemClock.now_ms(),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(summary["imported"], cli.imported);
    let up = totals(&db, "up.example").await;
    assert!(!up.is_empty());
    assert_eq!(up, totals(&db, "cli.example").await);

    // The same upload again changes nothing.
    let (s, again) = upload(&app, q, Some(KEY), body.clone()).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["already_imported"], summary["import_id"]);
    assert_eq!(totals(&db, "up.example").await, up);

    // Refusals: a 4xx and a short reason each.
    let refused = [
        (q, None, body.clone(), 401),
        (q, Some("not-a-key"), body.clone(), 401),
        (q, Some(READ_KEY), body.clone(), 401),
        (q, Some(OTHER_KEY), body.clone(), 403),
        (
            "site=nope.example&from=goatcounter",
            Some(KEY),
            body.clone(),
            404,
        ),
        ("site=up.example&from=matomo", Some(KEY), body.clone(), 400),
        ("site=up.example", Some(KEY), body.clone(), 400),
        (
            "site=up.example&from=nginx&overlap=maybe",
            Some(KEY),
            body.clone(),
            400,
        ),
        ("site=up.example&from=nginx", Some(KEY), vec![], 400),
        (
            "site=up.example&from=umami",
            Some(KEY),
            b"x,y\n/,120\n".to_vec(),
            422,
        ),
        (
            "site=up.example&from=nginx&max_bad_lines=0",
            Some(KEY),
            b"not an access log line\n".to_vec(),
            422,
        ),
    ];
    for (query, key, body, want) in refused {
        let (s, v) = upload(&app, query, key, body).await;
        assert_eq!(s, want, "{query}: {v}");
        let why = v["error"].as_str().unwrap();
        assert!(!why.is_empty() && why.len() < 400, "{why}");
    }
    let (s, _, _) = get(
        app.admin_addr,
        "/api/import?site=up.example&from=nginx",
        &[],
    )
    .await;
    assert_eq!(s, 405);

    // A body announced larger than the limit is refused before it is read.
    let mut c = tokio::net::TcpStream::connect(app.admin_addr)
        .await
        .unwrap();
    let head = format!(
        "POST /api/import?site=up.example&from=nginx HTTP/1.1\r\nhost: x\r\n\
         authorization: Bearer {KEY}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        tacit::admin::import::DEFAULT_MAX_BYTES + 1
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        c.read_to_end(&mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(totals(&db, "up.example").await, up);

    // Nothing of the uploads stays on disk, and the fixture's canary row
    // (session id, agent, e-mail in the path, token) is nowhere: not in the
    // data directory (write-ahead log included), the tables or the logs.
    let left: Vec<_> = std::fs::read_dir(db.dir.join("import-uploads"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
    app.shutdown().await;
    let mut files = vec![db.dir.clone()];
    let mut read = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        read += 1;
        for canary in CANARIES {
            let found = bytes.windows(canary.len()).any(|w| w == canary.as_bytes());
            assert!(!found, "{canary} in {}", p.display());
        }
    }
    assert!(read > 0, "the data directory holds the write-ahead log");
    let dump = db.dump().await;
    let logs = logs();
    for canary in CANARIES {
        assert!(!dump.contains(canary), "{canary} stored");
        assert!(!logs.contains(canary), "{canary} logged");
    }
}

const CANARIES: &[&str] = &[
    "qzx-canary-session",
    "QzxCanary",
    "canary.person",
    "QzxCanaryToken4242",
];
