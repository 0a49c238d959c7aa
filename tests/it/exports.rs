//! Partner exports against the real engine: exact counts, suppression that
//! survives a reconstruction attack, byte-identical files, the privacy
//! budget, the ledger and its annual report, and the bearer-token API.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use tacit::config::exports::RawExport;
use tacit::config::RawConfig;
use tacit::export::{self, Channel, ExportError};
use tacit::model::clock::{day_of, format_day, Clock, ManualClock, SystemClock};

use crate::common::*;
use crate::support::Rng;

const SITE: &str = "example.com";

#[derive(Debug, Clone, Serialize, clickhouse::Row)]
struct Hit {
    site: String,
    ts: i64,
    name: String,
    hostname: String,
    pathname: String,
    visitor_id: u64,
    country: String,
    device: String,
    channel: String,
    referrer_source: String,
    referrer_host: String,
    ip_prefix: String,
    language: String,
    screen_width: u16,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
}

/// The last complete ISO week before today: (monday, label).
fn last_week(today: i32) -> (i32, String) {
    let monday = today - (today + 3).rem_euclid(7) - 7;
    (monday, export::period::week_label(monday))
}

/// A week of traffic with a long tail: many cells of few visitors.
async fn load(db: &TestDb, monday: i32) -> usize {
    let countries = [
        "US", "DE", "FR", "GB", "NL", "IT", "ES", "SE", "PL", "BR", "JP", "IN", "CA", "AU",
    ];
    let devices = ["desktop", "mobile", "tablet"];
    let channels = [
        ("direct", ""),
        ("search", "Google"),
        ("social", "Facebook"),
        ("email", "Newsletter"),
        ("referral", "news.example"),
    ];
    let pages = [
        "/", "/pricing", "/docs", "/blog/a", "/blog/b", "/signup", "/about",
    ];
    let mut rng = Rng(0x5eed);
    let mut hits = Vec::new();
    for v in 0..700u64 {
        let visitor = rng.next() | 1;
        let country = *rng.zipf_pick(&countries);
        let device = *rng.zipf_pick(&devices);
        let day = monday + rng.below(7) as i32;
        let mut t = day as i64 * 86_400_000 + rng.below(20 * 3_600_000) as i64;
        for visit in 0..1 + rng.below(2) {
            if visit > 0 {
                t += 2 * 3_600_000;
            }
            let (channel, source) = channels[rng.below(channels.len() as u64) as usize];
            for h in 0..1 + rng.below(4) {
                if h > 0 {
                    t += 30_000 + rng.below(600_000) as i64;
                }
                hits.push(Hit {
                    site: SITE.into(),
                    ts: t,
                    name: if h == 2 && v % 3 == 0 {
                        "signup".into()
                    } else {
                        "pageview".into()
                    },
                    hostname: SITE.into(),
                    pathname: (*rng.zipf_pick(&pages)).into(),
                    visitor_id: visitor,
                    country: country.into(),
                    device: device.into(),
                    channel: channel.into(),
                    referrer_source: source.into(),
                    referrer_host: String::new(),
                    ip_prefix: String::new(),
                    language: "en".into(),
                    screen_width: 1280,
                    prop_keys: vec![],
                    prop_values: vec![],
                });
            }
        }
    }
    let mut ins = db.client().insert::<Hit>("events").await.unwrap();
    for h in &hits {
        ins.write(h).await.unwrap();
    }
    ins.end().await.unwrap();
    hits.len()
}

/// A CLI release at `now_ms`, with the default 30-day event retention.
async fn release_cli(
    db: &TestDb,
    spec: &tacit::config::exports::ExportSpec,
    period: &str,
    now_ms: i64,
    rng: &mut StdRng,
) -> Result<export::Released, ExportError> {
    export::release(&db.client(), spec, period, now_ms, 30, Channel::Cli, rng).await
}

fn spec_toml(extra: &str) -> RawExport {
    toml::from_str(&format!(
        "name = \"weekly\"\npartner = \"acme\"\nsites = [\"{SITE}\"]\nperiod = \"week\"\n{extra}"
    ))
    .unwrap()
}

fn config(db: &TestDb, exports: Vec<RawExport>) -> tacit::config::Config {
    let mut raw: RawConfig = db.config();
    raw.exports = exports;
    raw.validate().unwrap()
}

