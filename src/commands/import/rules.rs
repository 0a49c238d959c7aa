//! What one access-log request becomes: the import's own rules first
//! (method, status, static assets, days still collected live), then the live
//! pipeline's steps (`ingest::Pipeline`: site, URL scrubbing, bot rules,
//! enrichment, excluded countries, consent, anonymization), run at the
//! request's time with the import's own salt of that day
//! (`privacy::Salts::throwaway`). A log has no `Accept-Language`, no
//! `DNT`/`Sec-GPC` and no opt-out cookie: language is empty, and consent
//! signals cannot be honoured because they cannot be known.

use std::net::IpAddr;
use std::sync::Arc;

use crate::config::Config;
use crate::enrich::Enrichers;
use crate::ingest::{Hit, Outcome, Pipeline, RequestMeta, Sites};
use crate::model::clock::{day_of, ManualClock};
use crate::privacy::{Event, RawIdentity, Salts};

use super::access::Request;

/// Extensions of files that are not pages (assets, feeds, archives).
pub const STATIC_EXTENSIONS: &[&str] = &[
    "css", "js", "mjs", "map", "json", "xml", "txt", "png", "jpg", "jpeg", "gif", "svg", "ico",
    "webp", "avif", "bmp", "woff", "woff2", "ttf", "otf", "eot", "mp4", "webm", "mp3", "ogg",
    "wav", "zip", "gz", "tar", "wasm", "rss", "atom",
];

/// Path prefixes that are not pages: well-known files and the beacon
/// endpoints of tacit and the trackers it speaks for.
pub const NOT_PAGES: &[&str] = &[
    "/.well-known/",
    "/p.gif",
    "/e/o.gif",
    "/e/c",
    "/api/event",
    "/api/send",
];

/// The rules, in words, for `tacit import --explain`.
pub fn describe() -> serde_json::Value {
    serde_json::json!({
        "kept": "GET requests answered 2xx or 3xx for a page of the site",
        "skipped": {
            "method": "any method but GET",
            "status": "an answer outside 200-399",
            "static_asset": format!("a path ending in .{}", STATIC_EXTENSIONS.join(", .")),
            "not_a_page": format!("a path under {}", NOT_PAGES.join(", ")),
            "bad_target": "a request target that is not a path",
            "open_day": "yesterday, today or later: those days are collected live",
            "live_day": "a day already collected live (--overlap keep-live)",
        },
        "then": "the live pipeline: site, URL scrubbing, bot rules, enrichment, excluded countries, anonymization",
        "salt": "a random salt per imported day, made for this import and destroyed when it ends: imports never link to each other or to live days",
        "unknown_in_logs": "DNT, Sec-GPC and the opt-out cookie are not in access logs, so they cannot be honoured for imported requests; Accept-Language is not either (language is empty)",
    })
}

/// What became of one request.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "moved once per line, like ingest::Outcome; boxing would add an allocation per row"
)]
pub enum LineOutcome {
    Store(Event),
    /// Not imported, for this reason (a snake_case label).
    Skip(&'static str),
}

/// The import's rules and the live pipeline, at the requests' times.
pub struct Rules {
    pipeline: Pipeline,
    clock: ManualClock,
    site: &'static str,
    /// Requests on this day or later are skipped (`open_day`).
    open_from: i32,
}

impl Rules {
    /// `now_ms` (the injected clock) decides which days are still open.
    pub fn new(cfg: &Config, enrichers: Arc<Enrichers>, site: &str, now_ms: i64) -> Option<Self> {
        let clock = ManualClock::new(now_ms);
        let sites = Sites::new(cfg);
        let site = sites.find(site)?.domain;
        let pipeline = Pipeline {
            sites,
            salts: Arc::new(Salts::throwaway()),
            clock: Arc::new(clock.clone()),
            policy: cfg.policy.clone(),
            enrichers,
            trusted_proxies: vec![],
            client_ip_header: None,
            limiter: None,
            bursts: crate::privacy::email::Bursts::new(1, cfg.policy.email_burst_ms),
        };
        Some(Self {
            pipeline,
            clock,
            site,
            open_from: day_of(now_ms) - 1,
        })
    }

    /// The configured site's domain.
    pub fn site(&self) -> &'static str {
        self.site
    }

    /// The import's rules alone (no pipeline): `None` if the request may
    /// be a page view.
    pub fn skip(&self, r: &Request<'_>) -> Option<&'static str> {
        if r.method != "GET" {
            return Some("method");
        }
        if !(200..400).contains(&r.status) {
            return Some("status");
        }
        if !r.target.starts_with('/') {
            return Some("bad_target");
        }
        let path = r.target.split(['?', '#']).next().unwrap_or("");
        if NOT_PAGES.iter().any(|p| path.starts_with(p)) {
            return Some("not_a_page");
        }
        let last = path.rsplit('/').next().unwrap_or("");
        if let Some((_, ext)) = last.rsplit_once('.') {
            if STATIC_EXTENSIONS
                .iter()
                .any(|e| e.eq_ignore_ascii_case(ext))
            {
                return Some("static_asset");
            }
        }
        if day_of(r.ts_ms) >= self.open_from {
            return Some("open_day");
        }
        None
    }

    /// What one request becomes.
    pub fn apply(&self, r: Request<'_>) -> LineOutcome {
        if let Some(reason) = self.skip(&r) {
            return LineOutcome::Skip(reason);
        }
        self.clock.set(r.ts_ms);
        let hit = Hit {
            name: Some("pageview".into()),
            url: Some(format!("https://{}{}", self.site, r.target)),
            domain: Some(self.site.to_string()),
            referrer: r.referrer.map(|r| r.into_owned()),
            ..Hit::default()
        };
        let identity = identity(r.ip, &r.user_agent);
        match self
            .pipeline
            .process(hit, &RequestMeta::default(), identity)
        {
            Ok(Outcome::Store(ev)) => LineOutcome::Store(ev),
            Ok(Outcome::Drop { reason, .. }) => LineOutcome::Skip(reason.as_str()),
            Err(rejection) => LineOutcome::Skip(rejection.as_str()),
        }
    }
}

fn identity(ip: IpAddr, ua: &str) -> RawIdentity {
    RawIdentity::new(ip, None, &[], ua)
}
