//! Bot detection measured on real strings: recall on crawler-user-agents'
//! sample instances, false positives on npm `user-agents` (real browser
//! strings weighted by traffic share).

use tacit::enrich::bots::BotDetector;

use crate::support::{vendor, vendor_json as json};

#[test]
fn bot_detection_recall_and_false_positives() {
    let crawlers = json("crawlers.json");
    let instances: Vec<String> = crawlers
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["instances"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let browsers: Vec<(String, f64)> = json("user-agents.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["userAgent"].as_str().unwrap().to_string(),
                u["weight"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let isbot: Vec<String> = serde_json::from_value(json("isbot.json")).unwrap();
    let crawler_patterns: Vec<String> = crawlers
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["pattern"].as_str().map(str::to_string))
        .collect();

    let isbot_only = BotDetector::new(&isbot, &[]).unwrap();
    let combined = BotDetector::load(&vendor("isbot.json"), &vendor("crawlers.json")).unwrap();
    for (name, d) in [
        ("isbot patterns only", &isbot_only),
        ("isbot + crawler-user-agents", &combined),
    ] {
        let caught = instances.iter().filter(|ua| d.is_bot(ua)).count();
        let fp: Vec<&(String, f64)> = browsers.iter().filter(|(ua, _)| d.is_bot(ua)).collect();
        let fp_weight: f64 = (fp.iter().map(|(_, w)| w).sum::<f64>()
            / browsers.iter().map(|(_, w)| w).sum::<f64>())
        .abs();
        println!(
            "bots [{name}]: recall {caught}/{} = {:.2}% on crawler-user-agents instances; \
             false positives {}/{} browser strings ({:.3}% of weighted traffic)",
            instances.len(),
            100.0 * caught as f64 / instances.len() as f64,
            fp.len(),
            browsers.len(),
            100.0 * fp_weight
        );
        for (ua, _) in fp.iter().take(3) {
            println!("  false positive: {ua}");
        }
    }
    let recall =
        instances.iter().filter(|ua| combined.is_bot(ua)).count() as f64 / instances.len() as f64;
    let fps = browsers
        .iter()
        .filter(|(ua, _)| combined.is_bot(ua))
        .count();
    assert!(recall >= 0.99, "recall {recall}");
    assert!(fps * 1000 <= browsers.len(), "{fps} false positives");
    assert!(crawler_patterns.len() > 1000);
}