async fn setup(tag: &str) -> (TestDb, i32, String) {
    let db = TestDb::new(tag);
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let today = day_of(SystemClock.now_ms());
    let (monday, label) = last_week(today);
    let n = load(&db, monday).await;
    assert!(n > 1000, "{n} hits");
    (db, today, label)
}

fn now(today: i32) -> i64 {
    today as i64 * 86_400_000 + 12 * 3_600_000
}

fn parse_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// Ground truth per cell, computed here from raw events, not by tacit.
async fn truth(db: &TestDb, dims: &[&str], monday: i32) -> BTreeMap<Vec<String>, (u64, u64)> {
    let cols: Vec<String> = dims
        .iter()
        .map(|d| match *d {
            "date" => "toString(toDate(ts))".to_string(),
            d => format!("toString({d})"),
        })
        .collect();
    let sql = format!(
        "SELECT [{}] AS k, uniqExactIf(visitor_id, visitor_id != 0) AS v, countIf(name = 'pageview') AS pv FROM events \
         WHERE toDate(ts) >= toDate('{}') AND toDate(ts) < toDate('{}') GROUP BY k",
        cols.join(", "),
        format_day(monday),
        format_day(monday + 7)
    );
    let rows: Vec<(Vec<String>, u64, u64)> = db.client().query(&sql).fetch_all().await.unwrap();
    rows.into_iter().map(|(k, v, pv)| (k, (v, pv))).collect()
}

