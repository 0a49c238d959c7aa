//! The integration harness: a real ClickHouse (the local engine or
//! `TEST_CLICKHOUSE_URL`), a fresh database per test, tacit started
//! in-process on port 0, an HTTP client, captured logs, and a TCP proxy that
//! can take ClickHouse "down" and bring it back.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tacit::config::{Config, RawConfig, RawSite};
use tacit::model::clock::{SharedClock, SystemClock};

/// Poll `ok` every 25 ms until it holds; fail, naming `what`, once `secs`
/// have passed without it. The one wait of the integration tests.
pub async fn wait_until(what: &str, secs: u64, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A line straight to the terminal: libtest captures `eprintln!` of a
/// passing test, this shows in `make test` output.
pub fn loud(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Say loudly that a test did not run its real fault, and why. The test
/// then returns without asserting anything weaker in the fault's place.
pub fn skipped(test: &str, reason: &str) {
    loud(&format!("SKIPPED {test}: {reason}"));
}

/// A test that reads "today" here has at least this long before the day
/// changes under it (the longest test runs about three minutes).
const DAY_MARGIN_MS: i64 = 5 * 60_000;

/// "Now" for a test whose rows and queries name a day: tacit's clock, read
/// at least [`DAY_MARGIN_MS`] before midnight UTC (near midnight it waits
/// past it), so the day the test computes is the day the engine's
/// `today()` says for the whole test. One source for every test: a test
/// run across midnight cannot see two days.
pub async fn settled_now(db: &TestDb) -> i64 {
    use tacit::model::clock::{day_of, Clock};
    loop {
        let now = SystemClock.now_ms();
        let left = 86_400_000 - now.rem_euclid(86_400_000);
        if left < DAY_MARGIN_MS {
            tokio::time::sleep(Duration::from_millis(left as u64 + 1_000)).await;
            continue;
        }
        // Not `db.client()`: the database may not exist yet.
        let engine: i32 = clickhouse::Client::default()
            .with_url(&db.url)
            .query("SELECT toInt32(today() - toDate('1970-01-01'))")
            .fetch_one()
            .await
            .unwrap();
        if engine != day_of(now) {
            loud(&format!(
                "NOTE: the engine's today() is day {engine}, tacit's UTC day is {}: the engine does not run in UTC",
                day_of(now)
            ));
        }
        return now;
    }
}

/// Today (UTC day number) for a test, from [`settled_now`].
pub async fn today(db: &TestDb) -> i32 {
    tacit::model::clock::day_of(settled_now(db).await)
}

pub fn clickhouse_url() -> String {
    std::env::var("TEST_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".into())
}

// ------------------------------------------------------------------ logs

#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line tacit wrote in this test process (all tests share it).
pub fn logs() -> String {
    String::from_utf8_lossy(&log_buffer().0.lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static LogBuffer {
    static BUF: OnceLock<LogBuffer> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = LogBuffer::default();
        let w = buf.clone();
        // Debug level: the strictest test of what reaches logs.
        tacit::telemetry::logging::init(
            tacit::config::LogFormat::Json,
            "debug,hyper=info,hyper_util=info",
            move || w.clone(),
        );
        buf
    })
}

// -------------------------------------------------------------- database

static SEQ: AtomicU64 = AtomicU64::new(0);

pub struct TestDb {
    pub name: String,
    pub url: String,
    /// The data directory (`server.data_dir`), removed with `_tmp`.
    pub dir: std::path::PathBuf,
    _tmp: tempfile::TempDir,
}

impl TestDb {
    pub fn new(tag: &str) -> Self {
        log_buffer();
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("t_{tag}_{}_{n}_{nanos}", std::process::id());
        let tmp = tempfile::Builder::new()
            .prefix("tacit-it-")
            .tempdir()
            .unwrap();
        Self {
            name,
            url: clickhouse_url(),
            dir: tmp.path().to_path_buf(),
            _tmp: tmp,
        }
    }

    pub fn client(&self) -> clickhouse::Client {
        clickhouse::Client::default()
            .with_url(&self.url)
            .with_database(&self.name)
    }

    /// The handle the library's functions take, on one server.
    pub fn store(&self) -> tacit::store::Store {
        tacit::store::Store::from_parts(self.client(), &self.name, None)
    }

    /// A config for this database: port 0 listeners, one site, fast flush.
    pub fn config(&self) -> RawConfig {
        let mut raw = RawConfig::default();
        raw.server.listen = "127.0.0.1:0".into();
        raw.server.admin_listen = "127.0.0.1:0".into();
        raw.server.partner_listen = "127.0.0.1:0".into();
        raw.server.data_dir = self.dir.to_string_lossy().into_owned();
        raw.server.trusted_proxies = vec!["127.0.0.1/32".into()];
        raw.clickhouse.url = self.url.clone();
        raw.clickhouse.database = self.name.clone();
        raw.sink.flush_interval_ms = 100;
        // Tests send thousands of hits from one address; the limit has its
        // own test (`bad_input.rs`).
        raw.server.rate_limit_per_second = 0;
        // Keep the truncated network, so tests see what truncation stores.
        raw.policy.ip = "truncate".into();
        raw.sink.retry_interval_ms = 200;
        // Outages in tests last seconds: retries back off to 1 s at most.
        raw.sink.retry_max_interval_ms = 1_000;
        raw.sites = vec![RawSite {
            hash_routing: false,
            domain: "example.com".into(),
            origins: vec![],
            ..Default::default()
        }];
        raw
    }

    pub async fn count(&self, table: &str) -> u64 {
        self.client()
            .query(&format!("SELECT count() FROM {table}"))
            .fetch_one()
            .await
            .unwrap()
    }

    /// Wait until `table` has `n` rows (or fail after `secs`).
    pub async fn wait_rows(&self, table: &str, n: u64, secs: u64) {
        let mut c = 0;
        wait_until(&format!("{table} to hold {n} rows"), secs, async || {
            c = self.count(table).await;
            c == n
        })
        .await;
        assert_eq!(c, n, "{table}");
    }

    /// Every row of every table and view in the database, as text.
    /// Parameterized views (no columns until called) are skipped: they
    /// only read other views, which are dumped.
    pub async fn dump(&self) -> String {
        let tables: Vec<String> = self
            .client()
            .query("SELECT name FROM system.tables WHERE database = ? AND name IN (SELECT table FROM system.columns WHERE database = ?) ORDER BY name")
            .bind(&self.name)
            .bind(&self.name)
            .fetch_all()
            .await
            .unwrap();
        let mut out = String::new();
        for t in tables {
            let body = raw_query(
                &self.url,
                &format!("SELECT * FROM `{}`.`{t}` FORMAT TSVWithNames", self.name),
            )
            .await;
            out.push_str(&format!("== {t}\n{body}\n"));
        }
        out
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Blocking and connection-less: the test's runtime may be the one
        // dropping us, so no async client (its pooled connections) here.
        let sql = format!("DROP DATABASE IF EXISTS `{}` SYNC", self.name);
        let _ = blocking_post(&self.url, &sql);
    }
}

fn blocking_post(url: &str, sql: &str) -> std::io::Result<()> {
    use std::io::Read;
    let u = url::Url::parse(url).map_err(std::io::Error::other)?;
    let host = u.host_str().unwrap_or("127.0.0.1");
    let port = u.port_or_known_default().unwrap_or(8123);
    let mut s = std::net::TcpStream::connect((host, port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sql}",
        sql.len()
    )?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(())
}

/// A plain HTTP query to ClickHouse, returning the body text.
pub async fn raw_query(url: &str, sql: &str) -> String {
    let (status, _, body) = http(
        Method::POST,
        &format!("{url}/"),
        &[],
        sql.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{sql}: {}", String::from_utf8_lossy(&body));
    String::from_utf8_lossy(&body).into_owned()
}

// ------------------------------------------------------------------ tacit

pub async fn start(raw: RawConfig) -> tacit::app::Running {
    start_with_clock(raw, Arc::new(SystemClock)).await
}

pub async fn start_with_clock(raw: RawConfig, clock: SharedClock) -> tacit::app::Running {
    let cfg: Config = raw.validate().expect("test config is valid");
    let opts = tacit::app::Options {
        migrate: true,
        ..Default::default()
    };
    tacit::app::start(&cfg, clock, opts)
        .await
        .expect("tacit starts")
}

// ------------------------------------------------------------------- http

pub type Headers<'a> = &'a [(&'a str, &'a str)];

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// One pooled client per runtime: a pooled connection lives on the runtime
/// that opened it, and each test has its own runtime.
fn client() -> HttpClient {
    static C: OnceLock<Mutex<std::collections::HashMap<tokio::runtime::Id, HttpClient>>> =
        OnceLock::new();
    let id = tokio::runtime::Handle::current().id();
    C.get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(id)
        .or_insert_with(|| {
            Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(64)
                .build_http()
        })
        .clone()
}

pub async fn http(
    method: Method,
    url: &str,
    headers: Headers<'_>,
    body: Vec<u8>,
) -> (u16, hyper::HeaderMap, Vec<u8>) {
    try_http(method, url, headers, body)
        .await
        .unwrap_or_else(|e| panic!("request to {url} failed: {e}"))
}

/// A request whose failure (a refused or reset connection) is an answer.
pub async fn try_http(
    method: Method,
    url: &str,
    headers: Headers<'_>,
    body: Vec<u8>,
) -> Result<(u16, hyper::HeaderMap, Vec<u8>), String> {
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client()
        .request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{e:?}"))?
        .to_bytes()
        .to_vec();
    Ok((status, headers, body))
}

pub const BROWSER_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

pub async fn get(
    addr: SocketAddr,
    path_and_query: &str,
    headers: Headers<'_>,
) -> (u16, hyper::HeaderMap, Vec<u8>) {
    http(
        Method::GET,
        &format!("http://{addr}{path_and_query}"),
        headers,
        vec![],
    )
    .await
}

pub async fn post(
    addr: SocketAddr,
    path: &str,
    headers: Headers<'_>,
    body: &str,
) -> (u16, hyper::HeaderMap, Vec<u8>) {
    http(
        Method::POST,
        &format!("http://{addr}{path}"),
        headers,
        body.as_bytes().to_vec(),
    )
    .await
}

/// A beacon hit for `example.com` at `path`, answered 202.
pub async fn beacon(addr: SocketAddr, path: &str) {
    let body = format!(r#"{{"n":"pageview","u":"https://example.com{path}","d":"example.com"}}"#);
    let (s, _, b) = post(
        addr,
        "/api/event",
        &[("user-agent", BROWSER_UA), ("content-type", "text/plain")],
        &body,
    )
    .await;
    assert_eq!(s, 202, "{}", String::from_utf8_lossy(&b));
}

pub use crate::harness::*;

/// Rows of a query in `database` (JSONCompact, 64-bit integers as
/// numbers), with ClickHouse query parameters.
pub async fn run_in(
    database: &str,
    sql: &str,
    params: &[(&str, &str)],
) -> Vec<Vec<serde_json::Value>> {
    let mut url = format!(
        "{}/?database={database}&default_format=JSONCompact&output_format_json_quote_64bit_integers=0",
        clickhouse_url()
    );
    for (k, v) in params {
        url.push_str(&format!(
            "&param_{k}={}",
            url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
        ));
    }
    let (status, _, body) = http(hyper::Method::POST, &url, &[], sql.as_bytes().to_vec()).await;
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{database}: {sql}\n{text}");
    if text.trim().is_empty() {
        return vec![];
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().clone())
        .collect()
}
