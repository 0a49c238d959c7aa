//! From a decoded hit to a stored event: an ordered list of small named
//! steps (see [`steps`]), ending in the privacy step. A hit either becomes an
//! [`Event`], is dropped for one [`DropReason`] (answered 2xx, counted), or is
//! rejected for one [`Rejection`] (answered 4xx with a one-line reason).

pub mod bots;
pub mod steps;
pub mod ua;

use std::sync::Arc;

use crate::clock::{day_of, SharedClock};
use crate::config::{Config, IpRule};
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
    Drop(DropReason),
}

/// The configured sites, matched by exact domain.
#[derive(Debug, Clone)]
pub struct Sites {
    domains: Vec<String>,
    origins: Vec<String>,
}

impl Sites {
    pub fn new(cfg: &Config) -> Self {
        Self {
            domains: cfg.sites.iter().map(|s| s.domain.clone()).collect(),
            origins: cfg.sites.iter().flat_map(|s| s.origins.clone()).collect(),
        }
    }

    pub fn find(&self, domain: &str) -> Option<&str> {
        let d = domain.trim().trim_end_matches('.');
        self.domains
            .iter()
            .find(|s| s.eq_ignore_ascii_case(d))
            .map(String::as_str)
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
        self.domains.iter().any(|d| {
            host.eq_ignore_ascii_case(d)
                || (host.len() > d.len()
                    && host[host.len() - d.len()..].eq_ignore_ascii_case(d)
                    && host.as_bytes()[host.len() - d.len() - 1] == b'.')
        })
    }
}

/// Everything a hit needs on its way to storage.
pub struct Pipeline {
    pub sites: Sites,
    pub salts: Arc<Salts>,
    pub clock: SharedClock,
    pub ip_rule: IpRule,
    pub trusted_proxies: Vec<Cidr>,
}

impl Pipeline {
    pub fn new(cfg: &Config, salts: Arc<Salts>, clock: SharedClock) -> Self {
        Self {
            sites: Sites::new(cfg),
            salts,
            clock,
            ip_rule: cfg.ip_rule,
            trusted_proxies: cfg.trusted_proxies.clone(),
        }
    }

    /// Run every step in order.
    pub fn process(
        &self,
        hit: Hit,
        meta: &RequestMeta,
        identity: RawIdentity,
    ) -> Result<Outcome, Rejection> {
        let name = steps::event_name(hit.name.as_deref())?;
        let page = steps::page_url(hit.url.as_deref())?;
        let site = steps::site(&self.sites, hit.domain.as_deref(), &page)?;
        let referrer_host = steps::referrer_host(hit.referrer.as_deref(), &page)?;
        let (prop_keys, prop_values) = steps::props(hit.props)?;
        if let Some(reason) = steps::drop_check(meta, &identity) {
            return Ok(Outcome::Drop(reason));
        }
        let facts = HitFacts {
            site: site.to_string(),
            name,
            hostname: page.hostname,
            pathname: page.pathname,
            referrer_host,
            language: steps::language(meta.accept_language.as_deref()),
            screen_width: steps::screen_width(hit.screen_width),
            prop_keys,
            prop_values,
        };
        let now = self.clock.now_ms();
        let key = self.salts.key_for(day_of(now));
        Ok(Outcome::Store(privacy::anonymize(
            facts,
            identity,
            &key,
            self.ip_rule,
            now,
        )))
    }
}
