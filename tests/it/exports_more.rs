//! Partner exports, continued: the privacy budget, period rules, the
//! bearer-token API, the annual report, suppression under attack on random
//! tables, and the CLI.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tacit::export::{self, ExportError};
use tacit::model::clock::{format_day, ManualClock};

use crate::common::*;
use crate::exports::*;
use crate::support::Rng;
use tacit::config::exports::RawExport;

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
                msg.contains("acme") && msg.contains("2.000000 of 2.000000"),
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
    // The ledger charged 2.0 this month and recorded the two releases (the
    // repeat handed over the same file: no new disclosure).
    let (n, eps): (u64, f64) = db
        .client()
        .query("SELECT count(), sum(epsilon_spent) FROM disclosures")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!((n, eps), (2, 2.0));
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
    assert_eq!(
        rows.len(),
        1,
        "one release (the period is frozen), however often it is fetched"
    );
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
    let year = tacit::model::clock::civil_from_days(today as i64)
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
