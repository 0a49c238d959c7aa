//! uap-core's own test suites (test_ua, test_os, test_device, from Debian's
//! `uap-core` package) run against the rules tacit ships, with pass rates
//! printed; browser and OS family must match for at least 99% of cases.

use std::path::Path;

use serde::Deserialize;
use tacit::ingest::ua::UaParser;

#[derive(Deserialize)]
struct Suite {
    test_cases: Vec<serde_yaml::Value>,
}

fn field(v: &serde_yaml::Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| match x {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn load(name: &str) -> Vec<serde_yaml::Value> {
    let path = Path::new("/usr/share/uap-core/tests").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (scripts/setup installs Debian's uap-core)",
            path.display()
        )
    });
    serde_yaml::from_str::<Suite>(&text).unwrap().test_cases
}

fn parser() -> UaParser {
    UaParser::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(".tacit/vendor/regexes.yaml"),
        16,
    )
    .unwrap()
}

fn rate(ok: usize, n: usize) -> f64 {
    100.0 * ok as f64 / n as f64
}

#[test]
fn uap_core_suites_pass() {
    let p = parser();
    let (mut n, mut fam, mut full) = (0, 0, 0);
    for c in load("test_ua.yaml") {
        let ua = field(&c, "user_agent_string").unwrap_or_default();
        let got = p.extract_raw(&ua).0.unwrap_or_default();
        let got_family = if got.family.is_empty() {
            "Other".to_string()
        } else {
            got.family.clone()
        };
        n += 1;
        if Some(got_family.clone()) == field(&c, "family") {
            fam += 1;
            if got.major == field(&c, "major")
                && got.minor == field(&c, "minor")
                && got.patch == field(&c, "patch")
            {
                full += 1;
            }
        }
    }
    println!(
        "uap-core test_ua: {n} cases, family {:.2}%, family+version {:.2}%",
        rate(fam, n),
        rate(full, n)
    );
    let ua_family = rate(fam, n);

    let (mut n, mut fam, mut full) = (0, 0, 0);
    for c in load("test_os.yaml") {
        let ua = field(&c, "user_agent_string").unwrap_or_default();
        let got = p.extract_raw(&ua).1.unwrap_or_default();
        let got_family = if got.os.is_empty() {
            "Other".to_string()
        } else {
            got.os.clone()
        };
        n += 1;
        if Some(got_family) == field(&c, "family") {
            fam += 1;
            if got.major == field(&c, "major")
                && got.minor == field(&c, "minor")
                && got.patch == field(&c, "patch")
            {
                full += 1;
            }
        }
    }
    println!(
        "uap-core test_os: {n} cases, family {:.2}%, family+version {:.2}%",
        rate(fam, n),
        rate(full, n)
    );
    let os_family = rate(fam, n);

    let (mut n, mut fam, mut full) = (0, 0, 0);
    for c in load("test_device.yaml") {
        let ua = field(&c, "user_agent_string").unwrap_or_default();
        let got = p.extract_raw(&ua).2.unwrap_or_default();
        let got_family = if got.device.is_empty() {
            "Other".to_string()
        } else {
            got.device.clone()
        };
        n += 1;
        if Some(got_family) == field(&c, "family") {
            fam += 1;
            if got.brand == field(&c, "brand") && got.model == field(&c, "model") {
                full += 1;
            }
        }
    }
    println!(
        "uap-core test_device: {n} cases, family {:.2}%, family+brand+model {:.2}%",
        rate(fam, n),
        rate(full, n)
    );
    assert!(ua_family >= 99.0, "browser family {ua_family:.2}%");
    assert!(os_family >= 99.0, "OS family {os_family:.2}%");
    assert!(rate(fam, n) >= 99.0, "device family {:.2}%", rate(fam, n));
}
