//! The privacy boundary. This is the only module that reads the raw client IP
//! and user agent ([`RawIdentity`]), and the only constructor of the
//! anonymous [`Event`] that leaves the process for storage. What it keeps is
//! derived: a truncated network prefix (or nothing, per policy) and a salted,
//! daily-rotating visitor id.

pub mod email;
pub mod ip;

pub mod salt;
pub mod url;

use std::fmt;
use std::net::IpAddr;

use hmac::Mac;
use serde::Serialize;

use std::borrow::Cow;

use std::sync::Arc;

use crate::config::{IpRule, LocationRule, Policy, VersionRule};
use crate::enrich::Enrichers;
use crate::model::device::DeviceClass;
use crate::model::facts::UaInfo;
use crate::model::facts::Utm;
use crate::model::facts::{screen_name, Channel, GeoInfo, ScreenClass};
use crate::model::policy::Consent;
use crate::model::row::ColumnWriter;
use crate::model::DropReason;
pub use salt::{SaltError, Salts};

/// User agents are read up to this many bytes: real browsers send a few
/// hundred, and parsing (and hashing) a 300 KB agent would let one client
/// slow every other's hits down.
pub const MAX_USER_AGENT: usize = 1024;

fn truncate_agent(ua: &str) -> &str {
    if ua.len() <= MAX_USER_AGENT {
        return ua;
    }
    let mut end = MAX_USER_AGENT;
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    &ua[..end]
}

/// Identifying facts about the client, held in memory only for the duration
/// of one hit's pipeline. Deliberately not `Serialize`, not `Clone`, and its
/// `Debug` prints nothing of its contents.
pub struct RawIdentity {
    ip: IpAddr,
    user_agent: String,
    /// Set for a row of another tracker's export (`tacit import`), which
    /// carries a session id instead of an address.
    exported: Option<Box<Exported>>,
}

/// What a row of another tracker's export says of its visitor: the
/// tracker's session id (hashed into the visitor id under the import's
/// salt, never stored), and the location and agent facts the tracker
/// derived when it collected the row.
pub struct Exported {
    session: String,
    geo: GeoInfo,
    /// The tracker's browser, system and device; `None`: parse the user
    /// agent if the row has one.
    agent: Option<UaInfo>,
}

impl RawIdentity {
    /// `peer` is the socket address; `forwarded_for` the `X-Forwarded-For`
    /// header, honoured only when the peer is a trusted proxy.
    pub fn new(
        peer: IpAddr,
        forwarded_for: Option<&str>,
        trusted: &[ip::Cidr],
        user_agent: &str,
    ) -> Self {
        Self {
            ip: ip::client_ip(peer, forwarded_for, trusted),
            user_agent: truncate_agent(user_agent).to_string(),
            exported: None,
        }
    }

    /// A row of another tracker's export: no address (so no network
    /// prefix, and the location is the export's), a session id that only
    /// ever becomes a salted hash ([`session_visitor_id`]), the user agent
    /// if the export kept it (else empty) and the export's agent facts.
    pub fn exported(session: &str, user_agent: &str, agent: Option<UaInfo>, geo: GeoInfo) -> Self {
        Self {
            ip: IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            user_agent: truncate_agent(user_agent).to_string(),
            exported: Some(Box::new(Exported {
                session: session.to_string(),
                geo,
                agent,
            })),
        }
    }

    /// A keyed hash of the client's network (IPv4 /24, IPv6 /48), for the
    /// rate limiter: a network, never an address, and unreadable without
    /// the key, which lives only in memory.
    pub fn network_key(&self, key: &impl std::hash::BuildHasher) -> u64 {
        key.hash_one(ip::network(self.ip))
    }

    /// The country of the client's address (for the excluded-country
    /// rule); nothing else of the location.
    pub fn country(&self, g: &crate::enrich::geo::Geo) -> String {
        match &self.exported {
            Some(x) => x.geo.country.clone(),
            None => g.lookup(self.ip).country,
        }
    }

    /// Whether a user agent was sent at all (empty ones are dropped).
    pub fn has_user_agent(&self) -> bool {
        !self.user_agent.trim().is_empty()
    }