/// What an attacker can solve for: released values and totals, plus the
/// table's margins (each sum over one dimension) and grand total, wherever
/// such a sum holds at least k visitors (tacit would release it, or the partner may know it). Returns
/// the suppressed cells whose pageviews are pinned, by repeated
/// subtraction and by exact linear algebra modulo a large prime.
fn attack(
    truth: &BTreeMap<Vec<String>, (u64, u64)>,
    released: &HashMap<Vec<String>, u64>,
    k: u64,
) -> Vec<Vec<String>> {
    let cells: Vec<&Vec<String>> = truth.keys().collect();
    let hidden: Vec<usize> = (0..cells.len())
        .filter(|&i| !released.contains_key(cells[i]))
        .collect();
    if hidden.is_empty() {
        return vec![];
    }
    let dims = cells[0].len();
    // Equations: sets of cell indices with a known sum: every coarser
    // breakdown (any proper subset of the dimensions, down to the grand
    // total), as another export of the same partner would release it.
    let mut eqs: Vec<Vec<usize>> = Vec::new();
    for keep in 0u32..(1 << dims) - 1 {
        let mut g: BTreeMap<Vec<&String>, Vec<usize>> = BTreeMap::new();
        for (i, c) in cells.iter().enumerate() {
            g.entry(
                c.iter()
                    .enumerate()
                    .filter(|(j, _)| keep & (1 << j) != 0)
                    .map(|(_, s)| s)
                    .collect(),
            )
            .or_default()
            .push(i);
        }
        eqs.extend(g.into_values());
    }
    eqs.retain(|e| e.iter().map(|&i| truth[cells[i]].0).sum::<u64>() >= k);
    let is_hidden: Vec<bool> = (0..cells.len())
        .map(|i| !released.contains_key(cells[i]))
        .collect();
    let mut pinned = std::collections::BTreeSet::new();
    // 1. Subtraction, repeated until nothing new is learned.
    let mut known = is_hidden.iter().map(|h| !h).collect::<Vec<bool>>();
    loop {
        let mut progress = false;
        for e in &eqs {
            let unknown: Vec<usize> = e.iter().copied().filter(|&i| !known[i]).collect();
            if unknown.len() == 1 {
                known[unknown[0]] = true;
                pinned.insert(unknown[0]);
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    // 2. Rank: x_i is determined iff adding e_i does not raise the rank.
    const P: u128 = (1 << 61) - 1;
    let col: HashMap<usize, usize> = hidden.iter().enumerate().map(|(c, &i)| (i, c)).collect();
    let base: Vec<Vec<u128>> = eqs
        .iter()
        .map(|e| {
            let mut r = vec![0u128; hidden.len()];
            for i in e.iter().filter(|i| is_hidden[**i]) {
                r[col[i]] = 1;
            }
            r
        })
        .filter(|r| r.iter().any(|&x| x != 0))
        .collect();
    fn pow(mut b: u128, mut e: u128) -> u128 {
        let mut r = 1;
        while e > 0 {
            if e & 1 == 1 {
                r = r * b % P;
            }
            b = b * b % P;
            e >>= 1;
        }
        r
    }
    fn rank(mut m: Vec<Vec<u128>>) -> usize {
        let cols = m.first().map_or(0, |r| r.len());
        let mut r = 0;
        for c in 0..cols {
            let Some(p) = (r..m.len()).find(|&i| m[i][c] != 0) else {
                continue;
            };
            m.swap(r, p);
            let inv = pow(m[r][c], P - 2);
            let pr: Vec<u128> = m[r].iter().map(|x| x * inv % P).collect();
            for (i, row) in m.iter_mut().enumerate() {
                if i != r && row[c] != 0 {
                    let f = row[c];
                    for (x, y) in row.iter_mut().zip(&pr) {
                        *x = (*x + P - f * y % P) % P;
                    }
                }
            }
            m[r] = pr;
            r += 1;
        }
        r
    }
    let r0 = rank(base.clone());
    for (c, &i) in hidden.iter().enumerate() {
        let mut m = base.clone();
        let mut e = vec![0u128; hidden.len()];
        e[c] = 1;
        m.push(e);
        if rank(m) == r0 {
            pinned.insert(i);
        }
    }
    // Only cells under k matter: a complementary cell has k or more.
    pinned
        .into_iter()
        .filter(|&i| truth[cells[i]].0 < k)
        .map(|i| cells[i].clone())
        .collect()
}

#[tokio::test]
async fn released_cells_are_exact_and_no_suppressed_cell_can_be_reconstructed() {
    let (db, today, week) = setup("exp_attack").await;
    let (monday, _) = last_week(today);
    let k = 5;
    let shapes: [&[&str]; 5] = [
        &["country"],
        &["country", "device"],
        &["date", "country"],
        &["date", "country", "device"],
        &["channel", "device", "country"],
    ];
    let mut total_suppressed = 0;
    let mut naive_broken = 0;
    let mut inherent_total = 0;
    for (n, dims) in shapes.iter().enumerate() {
        let list = dims
            .iter()
            .map(|d| format!("\"{d}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let mut raw = spec_toml(&format!(
            "dimensions = [{list}]\nmetrics = [\"visitors\", \"pageviews\", \"visits\"]\nmin_visitors = {k}\ntotals = true"
        ));
        raw.name = format!("shape{n}");
        let cfg = config(&db, vec![raw]);
        let spec = &cfg.exports[0];
        let r = release_cli(&db, spec, &week, now(today), &mut StdRng::seed_from_u64(1))
            .await
            .unwrap();
        let (header, rows) = parse_csv(&r.bytes);
        assert_eq!(
            header[..dims.len()],
            dims.iter().map(|s| s.to_string()).collect::<Vec<_>>()[..]
        );
        let truth = truth(&db, dims, monday).await;
        let mut released: HashMap<Vec<String>, u64> = HashMap::new();
        let (mut sum_pv, mut total_row) = (0u64, None);
        for row in &rows {
            let keys = row[..dims.len()].to_vec();
            let (v, pv): (u64, u64) = (
                row[dims.len()].parse().unwrap_or(0),
                row[dims.len() + 1].parse().unwrap(),
            );
            if keys[0] == "(total of released rows)" {
                total_row = Some(pv);
                continue;
            }
            let (tv, tpv) = truth[&keys];
            assert_eq!(
                (v, pv),
                (tv, tpv),
                "{dims:?} {keys:?}: released counts are exact"
            );
            assert!(v >= k, "{dims:?} {keys:?}: released cell of {v} visitors");
            sum_pv += pv;
            released.insert(keys, pv);
        }
        if *dims == ["country"] {
            // Visits agree with the sessionizer's visits (first hit's country).
            for d in 0..7 {
                tacit::sessions::sessionize_day(&db.client(), monday + d, 1)
                    .await
                    .unwrap();
            }
            let by: HashMap<String, u64> = db
                .client()
                .query("SELECT toString(country), count() FROM sessions GROUP BY country")
                .fetch_all::<(String, u64)>()
                .await
                .unwrap()
                .into_iter()
                .collect();
            for row in rows.iter().filter(|r| r[0] != "(total of released rows)") {
                assert_eq!(
                    row[3].parse::<u64>().unwrap(),
                    by[&row[0]],
                    "visits in {}",
                    row[0]
                );
            }
        }
        // Totals cover released cells only.
        assert_eq!(total_row, Some(sum_pv), "{dims:?}");
        let suppressed = truth.len() - released.len();
        assert_eq!(r.summary.suppressed as usize, suppressed);
        total_suppressed += suppressed;
        // Cells that the coarser breakdowns alone determine, with nothing of
        // this table released, are out of its reach (withholding those
        // breakdowns elsewhere is what protects them); every other small
        // cell must stay hidden.
        let inherent = attack(&truth, &HashMap::new(), k);
        inherent_total += inherent.len();
        let pinned: Vec<_> = attack(&truth, &released, k)
            .into_iter()
            .filter(|p| !inherent.contains(p))
            .collect();
        assert!(pinned.is_empty(), "{dims:?}: reconstructed {pinned:?}");
        // The same attack breaks primary-only suppression: it is a real attack.
        let primary: HashMap<Vec<String>, u64> = truth
            .iter()
            .filter(|(_, (v, _))| *v >= k)
            .map(|(key, (_, pv))| (key.clone(), *pv))
            .collect();
        naive_broken += attack(&truth, &primary, k)
            .into_iter()
            .filter(|p| !inherent.contains(p))
            .count();
    }
    assert!(
        total_suppressed >= 30,
        "the data set has many small cells ({total_suppressed})"
    );
    assert!(
        naive_broken > 0,
        "primary suppression alone is breakable here"
    );
    eprintln!(
        "suppressed {total_suppressed} cells; primary-only suppression would leak {naive_broken}; {inherent_total} small cells determined by the coarser breakdowns alone"
    );
    // Every release is in the ledger with the file's hash.
    let n: u64 = db
        .client()
        .query("SELECT count() FROM disclosures WHERE channel = 'cli' AND length(file_sha256) = 64")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(n, shapes.len() as u64);
}

#[tokio::test]
async fn releases_without_noise_are_byte_identical() {
    let (db, today, week) = setup("exp_det").await;
    for format in ["csv", "jsonl", "parquet"] {
        let mut raw = spec_toml(&format!(
            "dimensions = [\"date\", \"country\", \"channel\"]\nmetrics = [\"visitors\", \"visits\", \"pageviews\", \"events\", \"bounce_rate\", \"visit_duration\"]\nformat = \"{format}\"\nround_to = 5"
        ));
        raw.name = format!("det-{format}");
        let cfg = config(&db, vec![raw]);
        let release = || async {
            release_cli(
                &db,
                &cfg.exports[0],
                &week,
                now(today),
                &mut rand::rngs::StdRng::from_os_rng(),
            )
            .await
            .unwrap()
        };
        let (a, b) = (release().await, release().await);
        assert!(a.bytes == b.bytes, "{format}: two releases differ");
        assert_eq!(a.summary.sha256, b.summary.sha256);
        assert!(a.summary.rows > 0);
        if format == "parquet" {
            assert!(
                a.bytes.starts_with(b"PAR1") && a.bytes.ends_with(b"PAR1"),
                "parquet magic"
            );
        }
        if format == "csv" {
            // Rounded to multiples of 5.
            let (_, rows) = parse_csv(&a.bytes);
            assert!(rows.iter().all(|r| r[3].parse::<u64>().unwrap() % 5 == 0));
        }
    }
}

#[tokio::test]
async fn noise_spends_the_monthly_budget_and_repeats_spend_nothing() {
    let (db, today, _) = setup("exp_dp").await;
    let (monday, _) = last_week(today);
    let raw: RawExport = toml::from_str(&format!(
        "name = \"daily\"\npartner = \"acme\"\nsites = [\"{SITE}\"]\nperiod = \"day\"\ndimensions = [\"country\"]\nmetrics = [\"visitors\", \"pageviews\"]\nepsilon = 1.0\nbudget = 2.0"
    ))
    .unwrap();
    let cfg = config(&db, vec![raw]);
    let spec = &cfg.exports[0];
    let mut rng = StdRng::from_os_rng();
    let at = now(today);
    let d = |i: i32| format_day(monday + i);
    let first = release_cli(&db, spec, &d(0), at, &mut rng).await.unwrap();
    assert_eq!(first.summary.epsilon_spent, 1.0);
    // A repeat gets the same noisy file and costs nothing.
    let again = release_cli(&db, spec, &d(0), at, &mut rng).await.unwrap();
    assert!(
        again.bytes == first.bytes && again.summary.repeat && again.summary.epsilon_spent == 0.0
    );
    release_cli(&db, spec, &d(1), at, &mut rng).await.unwrap();
    let refused = release_cli(&db, spec, &d(2), at, &mut rng).await;
    match refused {
        Err(e @ ExportError::Budget { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("acme") && msg.contains("2.000 of 2.000"),
                "{msg}"
            );
        }
        other => panic!(
            "expected a budget refusal, got {:?}",
            other.map(|r| r.summary)
        ),
    }
    // Noisy but still suppressed on exact counts: every released country
    // has at least k exact visitors.
    let truth = truth(&db, &["country"], monday).await;
    let _ = truth;
    let exact: Vec<(String, u64)> = db
        .client()
        .query(&format!("SELECT toString(country), uniqExact(visitor_id) FROM events WHERE toDate(ts) = toDate('{}') GROUP BY country", d(0)))
        .fetch_all()
        .await
        .unwrap();
    let (_, rows) = parse_csv(&first.bytes);
    for r in &rows {
        let v = exact.iter().find(|(c, _)| *c == r[0]).unwrap().1;
        assert!(v >= 10, "{r:?}: {v} exact visitors");
    }
    // The ledger charged 2.0 this month and recorded the three releases.
    let (n, eps): (u64, f64) = db
        .client()
        .query("SELECT count(), sum(epsilon_spent) FROM disclosures")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!((n, eps), (3, 2.0));
}

#[tokio::test]
async fn periods_must_be_over_and_within_retention() {
    let (db, today, _) = setup("exp_period").await;
    let raw = spec_toml("dimensions = [\"country\"]\nmetrics = [\"visitors\"]");
    let cfg = config(&db, vec![raw]);
    let spec = &cfg.exports[0];
    let mut rng = StdRng::seed_from_u64(3);
    let (y, m, _) = tacit::model::clock::civil_from_days(today as i64);
    let _ = (y, m);
    let this_week = last_week(today + 7).1;
    let e = release_cli(&db, spec, &this_week, now(today), &mut rng)
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("not over yet"), "{e}");
    let old = last_week(today - 60).1;
    let e = release_cli(&db, spec, &old, now(today), &mut rng)
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("event retention"), "{e}");
    let e = release_cli(&db, spec, "2026-11", now(today), &mut rng)
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("YYYY-Www"), "{e}");
    assert_eq!(
        db.count("disclosures").await,
        0,
        "refusals are not disclosures"
    );
}

