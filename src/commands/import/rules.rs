//! What one access-log request becomes: the import's own rules first
//! (method, status, static assets, days still collected live), then the live
//! pipeline's steps (`ingest::Pipeline`: site, URL scrubbing, bot rules,
//! enrichment, excluded countries, consent, anonymization), run at the
//! request's time with the import's own salt of that day
//! (`privacy::Salts::throwaway`). A log has no `Accept-Language`, no
//! `DNT`/`Sec-GPC` and no opt-out cookie: language is empty, and consent
//! signals cannot be honoured because they cannot be known.
//!
//! A row of another tracker's export ([`ExportedHit`]: GoatCounter,
//! Umami) goes through the same pipeline with an identity made from the
//! tracker's session id (`privacy::RawIdentity::exported`): the visitor id
//! is one salted hash of it under the import's salt of the row's day; the
//! session id itself is never stored. Location and browser are the
//! export's, coarsened by the site's policy like live ones.

use std::net::IpAddr;
use std::sync::Arc;

use crate::config::Config;
use crate::enrich::Enrichers;
use crate::ingest::{Hit, Outcome, Pipeline, RequestMeta, Sites};
use crate::model::clock::{day_of, ManualClock};
use crate::model::facts::{GeoInfo, UaInfo};
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
        "exports": "GoatCounter and Umami rows: kept unless the tracker marked them a bot or they fall on an open or live day; the visitor id is a salted hash of the tracker's session id (never stored), location and browser are the export's",
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

/// One row of a per-event export of another tracker, as read.
#[derive(Debug, Clone, Default)]
pub struct ExportedHit {
    pub ts_ms: i64,
    /// The tracker's session (or visitor) id: hashed, never stored.
    pub session: String,
    /// A raw user agent if the export kept one (older GoatCounter
    /// exports); parsed like a live one, never stored.
    pub user_agent: String,
    /// The tracker's own browser, system and device.
    pub agent: Option<UaInfo>,
    pub geo: GeoInfo,
    /// `pageview`, or a custom event's name.
    pub name: String,
    /// The page's host; empty: the site's.
    pub hostname: String,
    /// Path and query.
    pub target: String,
    /// A URL; only its host is kept, as for live hits.
    pub referrer: Option<String>,
    pub screen_width: Option<u64>,
    /// A language tag (`en-US`).
    pub language: Option<String>,
    /// The tracker marked the row as a bot's.
    pub bot: bool,
}

impl Rules {
    /// What one exported row becomes: bots and open days skipped, then
    /// the live pipeline with the row's session as the identity.
    pub fn apply_exported(&self, h: ExportedHit) -> LineOutcome {
        if h.bot {
            return LineOutcome::Skip("bot");
        }
        if !h.target.starts_with('/') {
            return LineOutcome::Skip("bad_target");
        }
        if day_of(h.ts_ms) >= self.open_from {
            return LineOutcome::Skip("open_day");
        }
        self.clock.set(h.ts_ms);
        let host = if h.hostname.is_empty() {
            self.site
        } else {
            h.hostname.as_str()
        };
        let hit = Hit {
            name: Some(h.name),
            url: Some(format!("https://{host}{}", h.target)),
            domain: Some(self.site.to_string()),
            referrer: h.referrer,
            screen_width: h.screen_width,
            ..Hit::default()
        };
        let meta = RequestMeta {
            accept_language: h.language,
            ..RequestMeta::default()
        };
        let identity = RawIdentity::exported(&h.session, &h.user_agent, h.agent, h.geo);
        match self.pipeline.process(hit, &meta, identity) {
            Ok(Outcome::Store(ev)) => LineOutcome::Store(ev),
            Ok(Outcome::Drop { reason, .. }) => LineOutcome::Skip(reason.as_str()),
            Err(rejection) => LineOutcome::Skip(rejection.as_str()),
        }
    }
}

fn identity(ip: IpAddr, ua: &str) -> RawIdentity {
    RawIdentity::new(ip, None, &[], ua)
}
