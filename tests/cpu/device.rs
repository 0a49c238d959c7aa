//! Device class measured on labelled real agents, with the numbers printed:
//! npm `user-agents` (10,000 browser agents with the `deviceCategory` and
//! window width their browsers reported) by the agent alone and with the
//! width, as `model::device::decide` weighs them; and Matomo Device
//! Detector's fixtures (PyPI `device-detector`, ~36,000 agents labelled
//! smartphone, tablet, desktop, TV, …), by the agent alone. Also: no real
//! browser of either corpus is taken for automation.

use std::collections::BTreeMap;

use tacit::enrich::bots::BotDetector;
use tacit::enrich::ua::UaParser;
use tacit::model::device::{decide, width_class, DeviceClass, DeviceSignal};

use crate::support::{vendor, vendor_json};

fn parser() -> UaParser {
    UaParser::load(&vendor("regexes.yaml"), 16).unwrap()
}

fn pct(ok: usize, n: usize) -> f64 {
    100.0 * ok as f64 / n.max(1) as f64
}

/// (agent, label, window width) from npm `user-agents`.
fn user_agents() -> Vec<(String, String, u16)> {
    vendor_json("user-agents.json")
        .as_array()
        .expect("a list")
        .iter()
        .map(|a| {
            (
                a["userAgent"].as_str().unwrap().to_string(),
                a["deviceCategory"].as_str().unwrap().to_string(),
                a["viewportWidth"].as_u64().unwrap_or(0).min(20_000) as u16,
            )
        })
        .collect()
}

#[test]
fn device_class_on_npm_user_agents() {
    let p = parser();
    let corpus = user_agents();
    let (mut agent_ok, mut width_ok, mut width_n, mut width_first_ok) = (0, 0, 0, 0);
    let mut by_signal: BTreeMap<&str, usize> = BTreeMap::new();
    let mut misses = Vec::new();
    for (ua, want, width) in &corpus {
        let agent = p.parse_uncached(ua).agent_device();
        let alone = decide(agent, None, 0).0.as_str();
        agent_ok += usize::from(alone == want);
        if *width > 0 {
            width_n += 1;
            let (with, signal) = decide(agent, None, *width);
            let with = with.as_str();
            *by_signal.entry(signal.as_str()).or_default() += 1;
            width_ok += usize::from(with == want);
            if with != want {
                misses.push(format!("{want} -> {with} (w={width}) {ua}"));
            }
            // For comparison: the width alone, as Plausible buckets it.
            let plausible = match width {
                0..=575 => "mobile",
                576..=991 => "tablet",
                _ => "desktop",
            };
            width_first_ok += usize::from(plausible == want);
        }
    }
    let n = corpus.len();
    println!(
        "device [npm user-agents]: agent alone {agent_ok}/{n} = {:.2}%; with the window width \
         {width_ok}/{width_n} = {:.2}% (decided by {by_signal:?}); the width alone in Plausible's \
         buckets would be {:.2}%",
        pct(agent_ok, n),
        pct(width_ok, width_n),
        pct(width_first_ok, width_n)
    );
    for m in misses.iter().take(10) {
        println!("  miss: {m}");
    }
    assert!(n >= 5000 && width_n >= 5000, "corpus too small: {n}");
    assert!(
        pct(agent_ok, n) >= 95.0,
        "agent alone {:.2}%",
        pct(agent_ok, n)
    );
    assert_eq!(width_ok, width_n, "with a width, every agent: {misses:?}");
}

/// Matomo's fixture files: (agent, device type, client type) of each case.
fn matomo() -> Vec<(String, String, String)> {
    let dir = vendor("test/device-detector-6.5.1");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/fetch-data", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    let s = |v: &serde_yaml_ng::Value, a: &str, b: &str| {
        v.get(a)
            .and_then(|x| x.get(b))
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        for c in v.as_sequence().into_iter().flatten() {
            let ua = c.get("user_agent").and_then(|x| x.as_str()).unwrap_or("");
            out.push((
                ua.to_string(),
                s(c, "device", "type"),
                s(c, "client", "type"),
            ));
        }
    }
    out
}