fn sha_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn api_serves_only_the_tokens_partner_and_rate_limits() {
    let (db, today, week) = setup("exp_api").await;
    let mut raw = db.config();
    let mut acme = spec_toml("dimensions = [\"country\"]\nmetrics = [\"visitors\", \"pageviews\"]\nrate_limit_per_minute = 3");
    acme.token_sha256 = vec![sha_hex("acme-secret-token")];
    let mut zeta = spec_toml("dimensions = [\"device\"]\nmetrics = [\"visitors\"]");
    zeta.partner = "zeta".into();
    zeta.token_sha256 = vec![sha_hex("zeta-secret-token")];
    raw.exports = vec![acme, zeta];
    let clock = std::sync::Arc::new(ManualClock::new(now(today)));
    let app = start_with_clock(raw, clock.clone()).await;
    let url = |p: &str| format!("/v1/exports/{p}?period={week}");
    let (s, h, _) = get(app.partner_addr, &url("acme"), &[]).await;
    assert_eq!(s, 401);
    assert_eq!(h.get("www-authenticate").unwrap(), "Bearer");
    // A bad token is 401; a valid token of another partner, or an unknown
    // partner, is 404, as if the export did not exist.
    for (partner, token, want) in [
        ("acme", "Bearer wrong", 401),
        ("acme", "Bearer zeta-secret-token", 404),
        ("nobody", "Bearer acme-secret-token", 404),
    ] {
        let (s, _, _) = get(app.partner_addr, &url(partner), &[("authorization", token)]).await;
        assert_eq!(s, want, "{partner} with {token}");
    }
    let auth = [("authorization", "Bearer acme-secret-token")];
    let (s, h, body) = get(app.partner_addr, &url("acme"), &auth).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
    assert!(h
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(String::from_utf8_lossy(&body).starts_with("country,visitors,pageviews"));
    let sha = h
        .get("x-tacit-sha256")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let (s, _, body) = get(app.partner_addr, "/v1/exports/acme?period=2026", &auth).await;
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&body));
    // Third request in the minute is the limit; the fourth is refused.
    let (s, _, _) = get(app.partner_addr, &url("acme"), &auth).await;
    assert_eq!(s, 200);
    let (s, h, _) = get(app.partner_addr, &url("acme"), &auth).await;
    assert_eq!(s, 429);
    assert!(h.get("retry-after").is_some());
    clock.advance(60_000);
    let (s, _, _) = get(app.partner_addr, &url("acme"), &auth).await;
    assert_eq!(s, 200);
    let rows: Vec<(String, String, String)> = db
        .client()
        .query("SELECT partner, channel, file_sha256 FROM disclosures ORDER BY time")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "one ledger row per file handed over");
    assert!(rows
        .iter()
        .all(|r| r.0 == "acme" && r.1 == "api" && r.2 == sha));
    // Tokens never reach the logs.
    assert!(!logs().contains("acme-secret-token"));
    app.shutdown().await;
}

