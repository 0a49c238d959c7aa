//! Property tests of the privacy invariants, over the real pipeline and the
//! vendored data: for any hit, the stored row holds neither the raw IP in
//! any textual form, nor the raw user agent, nor a query value outside the
//! allow-list; visitor ids of two days cannot be linked; path and free
//! text scrubbing are idempotent; free text with a personal word is
//! redacted whole.

use std::net::IpAddr;
use std::sync::Arc;

use proptest::prelude::*;
use tacit::config::{RawConfig, RawSite};
use tacit::enrich::Enrichers;
use tacit::ingest::{Hit, Outcome, Pipeline, RequestMeta};
use tacit::model::clock::ManualClock;
use tacit::privacy::{event_json, RawIdentity, Salts};

use crate::support::vendor;

/// One pipeline for every case (loading the rules is the slow part).
static PIPELINE: std::sync::LazyLock<Pipeline> = std::sync::LazyLock::new(pipeline);

fn pipeline() -> Pipeline {
    let mut raw = RawConfig {
        sites: vec![RawSite {
            domain: "example.com".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    raw.enrich.uap_regexes = vendor("regexes.yaml").display().to_string();
    raw.enrich.isbot_patterns = vendor("isbot.json").display().to_string();
    raw.enrich.crawler_patterns = vendor("crawlers.json").display().to_string();
    raw.enrich.referrers = vendor("referrers.json").display().to_string();
    raw.enrich.geoip = vec![vendor("dbip-country.mmdb").display().to_string()];
    raw.policy.ip = "truncate".into();
    raw.policy.query_params = vec!["lang".into()];
    raw.server.rate_limit_per_second = 0;
    let cfg = raw.validate().unwrap();
    let enrichers = Arc::new(Enrichers::load(&cfg.enrich).unwrap());
    Pipeline::new(
        &cfg,
        enrichers,
        Arc::new(Salts::new()),
        Arc::new(ManualClock::new(1_795_737_600_000)),
    )
}

/// An address whose textual form is not a prefix of its own truncation.
fn address() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>()
            .prop_filter("not a .0 address", |o| o[3] != 0 && o[0] != 0)
            .prop_map(IpAddr::from),
        any::<u128>()
            .prop_filter("bits beyond /48", |v| v & ((1 << 80) - 1) != 0
                && v >> 112 != 0)
            .prop_map(|v| IpAddr::from(v.to_be_bytes())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_raw_identifier_reaches_the_stored_row(
        ip in address(),
        canary in "[0-9]{12,24}",
        segments in proptest::collection::vec("[a-z]{1,8}", 0..4),
        secret in "[A-Za-z0-9]{10,20}",
        lang in "[a-z]{2}",
    ) {
        let p = &*PIPELINE;
        // A desktop Chrome with a token of its own in the platform part
        // (digits only: a random word could spell a bot's name).
        let ua = format!("Mozilla/5.0 (X11; Linux x86_64; Zq{canary}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36");
        let url = format!(
            "https://example.com/{}?token={secret}&lang={lang}&utm_source=news#{secret}",
            segments.join("/")
        );
        let hit = Hit { name: Some("pageview".into()), url: Some(url), ..Hit::default() };
        let identity = RawIdentity::new(ip, None, &[], &ua);
        let ev = match p.process(hit, &RequestMeta::default(), identity) {
            Ok(Outcome::Store(ev)) => ev,
            other => panic!("a browser's page view is stored: {other:?}"),
        };
        let row = event_json(&ev).to_string();
        let ip_forms = [ip.to_string(), tacit::privacy::ip::canonical(ip).to_string()];
        for form in &ip_forms {
            prop_assert!(!row.contains(form.as_str()), "{form} in {row}");
        }
        prop_assert!(!row.contains(&format!("Zq{canary}")), "user agent in {row}");
        prop_assert!(!row.contains(&secret), "query value in {row}");
        prop_assert!(row.contains(&format!("lang={lang}")), "the allow-listed one is kept: {row}");
    }

    #[test]
    fn two_days_give_unlinkable_visitor_ids(ip in address(), ua in "[ -~]{1,80}", day in 19_000i32..30_000) {
        let salts = Salts::new();
        let a = tacit::privacy::visitor_id(&salts.key_for(day), "example.com", ip, &ua);
        let b = tacit::privacy::visitor_id(&salts.key_for(day + 1), "example.com", ip, &ua);
        prop_assert_ne!(a, b);
        prop_assert_eq!(a, tacit::privacy::visitor_id(&salts.key_for(day), "example.com", ip, &ua));
    }

    #[test]
    fn free_text_with_a_personal_word_is_redacted_whole(
        before in proptest::collection::vec("[a-zA-Z]{1,10}", 0..5),
        after in proptest::collection::vec("[a-zA-Z]{1,10}", 0..5),
        user in "[a-z][a-z.]{0,12}[a-z]",
        phone in "[0-9]{3}[ -][0-9]{3}[ -][0-9]{4}",
        token in "[a-f0-9]{32}",
        pick in 0usize..3,
    ) {
        let personal = [format!("{user}@example.org"), format!("+1 {phone}"), token][pick].clone();
        let text = [before.join(" "), personal, after.join(" ")].join(" ");
        prop_assert_eq!(tacit::privacy::url::redact_text(&text), ":redacted", "{}", text);
    }

    #[test]
    fn free_text_scrubbing_is_idempotent_and_bounded(text in "[ -~]{0,400}") {
        let once = tacit::privacy::url::redact_text(&text);
        prop_assert!(once.chars().count() <= tacit::privacy::url::MAX_TEXT_CHARS);
        prop_assert_eq!(tacit::privacy::url::redact_text(&once), once);
    }

    #[test]
    fn path_scrubbing_is_idempotent(path in "(/[a-zA-Z0-9@._%+-]{0,40}){0,6}") {
        let once = tacit::privacy::url::redact_path(&path);
        prop_assert_eq!(tacit::privacy::url::redact_path(&once), once);
    }
}
