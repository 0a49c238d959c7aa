//! From a decoded hit to a stored event: an ordered list of small named
//! steps (see [`steps`]), ending in the privacy step. A hit either becomes an
//! [`Event`], is dropped for one [`DropReason`] (answered 2xx, counted), or is
//! rejected for one [`Rejection`] (answered 4xx with a one-line reason).

pub mod bots;
pub mod geo;
pub mod referrer;
pub mod steps;
pub mod ua;

use std::sync::Arc;

use crate::clock::{day_of, SharedClock};
use crate::config::{Config, EnrichConfig, Policy};
use crate::privacy::{self, ip::Cidr, Event, HitFacts, RawIdentity, Salts};

/// A hit as the client sent it, before any validation.
#[derive(Debug, Clone, Default)]
pub struct Hit {
    pub name: Option<String>,
    pub url: Option<String>,
    pub domain: Option<String>,
    pub referrer: Option<String>,
    pub screen_width: Option<u64>,
    pub props: Vec<(String, String)>,
}

/// Request facts other than identity that steps may read.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub accept_language: Option<String>,
    /// `Purpose: prefetch` or `Sec-Purpose: prefetch` (link previews).
    pub prefetch: bool,
    /// `DNT: 1`.
    pub dnt: bool,
    /// `Sec-GPC: 1`.
    pub gpc: bool,
    /// The opt-out cookie is present.
    pub opted_out: bool,
}

macro_rules! closed_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const COUNT: usize = $name::ALL.len();
            /// Stable snake_case label (metrics, storage, `explain`).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }
    };
}

closed_enum!(
    /// Why an accepted hit was not stored. The client still gets 2xx: a drop
    /// is tacit's decision, not the client's error.
    DropReason {
        Bot => "bot",
        Prefetch => "prefetch",
        EmptyUserAgent => "empty_user_agent",
        OptOut => "opt_out",
        DoNotTrack => "do_not_track",
        GlobalPrivacyControl => "global_privacy_control",
        ExcludedCountry => "excluded_country",
    }
);

closed_enum!(
    /// Why a hit was refused with a 4xx status.
    Rejection {
        BodyTooLarge => "body_too_large",
        BadContentType => "bad_content_type",
        BadJson => "bad_json",
        BadQuery => "bad_query",
        MissingName => "missing_name",
        BadName => "bad_name",
        MissingUrl => "missing_url",
        BadUrl => "bad_url",
        UnknownSite => "unknown_site",
        BadProps => "bad_props",
        BadReferrer => "bad_referrer",
        MethodNotAllowed => "method_not_allowed",
    }
);

impl Rejection {
    pub fn status(self) -> u16 {
        match self {
            Rejection::BodyTooLarge => 413,
            Rejection::BadContentType => 415,
            Rejection::MethodNotAllowed => 405,
            _ => 400,
        }
    }

