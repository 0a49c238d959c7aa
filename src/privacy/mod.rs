//! The privacy boundary. This is the only module that reads the raw client IP
//! and user agent ([`RawIdentity`]), and the only constructor of the
//! anonymous [`Event`] that leaves the process for storage. What it keeps is
//! derived: a truncated network prefix (or nothing, per policy) and a salted,
//! daily-rotating visitor id.

pub mod ip;
pub mod salt;

use std::fmt;
use std::net::IpAddr;

use hmac::Mac;
use serde::{Deserialize, Serialize};

use crate::config::IpRule;
pub use salt::{SaltError, Salts};

/// Identifying facts about the client, held in memory only for the duration
/// of one hit's pipeline. Deliberately not `Serialize`, not `Clone`, and its
/// `Debug` prints nothing of its contents.
pub struct RawIdentity {
    ip: IpAddr,
    user_agent: String,
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
            user_agent: user_agent.to_string(),
        }
    }

    /// Whether a user agent was sent at all (empty ones are dropped).
    pub fn has_user_agent(&self) -> bool {
        !self.user_agent.trim().is_empty()
    }
}

impl fmt::Debug for RawIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawIdentity(<redacted>)")
    }
}

/// The non-identifying part of a hit, as produced by `ingest/`.
#[derive(Debug, Clone, Default)]
pub struct HitFacts {
    pub site: String,
    pub name: String,
    pub hostname: String,
    pub pathname: String,
    pub referrer_host: String,
    pub language: String,
    pub screen_width: u16,
    pub prop_keys: Vec<String>,
    pub prop_values: Vec<String>,
}

/// One stored event row (`events` table). Pseudonymous: no raw IP, user
/// agent, query string or fragment. Constructed only by [`anonymize`].
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
pub struct Event {
    site: String,
    ts: i64,
    name: String,
    hostname: String,
    pathname: String,
    referrer_host: String,
    visitor_id: u64,
    ip_prefix: String,
    language: String,
    screen_width: u16,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
}

impl Event {
    pub fn site(&self) -> &str {
        &self.site
    }
    pub fn ts_ms(&self) -> i64 {
        self.ts
    }
    pub fn visitor_id(&self) -> u64 {
        self.visitor_id
    }
    /// Rough in-memory size, for batching by bytes.
    pub fn approx_bytes(&self) -> usize {
        64 + self.site.len()
            + self.name.len()
            + self.hostname.len()
            + self.pathname.len()
            + self.referrer_host.len()
            + self.ip_prefix.len()
            + self.language.len()
            + self.prop_keys.iter().map(String::len).sum::<usize>()
            + self.prop_values.iter().map(String::len).sum::<usize>()
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

/// Turn a hit into the row that is stored, consuming the raw identity.
pub fn anonymize(
    facts: HitFacts,
    identity: RawIdentity,
    key: &salt::SaltKey,
    ip_rule: IpRule,
    ts_ms: i64,
) -> Event {
    let visitor_id = visitor_id(key, &facts.site, identity.ip, &identity.user_agent);
    let ip_prefix = match ip_rule {
        IpRule::Truncate => ip::truncate(identity.ip),
        IpRule::Drop => String::new(),
    };
    drop(identity);
    Event {
        site: facts.site,
        ts: ts_ms,
        name: facts.name,
        hostname: facts.hostname,
        pathname: facts.pathname,
        referrer_host: facts.referrer_host,
        visitor_id,
        ip_prefix,
        language: facts.language,
        screen_width: facts.screen_width,
        prop_keys: facts.prop_keys,
        prop_values: facts.prop_values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ip: &str, ua: &str) -> RawIdentity {
        RawIdentity::new(ip.parse().unwrap(), None, &[], ua)
    }

    #[test]
    fn event_holds_no_raw_identifiers() {
        let key = salt::SaltKey::from_bytes(19_000, [7u8; 32]);
        let facts = HitFacts {
            site: "example.com".into(),
            name: "pageview".into(),
            ..Default::default()
        };
        let ev = anonymize(
            facts,
            id("203.0.113.77", "CanaryAgent/9.9"),
            &key,
            IpRule::Truncate,
            1,
        );
        let text = serde_json::to_string(&ev).unwrap();
        assert!(!text.contains("203.0.113.77"), "{text}");
        assert!(!text.contains("CanaryAgent"), "{text}");
        assert!(text.contains("203.0.113.0/24"));
        let dropped = anonymize(
            HitFacts::default(),
            id("203.0.113.77", "x"),
            &key,
            IpRule::Drop,
            1,
        );
        assert_eq!(dropped.ip_prefix, "");
        assert_eq!(
            format!("{:?}", id("203.0.113.77", "ua")),
            "RawIdentity(<redacted>)"
        );
    }

    #[test]
    fn visitor_id_depends_on_salt_site_ip_and_agent() {
        let a = salt::SaltKey::from_bytes(1, [1u8; 32]);
        let b = salt::SaltKey::from_bytes(1, [2u8; 32]);
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
}
