//! Partner exports against the real engine: exact counts, suppression that
//! survives a reconstruction attack, byte-identical files, the privacy
//! budget, the ledger and its annual report, and the bearer-token API.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use tacit::config::exports::RawExport;
use tacit::config::RawConfig;
use tacit::export::{self, ExportError, ReleaseChannel};
use tacit::model::clock::format_day;

use crate::common::*;
use crate::support::Rng;

pub(crate) const SITE: &str = "example.com";

#[derive(Debug, Clone, Serialize, clickhouse::Row)]
pub(crate) struct Hit {
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
pub(crate) fn last_week(today: i32) -> (i32, String) {
    let monday = today - (today + 3).rem_euclid(7) - 7;
    (monday, export::period::week_label(monday))
}

/// A week of traffic with a long tail: many cells of few visitors.
pub(crate) async fn load(db: &TestDb, monday: i32) -> usize {
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
pub(crate) async fn release_cli(
    db: &TestDb,
    spec: &tacit::config::exports::ExportSpec,
    period: &str,
    now_ms: i64,
    rng: &mut StdRng,
) -> Result<export::Released, ExportError> {
    export::release(
        &db.store(),
        spec,
        period,
        now_ms,
        30,
        ReleaseChannel::Cli,
        rng,
    )
    .await
}

pub(crate) fn spec_toml(extra: &str) -> RawExport {
    toml::from_str(&format!(
        "name = \"weekly\"\npartner = \"acme\"\nsites = [\"{SITE}\"]\nperiod = \"week\"\n{extra}"
    ))
    .unwrap()
}

pub(crate) fn config(db: &TestDb, exports: Vec<RawExport>) -> tacit::config::Config {
    let mut raw: RawConfig = db.config();
    raw.exports = exports;
    raw.validate().unwrap()
}

pub(crate) async fn setup(tag: &str) -> (TestDb, i32, String) {
    let db = TestDb::new(tag);
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let today = today(&db).await;
    let (monday, label) = last_week(today);
    let n = load(&db, monday).await;
    assert!(n > 1000, "{n} hits");
    (db, today, label)
}

pub(crate) fn now(today: i32) -> i64 {
    today as i64 * 86_400_000 + 12 * 3_600_000
}

pub(crate) fn parse_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// Ground truth per cell, computed here from raw events, not by tacit.
pub(crate) async fn truth(
    db: &TestDb,
    dims: &[&str],
    monday: i32,
) -> BTreeMap<Vec<String>, (u64, u64)> {
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
pub(crate) fn attack(
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
        // One partner per shape: this test is about each table on its own
        // (releases linked across tables: exports_audit.rs).
        raw.partner = format!("acme{n}");
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
                tacit::analytics::sessions::sessionize_day(&db.store(), monday + d, 1)
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
            // Country × channel over the week: with the date as a third
            // dimension this fixture's week is nearly all small cells, and
            // the partner audit (every margin public) withholds them all.
            "dimensions = [\"country\", \"channel\"]\nmetrics = [\"visitors\", \"visits\", \"pageviews\", \"events\", \"bounce_rate\", \"visit_duration\"]\nformat = \"{format}\"\nround_to = 5"
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
            // Rounded to multiples of 5 (visitors, after the two keys).
            let (_, rows) = parse_csv(&a.bytes);
            assert!(rows.iter().all(|r| r[2].parse::<u64>().unwrap() % 5 == 0));
        }
    }
}
