//! `tacit explain` explains each line on its own: 10,000 hits from one
//! address (five times the default rate-limit burst) are all explained, none
//! `rate_limited`, and each stored row says which signal decided its device
//! class.

use std::sync::Arc;

use tacit::config::{RawConfig, RawSite};
use tacit::model::clock::SystemClock;

use crate::support::weighted_agents;

#[test]
fn explain_never_rate_limits_and_names_the_device_signal() {
    let raw = RawConfig {
        sites: vec![RawSite {
            domain: "example.com".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let cfg = raw.validate().expect("a valid config");
    assert!(cfg.rate_limit.per_second > 0 && cfg.rate_limit.burst < 10_000);
    let agents = weighted_agents();
    let mut input = String::new();
    for i in 0..10_000 {
        let ua = &agents[i % agents.len()].0;
        let mut hit = serde_json::json!({
            "url": format!("https://example.com/p/{i}"),
            "user_agent": ua,
            "ip": "198.51.100.7",
            "domain": "example.com",
        });
        match i % 3 {
            1 => hit["screen_width"] = 390.into(),
            2 => hit["headers"] = serde_json::json!({ "sec-ch-ua-mobile": "?1" }),
            _ => {}
        }
        input.push_str(&hit.to_string());
        input.push('\n');
    }
    // An app's own agent on Android names no device: the window width decides.
    input.push_str(
        r#"{"url":"https://example.com/","user_agent":"Dalvik/2.1.0 (Linux; U; Android 13; M2101K6G Build/TKQ1.221013.002)","ip":"198.51.100.7","domain":"example.com","screen_width":800}"#,
    );
    input.push('\n');
    let mut out = Vec::new();
    tacit::commands::explain::run(&cfg, Arc::new(SystemClock), input.as_bytes(), &mut out).unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10_001);
    let limited = lines
        .iter()
        .filter(|l| l["dropped"] == "rate_limited")
        .count();
    let stored: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l.get("stored").is_some()).collect();
    let mut signals = std::collections::BTreeMap::<String, usize>::new();
    for s in &stored {
        *signals
            .entry(s["device_signal"].as_str().unwrap_or("none").to_string())
            .or_default() += 1;
    }
    println!(
        "explain: {} lines from one address, {limited} rate_limited, {} stored; device decided by {signals:?}",
        lines.len(),
        stored.len()
    );
    assert_eq!(limited, 0);
    assert!(stored.len() >= 9_900, "{} stored", stored.len());
    assert!(stored.iter().all(|s| s["device_signal"].is_string()));
    let last = lines.last().unwrap();
    assert_eq!(last["stored"]["device"], "tablet", "{last}");
    assert_eq!(last["device_signal"], "screen_width", "{last}");
}
