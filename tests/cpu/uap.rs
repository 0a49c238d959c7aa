//! uap-core's own test suites (test_ua, test_os, test_device, from Debian's
//! `uap-core` package) run against the rules tacit ships, with pass rates
//! printed; browser and OS family must match for at least 99% of cases.

use std::path::Path;

use serde::Deserialize;
use tacit::enrich::ua::UaParser;

#[derive(Deserialize)]
struct Suite {
    test_cases: Vec<serde_yaml_ng::Value>,
}

fn field(v: &serde_yaml_ng::Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| match x {
        serde_yaml_ng::Value::String(s) => Some(s.clone()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn load(name: &str) -> Vec<serde_yaml_ng::Value> {
    let path = Path::new("/usr/share/uap-core/tests").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (scripts/setup installs Debian's uap-core)",
            path.display()
        )
    });
    serde_yaml_ng::from_str::<Suite>(&text).unwrap().test_cases
}

fn parser() -> UaParser {
    UaParser::load(&crate::support::vendor("regexes.yaml"), 16).unwrap()
}

fn rate(ok: usize, n: usize) -> f64 {
    100.0 * ok as f64 / n as f64
}

/// Run one suite: `parse` gives (family, the other fields compared) for a
/// user agent; `rest` names those fields in the suite's cases. Returns the
/// family and full-match rates in percent.
fn suite(
    p: &UaParser,
    file: &str,
    rest: &[&str],
    parse: impl Fn(&UaParser, &str) -> (String, Vec<Option<String>>),
) -> (f64, f64) {
    let (mut n, mut fam, mut full) = (0, 0, 0);
    for c in load(file) {
        let ua = field(&c, "user_agent_string").unwrap_or_default();
        let (family, others) = parse(p, &ua);
        let family = if family.is_empty() {
            "Other".to_string()
        } else {
            family
        };
        n += 1;
        if Some(family) == field(&c, "family") {
            fam += 1;
            if rest.iter().zip(&others).all(|(k, v)| field(&c, k) == *v) {
                full += 1;
            }
        }
    }
    println!(
        "uap-core {file}: {n} cases, family {:.2}%, family+{} {:.2}%",
        rate(fam, n),
        rest.join("+"),
        rate(full, n)
    );
    (rate(fam, n), rate(full, n))
}

#[test]
fn uap_core_suites_pass() {
    let p = parser();
    let (ua, _) = suite(&p, "test_ua.yaml", &["major", "minor", "patch"], |p, s| {
        let v = p.extract_raw(s).0.unwrap_or_default();
        (v.family, vec![v.major, v.minor, v.patch])
    });
    let (os, _) = suite(&p, "test_os.yaml", &["major", "minor", "patch"], |p, s| {
        let v = p.extract_raw(s).1.unwrap_or_default();
        (v.os, vec![v.major, v.minor, v.patch])
    });
    let (dev, _) = suite(&p, "test_device.yaml", &["brand", "model"], |p, s| {
        let v = p.extract_raw(s).2.unwrap_or_default();
        (v.device, vec![v.brand, v.model])
    });
    assert!(ua >= 99.0, "browser family {ua:.2}%");
    assert!(os >= 99.0, "OS family {os:.2}%");
    assert!(dev >= 99.0, "device family {dev:.2}%");
}