#[tokio::test]
async fn the_annual_report_lists_each_third_party_and_its_categories() {
    let (db, today, week) = setup("exp_report").await;
    let mut a = spec_toml("dimensions = [\"country\", \"device\"]\nmetrics = [\"visitors\"]");
    a.name = "geo".into();
    let mut b = spec_toml("dimensions = [\"channel\"]\nmetrics = [\"visits\"]");
    b.partner = "zeta".into();
    let cfg = config(&db, vec![a, b]);
    for spec in &cfg.exports {
        release_cli(&db, spec, &week, now(today), &mut StdRng::seed_from_u64(2))
            .await
            .unwrap();
    }
    let year = tacit::model::clock::civil_from_days(today as i64).0 as i32;
    let rows = export::ledger::for_year(&db.client(), year).await.unwrap();
    let report = export::ledger::report(year, &rows);
    assert_eq!(report.third_parties.len(), 2);
    let md = export::ledger::markdown(&report);
    assert!(md.contains("## acme") && md.contains("## zeta"), "{md}");
    assert!(
        md.contains("Approximate location") && md.contains("Type of device"),
        "{md}"
    );
    assert!(md.contains("How visitors arrived"), "{md}");
    assert!(md.contains("only aggregate statistics"), "{md}");
    let empty = export::ledger::report(
        year - 1,
        &export::ledger::for_year(&db.client(), year - 1)
            .await
            .unwrap(),
    );
    assert!(empty.third_parties.is_empty());
}

