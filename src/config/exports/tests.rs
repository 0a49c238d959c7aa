//! Unit tests of the `exports` module.
use super::*;

fn base() -> RawExport {
    toml::from_str(
        r#"
name = "monthly"
partner = "acme"
sites = ["example.com"]
dimensions = ["month", "country"]
metrics = ["visitors", "pageviews"]
"#,
    )
    .unwrap()
}

fn check(f: impl FnOnce(&mut RawExport), field: &str, words: &str) {
    let mut r = base();
    f(&mut r);
    let e = validate_all(&[r], &["example.com".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("exports[0] (monthly).{field}")), "{e}");
    assert!(e.contains(words), "{e}");
}

#[test]
fn defaults_are_safe() {
    let s = &validate_all(&[base()], &["example.com".into()]).unwrap()[0];
    assert_eq!(s.min_visitors, 10);
    assert_eq!(s.period, Granularity::Month);
    assert_eq!(s.format, Format::Csv);
    assert!(s.dp.is_none());
    assert_eq!(s.config_hash.len(), 64);
}

#[test]
fn identifiers_are_refused_by_name() {
    for id in [
        "visitor_id",
        "session_id",
        "ip",
        "ip_prefix",
        "url",
        "query",
        "user_agent",
        "referrer",
    ] {
        check(|r| r.dimensions.push(id.into()), "dimensions", id);
    }
}

#[test]
fn each_rule_names_its_field() {
    check(|r| r.min_visitors = 1, "min_visitors", "at least 2");
    check(|r| r.epsilon = Some(1.0), "budget", "without a budget");
    check(|r| r.budget = Some(1.0), "epsilon", "without an epsilon");
    check(
        |r| r.dimensions.push("shoe_size".into()),
        "dimensions",
        "unknown dimension",
    );
    check(
        |r| r.dimensions.push("city".into()),
        "dimensions",
        "allow_city",
    );
    check(
        |r| {
            r.dimensions.push("city".into());
            r.allow_city = true;
        },
        "dimensions",
        "min_visitors >= 50",
    );
    check(
        |r| r.dimensions.push("prop:email".into()),
        "dimensions",
        "allowed_properties",
    );
    check(
        |r| r.metrics.push("revenue".into()),
        "metrics",
        "unknown metric",
    );
    check(
        |r| r.sites = vec!["other.org".into()],
        "sites",
        "not a configured site",
    );
    check(|r| r.format = "xlsx".into(), "format", "expected");
    check(
        |r| r.token_sha256 = vec!["secret".into()],
        "token_sha256[0]",
        "64 hex",
    );
    check(
        |r| {
            r.epsilon = Some(1.0);
            r.budget = Some(2.0);
            r.metrics.push("bounce_rate".into());
        },
        "metrics",
        "ratio",
    );
}

#[test]
fn allowed_city_and_properties_pass() {
    let mut r = base();
    r.dimensions = vec!["city".into(), "prop:plan".into()];
    r.allow_city = true;
    r.min_visitors = 50;
    r.allowed_properties = vec!["plan".into()];
    assert!(validate_all(&[r], &["example.com".into()]).is_ok());
}

