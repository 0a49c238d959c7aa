//! From a decoded hit to a stored event: an ordered list of small named
//! steps (see [`steps`]), ending in the privacy step. A hit either becomes an
//! [`Event`], is dropped for one [`DropReason`] (answered 2xx, counted), or is
//! rejected for one [`Rejection`] (answered 4xx with a one-line reason).

pub mod email;
pub mod limit;
pub mod steps;

use std::sync::Arc;

use crate::config::Config;
use crate::enrich::Enrichers;
use crate::model::clock::{day_of, SharedClock};
use crate::model::device::{self, DeviceSignal};
use crate::model::facts::screen_class;
use crate::model::net::Cidr;
use crate::model::policy::{Policy, ReferrerRule};
pub use crate::model::{DropReason, Hit, Rejection, RequestMeta};
use crate::privacy::{self, Event, HitFacts, RawIdentity, Salts};

/// What became of a hit that was not rejected.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "moved once per hit; boxing the event would add an allocation per stored hit"
)]
pub enum Outcome {
    Store(Event),
    /// Not stored; `site` is the configured site it was sent for.
    Drop {
        site: &'static str,
        reason: DropReason,
    },
}

/// One configured site. The domain is interned (one copy per distinct
/// domain for the process, however often a configuration is loaded: rows
/// borrow it instead of copying it per hit); the key and the allowed
/// properties are shared with the `Sites` that made them and freed with it.
#[derive(Debug, Clone)]
pub struct SiteRef {
    pub domain: &'static str,
    pub hash_routing: bool,
    /// Signs email click links; `None`: no email beacons for the site.
    pub email_key: Option<Arc<crate::config::EmailKey>>,
    /// Property keys that may be stored; `None`: every key.
    pub allowed_properties: Option<Arc<[String]>>,
}

/// The configured sites, matched by exact domain.
#[derive(Debug, Clone)]
pub struct Sites {
    sites: Vec<SiteRef>,
    origins: Vec<String>,
    /// Umami website id → site domain.
    umami: Vec<(String, &'static str)>,
}

impl Sites {
    pub fn new(cfg: &Config) -> Self {
        let sites: Vec<SiteRef> = cfg
            .sites
            .iter()
            .map(|s| SiteRef {
                domain: crate::model::intern::intern(&s.domain),
                hash_routing: s.hash_routing,
                email_key: s.email_key.clone().map(Arc::new),
                allowed_properties: s.allowed_properties.as_deref().map(Arc::from),
            })
            .collect();
        let umami = cfg
            .sites
            .iter()
            .zip(&sites)
            .filter_map(|(c, r)| c.umami_website_id.clone().map(|id| (id, r.domain)))
            .collect();
        Self {
            sites,
            origins: cfg.sites.iter().flat_map(|s| s.origins.clone()).collect(),
            umami,
        }
    }

    /// The site configured with this Umami website id.
    pub fn by_umami_id(&self, id: &str) -> Option<&'static str> {
        let id = id.trim().to_ascii_lowercase();
        self.umami.iter().find(|(w, _)| *w == id).map(|(_, d)| *d)
    }

    pub fn find(&self, domain: &str) -> Option<&SiteRef> {
        let d = domain.trim().trim_end_matches('.');
        self.sites.iter().find(|s| s.domain.eq_ignore_ascii_case(d))
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

/// Everything a hit needs on its way to storage.
pub struct Pipeline {
    pub sites: Sites,
    pub salts: Arc<Salts>,
    pub clock: SharedClock,
    pub policy: Policy,
    pub enrichers: Arc<Enrichers>,
    pub trusted_proxies: Vec<Cidr>,
    /// A header trusted proxies set to the client address alone.
    pub client_ip_header: Option<String>,
    /// Per-client-network rate limit (`None`: off).
    pub limiter: Option<limit::RateLimiter>,
    /// Recent email beacons, for scanners' bursts of clicks.
    pub bursts: privacy::email::Bursts,
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
            client_ip_header: cfg.client_ip_header.clone(),
            limiter: (cfg.rate_limit.per_second > 0).then(|| {
                limit::RateLimiter::new(
                    cfg.rate_limit.per_second,
                    cfg.rate_limit.burst,
                    cfg.rate_limit.clients,
                )
            }),
            bursts: privacy::email::Bursts::new(100_000, cfg.policy.email_burst_ms),
        }
    }