struct SynthCell(Vec<String>, u64);
impl tacit::export::suppress::CellKeys for SynthCell {
    fn keys(&self) -> &[String] {
        &self.0
    }
    fn visitors(&self) -> u64 {
        self.1
    }
}

/// Many random sparse tables of 1-3 dimensions: the independent attack
/// never pins a cell that tacit's suppression withheld.
#[test]
fn suppression_survives_the_attack_on_random_tables() {
    let mut rng = Rng(42);
    let mut withheld = 0;
    let mut nothing_released = 0;
    let mut inherent_total = 0;
    for case in 0..200 {
        let dims = 1 + (case % 3) as usize;
        let sizes: Vec<u64> = (0..dims).map(|_| 2 + rng.below(6)).collect();
        let k = 2 + rng.below(9);
        let mut truth: BTreeMap<Vec<String>, (u64, u64)> = BTreeMap::new();
        let combos: u64 = sizes.iter().product();
        for c in 0..combos {
            if rng.below(4) == 0 {
                continue; // sparse: some combinations never occur
            }
            let mut rest = c;
            let key: Vec<String> = sizes
                .iter()
                .map(|s| {
                    let v = rest % s;
                    rest /= s;
                    format!("v{v}")
                })
                .collect();
            let visitors = 1 + if rng.below(3) == 0 {
                rng.below(k)
            } else {
                rng.below(60)
            };
            truth.insert(key, (visitors, visitors + rng.below(40)));
        }
        let cells: Vec<SynthCell> = truth
            .iter()
            .map(|(key, (v, _))| SynthCell(key.clone(), *v))
            .collect();
        let hidden = tacit::export::suppress::suppress(&cells, k).unwrap();
        let released: HashMap<Vec<String>, u64> = cells
            .iter()
            .zip(&hidden)
            .filter(|(_, h)| !**h)
            .map(|(c, _)| (c.0.clone(), truth[&c.0].1))
            .collect();
        for (c, h) in cells.iter().zip(&hidden) {
            assert!(*h || c.1 >= k, "case {case}: released a cell under k");
        }
        withheld += hidden.iter().filter(|h| **h).count();
        let pinned = attack(&truth, &released, k);
        // Cells the margins alone determine (nothing released at all) are
        // out of this table's reach; everything else must stay hidden.
        let inherent = attack(&truth, &HashMap::new(), k);
        let pinned: Vec<Vec<String>> = pinned
            .into_iter()
            .filter(|p| !inherent.contains(p))
            .collect();
        inherent_total += inherent.len();
        if released.is_empty() {
            nothing_released += 1;
        }
        assert!(
            pinned.is_empty(),
            "case {case} (k={k}, sizes {sizes:?}): reconstructed {pinned:?}"
        );
    }
    assert!(withheld > 500, "{withheld}");
    assert!(
        nothing_released < 40,
        "{nothing_released} of 200 tables released nothing"
    );
    eprintln!("{withheld} cells withheld; {nothing_released} of 200 tables withheld whole; {inherent_total} small cells determined by the coarser breakdowns alone");
}