    /// One line for the client.
    pub fn message(self) -> &'static str {
        match self {
            Rejection::BodyTooLarge => "body too large",
            Rejection::BadContentType => "content type must be application/json or text/plain",
            Rejection::BadJson => "body is not a JSON object of the expected shape",
            Rejection::BadQuery => "query string is not valid",
            Rejection::MissingName => "missing event name (n)",
            Rejection::BadName => "event name must be 1-120 printable characters",
            Rejection::MissingUrl => "missing page URL (u)",
            Rejection::BadUrl => "page URL must be an absolute http(s) URL",
            Rejection::UnknownSite => "unknown site (d): not configured in tacit",
            Rejection::BadProps => "props must be at most 30 string, number or boolean values",
            Rejection::BadReferrer => "referrer is too long",
            Rejection::MethodNotAllowed => "method not allowed",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// What became of a hit that was not rejected.
#[derive(Debug)]
pub enum Outcome {
    Store(Event),
    /// Not stored; `site` is the configured site it was sent for.
    Drop {
        site: &'static str,
        reason: DropReason,
    },
}

/// One configured site (strings live for the process: sites are few).
#[derive(Debug, Clone, Copy)]
pub struct SiteRef {
    pub domain: &'static str,
    pub hash_routing: bool,
}

/// The configured sites, matched by exact domain.
#[derive(Debug, Clone)]
pub struct Sites {
    sites: Vec<SiteRef>,
    origins: Vec<String>,
}

impl Sites {
    pub fn new(cfg: &Config) -> Self {
        Self {
            sites: cfg
                .sites
                .iter()
                .map(|s| SiteRef {
                    domain: Box::leak(s.domain.clone().into_boxed_str()),
                    hash_routing: s.hash_routing,
                })
                .collect(),
            origins: cfg.sites.iter().flat_map(|s| s.origins.clone()).collect(),
        }
    }

    pub fn find(&self, domain: &str) -> Option<SiteRef> {
        let d = domain.trim().trim_end_matches('.');
        self.sites
            .iter()
            .find(|s| s.domain.eq_ignore_ascii_case(d))
            .copied()
    }

    /// CORS: an origin is allowed if its host is a site or a subdomain of
    /// one, or it is listed in a site's `origins`.
    pub fn allows_origin(&self, origin: &str) -> bool {
        if self.origins.iter().any(|o| o == origin) {
            return true;
        }
        let Ok(u) = url::Url::parse(origin) else {
            return false;
        };
        if !matches!(u.scheme(), "http" | "https") {
            return false;
        }
        let Some(host) = u.host_str() else {
            return false;
        };
        self.sites.iter().map(|s| s.domain).any(|d| {
            host.eq_ignore_ascii_case(d)
                || (host.len() > d.len()
                    && host[host.len() - d.len()..].eq_ignore_ascii_case(d)
                    && host.as_bytes()[host.len() - d.len() - 1] == b'.')
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("enrich.uap_regexes: {0}")]
    Ua(#[from] ua::UaError),
    #[error("enrich.isbot_patterns / enrich.crawler_patterns: {0}")]
    Bots(#[from] bots::BotError),
    #[error("enrich.referrers: {0}")]
    Referrers(#[from] referrer::ReferrerError),
    #[error("enrich.geoip: {0}")]
    Geo(#[from] geo::GeoError),
}

/// The data-driven parsers, loaded once. Those that read the raw IP or
/// user agent are only ever called from `privacy/`.
pub struct Enrichers {
    pub ua: Option<ua::UaParser>,
    pub bots: Option<bots::BotDetector>,
    pub referrers: referrer::Referrers,
    pub geo: Option<geo::Geo>,
}

impl Enrichers {
    pub fn load(cfg: &EnrichConfig) -> Result<Self, EnrichError> {
        let ua = match &cfg.uap_regexes {
            Some(p) => Some(ua::UaParser::load(p, cfg.ua_cache_size)?),
            None => None,
        };
        let bots = match (&cfg.isbot_patterns, &cfg.crawler_patterns) {
            (Some(a), Some(b)) => Some(bots::BotDetector::load(a, b)?),
            _ => None,
        };
        let referrers = match &cfg.referrers {
            Some(p) => referrer::Referrers::load(p)?,
            None => referrer::Referrers::empty(),
        };
        let geo = if cfg.geoip.is_empty() {
            None
        } else {
            Some(geo::Geo::open(&cfg.geoip)?)
        };
        Ok(Self {
            ua,
            bots,
            referrers,
            geo,
        })
    }

    /// No data files: every field that needs them stays empty.
    pub fn none() -> Self {
        Self {
            ua: None,
            bots: None,
            referrers: referrer::Referrers::empty(),
            geo: None,
        }
    }
}

/// Everything a hit needs on its way to storage.
pub struct Pipeline {
    pub sites: Sites,
    pub salts: Arc<Salts>,
    pub clock: SharedClock,
    pub policy: Policy,
    pub enrichers: Arc<Enrichers>,
    pub trusted_proxies: Vec<Cidr>,
}

impl Pipeline {
    pub fn new(
        cfg: &Config,
        enrichers: Arc<Enrichers>,
        salts: Arc<Salts>,
        clock: SharedClock,
    ) -> Self {
        Self {
            sites: Sites::new(cfg),
            salts,
            clock,
            policy: cfg.policy.clone(),
            enrichers,
            trusted_proxies: cfg.trusted_proxies.clone(),
        }
    }

    /// Run every step in order: validate, then drops, then enrich, then
    /// the privacy step that builds the stored event.
    pub fn process(
        &self,
        hit: Hit,
        meta: &RequestMeta,
        identity: RawIdentity,
    ) -> Result<Outcome, Rejection> {
        let name = steps::event_name(hit.name.as_deref())?;
        let url = steps::parse_url(hit.url.as_deref())?;
        let site = steps::site(&self.sites, hit.domain.as_deref(), &url)?;
        let page = steps::page(&url, site.hash_routing, &self.policy);
        drop(url);
        let referrer_host = steps::referrer_host(hit.referrer.as_deref(), &page.hostname)?;
        let (prop_keys, prop_values) = steps::props(hit.props)?;
        let drop = |reason| {
            Ok(Outcome::Drop {
                site: site.domain,
                reason,
            })
        };
        if let Some(reason) = steps::request_drop(meta, &self.policy) {
            return drop(reason);
        }
        let derived = match identity.derive(&self.enrichers) {
            Ok(d) => d,
            Err(reason) => return drop(reason),
        };
        if steps::excluded_country(&derived.geo.country, &self.policy) {
            return drop(DropReason::ExcludedCountry);
        }
        let anonymous = match steps::consent(meta, &self.policy) {
            Err(reason) => return drop(reason),
            Ok(anonymous) => anonymous,
        };
        let attribution = self
            .enrichers
            .referrers
            .attribute(&referrer_host, &page.utm);
        let referrer_host = match self.policy.referrer {
            crate::config::ReferrerRule::Host => referrer_host,
            crate::config::ReferrerRule::Drop => String::new(),
        };
        let screen_width = steps::screen_width(hit.screen_width);
        let facts = HitFacts {
            site: std::borrow::Cow::Borrowed(site.domain),
            name,
            hostname: page.hostname,
            pathname: page.pathname,
            query: page.query,
            referrer_host,
            referrer_source: attribution.source,
            channel: attribution.channel.as_str(),
            utm: page.utm,
            language: steps::language(meta.accept_language.as_deref()),
            screen_width,
            screen: ua::screen_class(screen_width),
            prop_keys,
            prop_values,
        };
        let now = self.clock.now_ms();
        let key = (!anonymous).then(|| self.salts.key_for(day_of(now)));
        Ok(Outcome::Store(privacy::anonymize(
            facts,
            identity,
            &derived,
            key.as_deref(),
            &self.policy,
            now,
        )))
    }
}