    /// What may be learned from the IP and user agent, through the
    /// enrichment parsers; or the reason the hit is not a person's visit.
    pub fn derive(&self, e: &Enrichers) -> Result<Derived, DropReason> {
        if let Some(x) = &self.exported {
            return self.derive_exported(x, e);
        }
        if !self.has_user_agent() {
            return Err(DropReason::EmptyUserAgent);
        }
        let bot = |ua: &str| e.bots.as_ref().is_some_and(|b| b.is_bot(ua));
        let ua = match &e.ua {
            Some(p) => p.parse_with(&self.user_agent, bot),
            None => Arc::new(UaInfo {
                bot: bot(&self.user_agent),
                ..Default::default()
            }),
        };
        if ua.bot || ua.spider {
            return Err(DropReason::Bot);
        }
        let geo = e
            .geo
            .as_ref()
            .map(|g| g.lookup(self.ip))
            .unwrap_or_default();
        Ok(Derived { ua, geo })
    }

    /// An exported row: the agent the export kept is parsed (and checked
    /// for bots) like a live one; else the export's own facts stand.
    fn derive_exported(&self, x: &Exported, e: &Enrichers) -> Result<Derived, DropReason> {
        let ua = if self.has_user_agent() {
            let bot = |ua: &str| e.bots.as_ref().is_some_and(|b| b.is_bot(ua));
            match &e.ua {
                Some(p) => p.parse_with(&self.user_agent, bot),
                None => Arc::new(UaInfo {
                    bot: bot(&self.user_agent),
                    ..x.agent.clone().unwrap_or_default()
                }),
            }
        } else {
            Arc::new(x.agent.clone().unwrap_or_default())
        };
        if ua.bot || ua.spider {
            return Err(DropReason::Bot);
        }
        Ok(Derived {
            ua,
            geo: x.geo.clone(),
        })
    }
}

/// Facts derived from the identity; nothing here identifies anyone.
#[derive(Debug, Clone)]
pub struct Derived {
    pub ua: Arc<UaInfo>,
    pub geo: GeoInfo,
}

impl fmt::Debug for RawIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawIdentity(<redacted>)")
    }
}

/// The non-identifying part of a hit, as produced by `ingest/`.
#[derive(Debug, Clone, Default)]
pub struct HitFacts {
    pub site: Cow<'static, str>,
    pub name: String,
    pub hostname: String,
    pub pathname: String,
    pub query: String,
    pub referrer_host: String,
    pub referrer_source: String,
    pub channel: Channel,
    pub utm: Utm,
    pub language: String,
    pub screen_width: u16,
    pub screen: Option<ScreenClass>,
    /// The device class (`model::device::decide`).
    pub device: DeviceClass,
    pub prop_keys: Vec<String>,
    pub prop_values: Vec<String>,
    /// Not counted for bounce rate.
    pub non_interactive: bool,
    pub revenue: Option<crate::model::hit::Revenue>,
    pub engagement: Option<crate::model::hit::Engagement>,
}

/// One stored event row (`events` table). Pseudonymous: no raw IP, user
/// agent, query string or fragment. Constructed only by [`anonymize`].
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize)]
pub struct Event {
    site: Cow<'static, str>,
    ts: i64,
    name: String,
    hostname: String,
    pathname: String,
    query: String,
    referrer_host: String,
    referrer_source: String,
    channel: Channel,
    utm_source: String,
    utm_medium: String,
    utm_campaign: String,
    utm_content: String,
    utm_term: String,
    visitor_id: u64,
    consent: Consent,
    ip_prefix: String,
    country: String,
    region: String,
    city: String,
    browser: Arc<str>,
    browser_version: Arc<str>,
    os: Arc<str>,
    os_version: Arc<str>,
    device: DeviceClass,
    language: String,
    screen_width: u16,
    #[serde(serialize_with = "screen_column")]
    screen: Option<ScreenClass>,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
    interactive: u8,
    /// `Decimal(18, 6)`: millionths of the currency unit.
    revenue_amount: i64,
    revenue_currency: String,
    scroll_depth: u8,
    engaged_ms: u32,
}

impl Event {
    /// What the row's visit fragment id is made of: its time (ms) and
    /// daily visitor id (0 without consent: no visit).
    pub fn visit_key(&self) -> (i64, u64) {
        (self.ts, self.visitor_id)
    }