/// The binary: `tacit export` writes the file and prints a one-line
/// summary; `tacit disclosures` reports it; a bad export config stops
/// `check-config` with the export and field named.
#[tokio::test]
async fn cli_export_and_disclosures() {
    let (db, today, week) = setup("exp_cli").await;
    let base = format!(
        "[server]\ndata_dir = {:?}\n[clickhouse]\nurl = {:?}\ndatabase = {:?}\n[[sites]]\ndomain = \"example.com\"\n\
         [[exports]]\nname = \"weekly\"\npartner = \"acme\"\nsites = [\"example.com\"]\nperiod = \"week\"\n\
         dimensions = [\"country\", \"device\"]\nmetrics = [\"visitors\", \"pageviews\"]\nformat = \"jsonl\"\n",
        db.dir.to_string_lossy(),
        db.url,
        db.name
    );
    let cfg_path = db.dir.join("tacit.toml");
    let run = |args: &[&str], toml: &str| {
        std::fs::write(&cfg_path, toml).unwrap();
        crate::support::tacit_command()
            .arg("--config")
            .arg(&cfg_path)
            .args(args)
            .output()
            .unwrap()
    };
    let _ = today;
    let out_file = db.dir.join("acme.jsonl");
    let o = run(
        &[
            "export",
            "--partner",
            "acme",
            "--period",
            &week,
            "--out",
            out_file.to_str().unwrap(),
        ],
        &base,
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.contains("rows")
            && stdout.contains("suppressed cells")
            && stdout.contains("epsilon spent 0"),
        "{stdout}"
    );
    let file = std::fs::read_to_string(&out_file).unwrap();
    assert!(
        file.lines().all(|l| l.starts_with("{\"country\":")),
        "{file}"
    );
    let year = tacit::model::clock::civil_from_days(day_of(SystemClock.now_ms()) as i64)
        .0
        .to_string();
    let o = run(&["disclosures", "--year", &year, "--json"], &base);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["third_parties"][0]["partner"], "acme");
    assert_eq!(v["third_parties"][0]["releases"], 1);
    let o = run(
        &["check-config"],
        &base.replace("\"country\", \"device\"", "\"country\", \"ip_prefix\""),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("exports[0] (weekly).dimensions") && err.contains("ip_prefix"),
        "{err}"
    );
}