#[test]
fn device_class_on_matomo_fixtures() {
    let p = parser();
    let (mut n, mut ok, mut other_n, mut other_ok) = (0, 0, 0, 0);
    let mut confusion: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (ua, kind, _) in matomo() {
        let want = match kind.as_str() {
            "smartphone" | "phablet" | "feature phone" => "mobile",
            "tablet" => "tablet",
            "desktop" => "desktop",
            "tv" | "console" | "wearable" => "other",
            _ => continue,
        };
        let got = decide(p.parse_uncached(&ua).agent_device(), None, 0)
            .0
            .as_str();
        if want == "other" {
            other_n += 1;
            other_ok += usize::from(got == want);
        } else {
            n += 1;
            ok += usize::from(got == want);
            *confusion.entry((want, got)).or_default() += 1;
        }
    }
    println!(
        "device [Matomo fixtures]: phone/tablet/desktop by the agent alone {ok}/{n} = {:.2}%; \
         TV/console/wearable as other {other_ok}/{other_n} = {:.2}%",
        pct(ok, n),
        pct(other_ok, other_n)
    );
    println!("  (label, class): {confusion:?}");
    assert!(n >= 20_000, "corpus too small: {n}");
    assert!(pct(ok, n) >= 95.0, "{:.2}%", pct(ok, n));
}

#[test]
fn real_browsers_are_not_automation() {
    let bots = BotDetector::load(&vendor("isbot.json"), &vendor("crawlers.json")).unwrap();
    let browsers: Vec<String> = user_agents().into_iter().map(|(ua, _, _)| ua).collect();
    let matomo_browsers: Vec<String> = matomo()
        .into_iter()
        .filter(|(_, kind, client)| {
            client == "browser" && matches!(kind.as_str(), "smartphone" | "tablet" | "desktop")
        })
        .map(|(ua, _, _)| ua)
        .collect();
    for (name, list) in [
        ("npm user-agents", &browsers),
        ("Matomo browsers", &matomo_browsers),
    ] {
        let automation: Vec<&String> = list.iter().filter(|u| bots.is_automation(u)).collect();
        let all = list.iter().filter(|u| bots.is_bot(u)).count();
        println!(
            "false bots [{name}]: {all}/{} = {:.3}% in all, {} of them by tacit's automation list",
            list.len(),
            pct(all, list.len()),
            automation.len()
        );
        for u in automation.iter().take(5) {
            println!("  automation: {u}");
        }
        assert!(automation.is_empty(), "{name}: {automation:?}");
    }
    assert!(browsers.len() >= 5000 && matomo_browsers.len() >= 10_000);
}

#[test]
fn the_width_decides_only_what_the_agent_leaves_open() {
    let p = parser();
    // A desktop browser in a phone-sized window (developer tools) stays a desktop.
    let mac = p.parse_uncached("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36");
    assert_eq!(
        decide(mac.agent_device(), None, 375).0,
        DeviceClass::Desktop
    );
    // An app's own agent on Android says nothing of the screen: the width does.
    let app =
        p.parse_uncached("Dalvik/2.1.0 (Linux; U; Android 13; M2101K6G Build/TKQ1.221013.002)");
    assert_eq!(
        decide(app.agent_device(), None, 0),
        (DeviceClass::Mobile, DeviceSignal::AgentGuess)
    );
    assert_eq!(
        decide(app.agent_device(), None, 800),
        (DeviceClass::Tablet, DeviceSignal::ScreenWidth)
    );
    assert_eq!(
        decide(app.agent_device(), Some(true), 800),
        (DeviceClass::Mobile, DeviceSignal::ClientHint)
    );
    assert_eq!(width_class(1440), Some(DeviceClass::Desktop));
}