    /// Run every step in order: validate, then drops (the per-network rate
    /// limit among them), then enrich, then the privacy step that builds the
    /// stored event.
    pub fn process(
        &self,
        hit: Hit,
        meta: &RequestMeta,
        identity: RawIdentity,
    ) -> Result<Outcome, Rejection> {
        self.run(hit, meta, identity, true)
            .map(|(outcome, _)| outcome)
    }

    /// What one hit becomes, for `tacit explain`: the same steps as
    /// [`Pipeline::process`] except the rate limit, which is about a stream
    /// of hits, not one (explaining takes no token and counts nothing); also
    /// the signal that decided the device class, when the hit got that far.
    pub fn explain(
        &self,
        hit: Hit,
        meta: &RequestMeta,
        identity: RawIdentity,
    ) -> (Result<Outcome, Rejection>, Option<DeviceSignal>) {
        match self.run(hit, meta, identity, false) {
            Ok((outcome, signal)) => (Ok(outcome), signal),
            Err(r) => (Err(r), None),
        }
    }

    fn run(
        &self,
        hit: Hit,
        meta: &RequestMeta,
        identity: RawIdentity,
        limit: bool,
    ) -> Result<(Outcome, Option<DeviceSignal>), Rejection> {
        let name = steps::event_name(hit.name.as_deref())?;
        let url = steps::parse_url(hit.url.as_deref())?;
        let site = steps::site(&self.sites, hit.domain.as_deref(), &url)?;
        let page = steps::page(&url, site.hash_routing || hit.hash_mode, &self.policy);
        drop(url);
        let referrer_host = steps::referrer_host(hit.referrer.as_deref(), &page.hostname)?;
        let (prop_keys, prop_values) = steps::props(
            hit.props,
            site.allowed_properties.as_deref(),
            self.policy.redact_paths,
        )?;
        let drop = |reason| {
            Ok((
                Outcome::Drop {
                    site: site.domain,
                    reason,
                },
                None,
            ))
        };
        if let Some(reason) = steps::request_drop(meta, &self.policy) {
            return drop(reason);
        }
        if let Some(l) = self.limiter.as_ref().filter(|_| limit) {
            if !l.allow(identity.network_key(&l.key)) {
                return drop(DropReason::RateLimited);
            }
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
            ReferrerRule::Host => referrer_host,
            ReferrerRule::Drop => String::new(),
        };
        let screen_width = steps::screen_width(hit.screen_width);
        let (device, signal) =
            device::decide(derived.ua.agent_device(), meta.ch_mobile, screen_width);
        let facts = HitFacts {
            site: std::borrow::Cow::Borrowed(site.domain),
            name,
            hostname: page.hostname,
            pathname: page.pathname,
            query: page.query,
            referrer_host,
            referrer_source: attribution.source,
            channel: attribution.channel,
            utm: page.utm,
            language: steps::language(meta.accept_language.as_deref()),
            screen_width,
            screen: screen_class(screen_width),
            device,
            prop_keys,
            prop_values,
            non_interactive: hit.non_interactive,
            revenue: hit.revenue,
            engagement: hit.engagement,
        };
        let now = self.clock.now_ms();
        let key = (!anonymous).then(|| self.salts.key_for(day_of(now)));
        let event =
            privacy::anonymize(facts, identity, &derived, key.as_deref(), &self.policy, now);
        Ok((Outcome::Store(event), Some(signal)))
    }
}