    /// Hand this row's fields out in the `events` column order
    /// (`sink::row::COLUMNS`); the sink encodes them.
    pub fn write_columns(&self, w: &mut impl ColumnWriter) {
        w.string(&self.site);
        w.i64(self.ts);
        for s in [
            &self.name,
            &self.hostname,
            &self.pathname,
            &self.query,
            &self.referrer_host,
            &self.referrer_source,
        ] {
            w.string(s);
        }
        w.string(self.channel.as_str());
        for s in [
            &self.utm_source,
            &self.utm_medium,
            &self.utm_campaign,
            &self.utm_content,
            &self.utm_term,
        ] {
            w.string(s);
        }
        w.u64(self.visitor_id);
        w.string(self.consent.as_str());
        for s in [&self.ip_prefix, &self.country, &self.region, &self.city] {
            w.string(s);
        }
        for s in [
            &self.browser,
            &self.browser_version,
            &self.os,
            &self.os_version,
        ] {
            w.string(s);
        }
        w.string(self.device.as_str());
        w.string(&self.language);
        w.u16(self.screen_width);
        w.string(screen_name(self.screen));
        w.strings(&self.prop_keys);
        w.strings(&self.prop_values);
        w.u8(self.interactive);
        w.i64(self.revenue_amount);
        w.string(&self.revenue_currency);
        w.u8(self.scroll_depth);
        w.u32(self.engaged_ms);
    }
}