#[test]
fn one_budget_per_partner() {
    let mut a = base();
    a.epsilon = Some(0.5);
    a.budget = Some(2.0);
    let mut b = a.clone();
    b.name = "other".into();
    b.budget = Some(3.0);
    let e = validate_all(&[a, b], &["example.com".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("exports[1] (other).budget"), "{e}");
}

#[test]
fn differential_privacy_keys_are_exact_and_named() {
    let dp = |r: &mut RawExport| {
        r.epsilon = Some(0.5);
        r.budget = Some(2.0);
    };
    check(
        |r| {
            dp(r);
            r.sensitivity = Some(3)
        },
        "sensitivity",
        "max_events_per_cell",
    );
    check(
        |r| {
            dp(r);
            r.epsilon = Some(0.1234567)
        },
        "epsilon",
        "six decimals",
    );
    check(
        |r| {
            dp(r);
            r.max_events_per_cell = 0
        },
        "max_events_per_cell",
        "between 1 and 1000",
    );
    check(
        |r| {
            dp(r);
            r.max_cells_per_day = 101
        },
        "max_cells_per_day",
        "between 1 and 100",
    );
    check(
        |r| r.budget_account = Some("Not A Slug".into()),
        "budget_account",
        "a-z",
    );
    let mut r = base();
    dp(&mut r);
    let s = &validate_all(&[r], &["example.com".into()]).unwrap()[0];
    let d = s.dp.unwrap();
    assert_eq!((d.epsilon_micros, d.budget_micros), (500_000, 2_000_000));
    assert_eq!(s.budget_account, "acme");
    assert_eq!(s.settle_ms, 300_000);
    // One account per partner.
    let mut a = base();
    let mut b = base();
    b.name = "other".into();
    a.budget_account = Some("x".into());
    b.budget_account = Some("y".into());
    let e = validate_all(&[a, b], &["example.com".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("exports[1] (other).budget_account"), "{e}");
}

#[test]
fn the_sites_property_list_is_the_exports_list() {
    let site = |list: Option<Vec<&str>>| crate::config::Site {
        domain: "example.com".into(),
        origins: vec![],
        hash_routing: false,
        umami_website_id: None,
        email_key: None,
        allowed_properties: list.map(|l| l.into_iter().map(String::from).collect()),
    };
    let mut r = base();
    r.dimensions = vec!["prop:plan".into()];
    // The site's list alone allows the export's property.
    let raw = with_site_properties(std::slice::from_ref(&r), &[site(Some(vec!["plan"]))]).unwrap();
    assert!(validate_all(&raw, &["example.com".into()]).is_ok());
    // A site that lists other keys never stores `plan`: refused.
    let raw = with_site_properties(std::slice::from_ref(&r), &[site(Some(vec!["size"]))]).unwrap();
    let e = validate_all(&raw, &["example.com".into()]).unwrap_err();
    assert!(e.to_string().contains("allowed_properties"), "{e}");
    // An older export-level list still works for a site with no list...
    r.allowed_properties = vec!["plan".into()];
    let raw = with_site_properties(std::slice::from_ref(&r), &[site(None)]).unwrap();
    assert!(validate_all(&raw, &["example.com".into()]).is_ok());
    // ...but may not name a key the site does not store.
    let e = with_site_properties(&[r], &[site(Some(vec!["size"]))]).unwrap_err();
    assert!(
        e.to_string()
            .contains("exports[0] (monthly).allowed_properties"),
        "{e}"
    );
}

/// Setups that link a partner's releases across tables (two period
/// lengths, two breakdowns sharing a dimension) are accepted: the partner
/// audit checks them together (`tests/it/exports_audit.rs` attacks each).
/// What one partner's exports may not do is break down by more dimensions
/// together than the audit can check.
#[test]
fn linked_setups_are_accepted_and_checked_together() {
    let sites: Vec<String> = vec!["example.com".into(), "other.org".into()];
    let export = |name: &str, period: &str, dims: &[&str]| {
        let mut r = base();
        r.name = name.into();
        r.period = period.into();
        r.dimensions = dims.iter().map(|d| d.to_string()).collect();
        r
    };
    let ok = |exports: &[RawExport]| validate_all(exports, &sites).unwrap();
    // Days and the week they add up to: one system, finest [country].
    let specs = ok(&[
        export("a", "day", &["country"]),
        export("b", "week", &["country"]),
    ]);
    assert!(specs.iter().all(|s| s.finest.len() == 1), "{specs:?}");
    // Two breakdowns sharing a dimension: finest country, device, browser.
    let specs = ok(&[
        export("a", "week", &["country", "device"]),
        export("b", "week", &["country", "browser"]),
    ]);
    assert!(specs.iter().all(|s| s.finest.len() == 3), "{specs:?}");
    // Too many dimensions across one partner's exports: refused by name.
    let e = validate_all(
        &[
            export("a", "week", &["country", "device"]),
            export("b", "week", &["browser", "os", "language"]),
        ],
        &sites,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("exports[") && e.contains(".dimensions:"), "{e}");
    assert!(e.contains("together break down by 5 dimensions"), "{e}");
}

#[test]
fn the_link_audit_is_fast_unless_full_is_asked() {
    let sites = ["example.com".to_string()];
    let plain = &validate_all(&[base()], &sites).unwrap()[0];
    assert_eq!(plain.audit, LinkAudit::Fast);
    let mut r = base();
    r.audit = Some("fast".into());
    let fast = &validate_all(&[r], &sites).unwrap()[0];
    // The default is left out of the hash: configs written before the key
    // keep theirs.
    assert_eq!(fast.config_hash, plain.config_hash);
    let mut r = base();
    r.audit = Some("full".into());
    let full = &validate_all(&[r], &sites).unwrap()[0];
    assert_eq!(full.audit, LinkAudit::Full);
    assert_ne!(full.config_hash, plain.config_hash);
    check(
        |r| r.audit = Some("thorough".into()),
        "audit",
        "\"fast\" or \"full\"",
    );
}
