//! Machine opens and clicks: the classifier against a fixture set of the
//! requests real mail proxies, privacy relays, link scanners and people's
//! mail clients make (`tests/fixtures/email-clients.tsv`), over the
//! vendored bot patterns and the fetched proxy ranges.

use std::collections::BTreeMap;

use tacit::config::RawConfig;
use tacit::enrich::Enrichers;
use tacit::privacy::email::classify_raw;

use crate::support::vendor;

#[test]
fn email_proxies_and_scanners_are_machines_and_readers_are_not() {
    let mut raw = RawConfig::default();
    raw.enrich.uap_regexes = vendor("regexes.yaml").display().to_string();
    raw.enrich.isbot_patterns = vendor("isbot.json").display().to_string();
    raw.enrich.crawler_patterns = vendor("crawlers.json").display().to_string();
    raw.enrich.mail_networks = vendor("mail-networks.csv").display().to_string();
    let e = Enrichers::load(&raw.validate().unwrap().enrich).unwrap();
    let nets = e.mail_networks.as_ref().unwrap();
    assert!(nets.len() > 1000, "{} proxy ranges", nets.len());
    let fixtures = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email-clients.tsv"),
    )
    .unwrap();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for line in fixtures
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        let [label, expected, ip, ua] = f[..] else {
            panic!("bad fixture line: {line}")
        };
        let got = match classify_raw(ip.parse().unwrap(), ua, &e) {
            None => "human".to_string(),
            Some((m, "")) => format!("machine:{}", m.as_str()),
            Some((m, op)) => format!("machine:{}:{op}", m.as_str()),
        };
        *counts.entry(got.clone()).or_default() += 1;
        if got != expected {
            wrong.push(format!("{label}: expected {expected}, got {got}"));
        }
    }
    println!(
        "email clients classified ({} fixtures): {counts:?}",
        counts.values().sum::<usize>()
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(counts.get("human").copied().unwrap_or(0) >= 5);
    assert!(
        counts
            .keys()
            .filter(|k| k.starts_with("machine:network"))
            .count()
            >= 5
    );
}