/// The visitor id: the first 8 bytes of HMAC-SHA256 keyed by the day's salt
/// over the length-prefixed site, IP and user agent. Without the salt (which
/// is destroyed after two days) it cannot be linked back to anyone.
pub fn visitor_id(key: &salt::SaltKey, site: &str, ip: IpAddr, user_agent: &str) -> u64 {
    let mut mac = key.mac();
    let ip_bytes: [u8; 16] = match ip::canonical(ip) {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    for part in [site.as_bytes(), &ip_bytes[..], user_agent.as_bytes()] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    let out = mac.finalize().into_bytes();
    u64::from_be_bytes(out[..8].try_into().expect("32-byte digest"))
}

/// The visitor id of an exported row: HMAC-SHA256 keyed by the import's
/// salt over the length-prefixed site, a domain tag and the exporting
/// tracker's session id, first 8 bytes. The tag keeps these ids apart from
/// address-based ones; the salt is destroyed when the import ends.
pub fn session_visitor_id(key: &salt::SaltKey, site: &str, session: &str) -> u64 {
    let mut mac = key.mac();
    for part in [site.as_bytes(), b"exported-session", session.as_bytes()] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    let out = mac.finalize().into_bytes();
    u64::from_be_bytes(out[..8].try_into().expect("32-byte digest"))
}

/// Turn a hit into the row that is stored, consuming the raw identity.
/// `key` is the day's salt, or `None` to store without a visitor id.
pub fn anonymize(
    facts: HitFacts,
    identity: RawIdentity,
    derived: &Derived,
    key: Option<&salt::SaltKey>,
    policy: &Policy,
    ts_ms: i64,
) -> Event {
    let visitor_id = key.map_or(0, |k| match &identity.exported {
        Some(x) => session_visitor_id(k, &facts.site, &x.session),
        None => visitor_id(k, &facts.site, identity.ip, &identity.user_agent),
    });
    let ip_prefix = match policy.ip {
        _ if identity.exported.is_some() => String::new(),
        IpRule::Truncate => ip::truncate(identity.ip),
        IpRule::Drop => String::new(),
    };
    drop(identity);
    let geo = &derived.geo;
    let keep = |rule: LocationRule, v: &str| {
        if policy.location >= rule {
            v.to_string()
        } else {
            String::new()
        }
    };
    let version = |rule: VersionRule, v: &Arc<str>| match rule {
        VersionRule::Major => v.clone(),
        VersionRule::None => Arc::from(""),
    };
    let ua = &derived.ua;
    Event {
        site: facts.site,
        ts: ts_ms,
        name: facts.name,
        hostname: facts.hostname,
        pathname: facts.pathname,
        query: facts.query,
        referrer_host: facts.referrer_host,
        referrer_source: facts.referrer_source,
        channel: facts.channel,
        utm_source: facts.utm.source,
        utm_medium: facts.utm.medium,
        utm_campaign: facts.utm.campaign,
        utm_content: facts.utm.content,
        utm_term: facts.utm.term,
        visitor_id,
        consent: if key.is_some() {
            Consent::Full
        } else {
            Consent::Anonymous
        },
        ip_prefix,
        country: keep(LocationRule::Country, &geo.country),
        region: keep(LocationRule::Region, &geo.region),
        city: keep(LocationRule::City, &geo.city),
        browser: ua.browser.clone(),
        browser_version: version(policy.browser_version, &ua.browser_version),
        os: ua.os.clone(),
        os_version: version(policy.os_version, &ua.os_version),
        device: facts.device,
        language: facts.language,
        screen_width: facts.screen_width,
        screen: facts.screen,
        prop_keys: facts.prop_keys,
        prop_values: facts.prop_values,
        interactive: u8::from(!facts.non_interactive),
        revenue_amount: facts.revenue.as_ref().map_or(0, |r| r.micros),
        revenue_currency: facts.revenue.map(|r| r.currency).unwrap_or_default(),
        scroll_depth: facts.engagement.map_or(0, |e| e.scroll_depth),
        engaged_ms: facts.engagement.map_or(0, |e| e.engaged_ms),
    }
}

/// The `screen` column as stored: the class's name, or empty.
fn screen_column<S: serde::Serializer>(s: &Option<ScreenClass>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(screen_name(*s))
}

/// The stored row by column name, as JSON (for `tacit explain`); the
/// revenue amount as the decimal ClickHouse shows.
pub fn event_json(ev: &Event) -> serde_json::Value {
    let mut v = serde_json::to_value(ev).expect("event serializes");
    let m = ev.revenue_amount;
    v["revenue_amount"] = serde_json::Value::String(format!(
        "{}{}.{:06}",
        if m < 0 { "-" } else { "" },
        m.unsigned_abs() / 1_000_000,
        m.unsigned_abs() % 1_000_000
    ));
    v
}

#[cfg(test)]
impl Event {
    /// A stored row with every kind of field filled (unit tests).
    pub(crate) fn sample() -> Self {
        let facts = HitFacts {
            site: Cow::Borrowed("example.com"),
            name: "pageview".into(),
            hostname: "example.com".into(),
            pathname: "/a".into(),
            channel: Channel::Search,
            prop_keys: vec!["plan".into()],
            prop_values: vec!["pro".into()],
            ..Default::default()
        };
        let identity = RawIdentity::new("192.0.2.1".parse().unwrap(), None, &[], "Mozilla/5.0");
        let derived = Derived {
            ua: Arc::new(UaInfo::default()),
            geo: GeoInfo::default(),
        };
        let policy = crate::config::RawConfig::default()
            .validate()
            .unwrap()
            .policy;
        anonymize(facts, identity, &derived, None, &policy, 1_700_000_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_agents_are_cut_at_a_character_boundary() {
        let long = format!("Mozilla/5.0 {}", "é".repeat(2000));
        let id = RawIdentity::new("192.0.2.1".parse().unwrap(), None, &[], &long);
        assert!(id.user_agent.len() <= MAX_USER_AGENT);
        assert!(id.user_agent.starts_with("Mozilla/5.0 é"));
        let short = RawIdentity::new("192.0.2.1".parse().unwrap(), None, &[], "Mozilla/5.0");
        assert_eq!(short.user_agent, "Mozilla/5.0");
    }

    fn id(ip: &str, ua: &str) -> RawIdentity {
        RawIdentity::new(ip.parse().unwrap(), None, &[], ua)
    }

    fn derived() -> Derived {
        Derived {
            ua: Arc::new(UaInfo::default()),
            geo: GeoInfo {
                country: "GB".into(),
                region: "GB-ENG".into(),
                city: "London".into(),
            },
        }
    }

    #[test]
    fn event_holds_no_raw_identifiers() {
        let key = salt::SaltKey::from_bytes([7u8; 32]);
        let mut policy = crate::config::RawConfig::default()
            .validate()
            .unwrap()
            .policy;
        policy.ip = IpRule::Truncate;
        let facts = HitFacts {
            site: Cow::Borrowed("example.com"),
            name: "pageview".into(),
            ..Default::default()
        };
        let ev = anonymize(
            facts,
            id("203.0.113.77", "CanaryAgent/9.9"),
            &derived(),
            Some(&key),
            &policy,
            1,
        );
        let text = serde_json::to_string(&ev).unwrap();
        assert!(!text.contains("203.0.113.77"), "{text}");
        assert!(!text.contains("CanaryAgent"), "{text}");
        assert!(text.contains("203.0.113.0/24"));
        assert_ne!(ev.visitor_id, 0);
        policy.ip = IpRule::Drop;
        let anon = anonymize(
            HitFacts::default(),
            id("203.0.113.77", "x"),
            &derived(),
            None,
            &policy,
            1,
        );
        assert_eq!(anon.ip_prefix, "");
        assert_eq!((anon.visitor_id, anon.consent), (0, Consent::Anonymous));
        assert_eq!(
            format!("{:?}", id("203.0.113.77", "ua")),
            "RawIdentity(<redacted>)"
        );
    }

    #[test]
    fn location_is_coarsened_by_policy() {
        let mut policy = crate::config::RawConfig::default()
            .validate()
            .unwrap()
            .policy;
        let at = |p: &Policy| {
            let e = anonymize(
                HitFacts::default(),
                id("192.0.2.1", "x"),
                &derived(),
                None,
                p,
                1,
            );
            (e.country, e.region, e.city)
        };
        assert_eq!(at(&policy), ("GB".into(), "GB-ENG".into(), "".into()));
        policy.location = LocationRule::City;
        assert_eq!(at(&policy), ("GB".into(), "GB-ENG".into(), "London".into()));
        policy.location = LocationRule::Country;
        assert_eq!(at(&policy), ("GB".into(), "".into(), "".into()));
        policy.location = LocationRule::None;
        assert_eq!(at(&policy), ("".into(), "".into(), "".into()));
    }

    #[test]
    fn visitor_id_depends_on_salt_site_ip_and_agent() {
        let a = salt::SaltKey::from_bytes([1u8; 32]);
        let b = salt::SaltKey::from_bytes([2u8; 32]);
        let ip: IpAddr = "198.51.100.4".parse().unwrap();
        let base = visitor_id(&a, "s", ip, "ua");
        assert_eq!(base, visitor_id(&a, "s", ip, "ua"));
        assert_ne!(base, visitor_id(&b, "s", ip, "ua"));
        assert_ne!(base, visitor_id(&a, "t", ip, "ua"));
        assert_ne!(
            base,
            visitor_id(&a, "s", "198.51.100.5".parse().unwrap(), "ua")
        );
        assert_ne!(base, visitor_id(&a, "s", ip, "ub"));
        // Length prefixes: moving bytes between fields changes the id.
        assert_ne!(visitor_id(&a, "ab", ip, "c"), visitor_id(&a, "a", ip, "bc"));
        // IPv4 and its mapped IPv6 form are the same client.
        assert_eq!(
            base,
            visitor_id(&a, "s", "::ffff:198.51.100.4".parse().unwrap(), "ua")
        );
    }

    #[test]
    fn an_exported_row_keeps_no_session_and_no_address() {
        let key = salt::SaltKey::from_bytes([3u8; 32]);
        let mut policy = crate::config::RawConfig::default()
            .validate()
            .unwrap()
            .policy;
        policy.ip = IpRule::Truncate;
        let geo = GeoInfo {
            country: "NL".into(),
            region: "NL-NH".into(),
            city: "Amsterdam".into(),
        };
        let agent = UaInfo {
            browser: Arc::from("Firefox"),
            ..UaInfo::default()
        };
        let x = RawIdentity::exported("QzxSession-77", "", Some(agent), geo);
        let e = Enrichers {
            ua: None,
            bots: None,
            referrers: crate::enrich::referrer::Referrers::empty(),
            geo: None,
            mail_networks: None,
        };
        let derived = x.derive(&e).unwrap();
        assert_eq!(
            (&*derived.ua.browser, derived.geo.country.as_str()),
            ("Firefox", "NL")
        );
        let facts = HitFacts {
            site: Cow::Borrowed("example.com"),
            name: "pageview".into(),
            ..Default::default()
        };
        let ev = anonymize(facts, x, &derived, Some(&key), &policy, 1);
        let text = serde_json::to_string(&ev).unwrap();
        assert!(!text.contains("QzxSession"), "{text}");
        assert_eq!(ev.ip_prefix, "");
        assert_eq!(
            ev.visitor_id,
            session_visitor_id(&key, "example.com", "QzxSession-77")
        );
        // Another salt, site or session: another id; never an address's id.
        let other = salt::SaltKey::from_bytes([4u8; 32]);
        let base = session_visitor_id(&key, "s", "a");
        assert_ne!(base, session_visitor_id(&other, "s", "a"));
        assert_ne!(base, session_visitor_id(&key, "t", "a"));
        assert_ne!(base, session_visitor_id(&key, "s", "b"));
        assert_ne!(
            session_visitor_id(&key, "s", ""),
            visitor_id(&key, "s", IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), "")
        );
        // A bot mark from the export drops the row.
        let bot = UaInfo {
            bot: true,
            ..UaInfo::default()
        };
        let x = RawIdentity::exported("s", "", Some(bot), GeoInfo::default());
        assert_eq!(x.derive(&e).unwrap_err(), DropReason::Bot);
    }
}
