//! Email beacons on the privacy side: the click-link signature, the
//! human/machine classification (which reads the raw IP and user agent),
//! and the only constructor of the stored [`EmailEvent`].
//!
//! An email event names a campaign, never a recipient: tacit reads no
//! recipient parameter, and the visitor id is the same salted daily hash
//! as page views (site, IP, user agent), unlinkable once the salt is gone.

use std::borrow::Cow;
use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{salt, visitor_id, RawIdentity};
use crate::enrich::Enrichers;
use crate::model::email::{EmailClass, EmailKind, Machine};
use crate::model::policy::Consent;

/// Hex digits of HMAC-SHA256 in a link's `sig` (128 bits).
pub const SIG_HEX: usize = 32;

fn link_mac(key: &[u8], site: &str, campaign: &str, variant: &str, to: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in [site, campaign, variant, to] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    mac
}

/// The signature of a click link: site, campaign, variant (empty for
/// none) and target, under the site's email key.
pub fn sign(key: &[u8], site: &str, campaign: &str, variant: &str, to: &str) -> String {
    let out = link_mac(key, site, campaign, variant, to)
        .finalize()
        .into_bytes();
    hex::encode(&out[..SIG_HEX / 2])
}

/// Whether `sig` is the link's signature (compared in constant time).
pub fn verify(key: &[u8], site: &str, campaign: &str, variant: &str, to: &str, sig: &str) -> bool {
    let Ok(given) = hex::decode(sig.trim()) else {
        return false;
    };
    given.len() == SIG_HEX / 2
        && link_mac(key, site, campaign, variant, to)
            .verify_truncated_left(&given)
            .is_ok()
}

/// What the beacon says, validated by `ingest/`; nothing identifying.
#[derive(Debug, Clone)]
pub struct EmailFacts {
    pub site: &'static str,
    pub kind: EmailKind,
    pub campaign: String,
    pub variant: String,
    /// The click target's host and scrubbed path (empty for opens).
    pub link_host: String,
    pub link_path: String,
}

/// Whether the request came from a machine, and why: the agent (a known
/// proxy, crawler or scanner; none; or one that names no platform), then
/// the network (a published range of an email proxy operator). The
/// operator is returned for networks.
pub fn classify(identity: &RawIdentity, e: &Enrichers) -> Option<(Machine, &'static str)> {
    let ua = identity.user_agent.trim();
    if ua.is_empty() || !ua.contains('(') || e.bots.as_ref().is_some_and(|b| b.is_bot(ua)) {
        return Some((Machine::Agent, ""));
    }
    let op = e.mail_networks.as_ref()?.operator(identity.ip)?;
    Some((Machine::Network, op))
}

/// Whether the request comes from a published range of an email proxy or
/// scanner operator (their image fetches arrive from a few networks at
/// high rates, so the per-network rate limit does not apply to them).
pub fn from_mail_network(identity: &RawIdentity, e: &Enrichers) -> bool {
    e.mail_networks
        .as_ref()
        .is_some_and(|n| n.operator(identity.ip).is_some())
}

/// Recent first opens and clicks per (visitor id, site and campaign), to
/// find a scanner's burst of clicks. Bounded; pseudonymous keys only.
pub struct Bursts {
    seen: quick_cache::sync::Cache<(u64, u64), i64>,
    window_ms: i64,
}

impl Bursts {
    pub fn new(capacity: usize, window_ms: u32) -> Self {
        Self {
            seen: quick_cache::sync::Cache::new(capacity),
            window_ms: window_ms as i64,
        }
    }

    /// Record a beacon at `now`; whether it is a click within the window
    /// of the first beacon seen for the key.
    fn burst(&self, visitor: u64, site: &str, campaign: &str, kind: EmailKind, now: i64) -> bool {
        if visitor == 0 || self.window_ms == 0 {
            return false;
        }
        let k = (visitor, hash_pair(site, campaign));
        match self.seen.get(&k) {
            Some(first) => kind == EmailKind::Click && now - first < self.window_ms,
            None => {
                self.seen.insert(k, now);
                false
            }
        }
    }
}

fn hash_pair(a: &str, b: &str) -> u64 {
    use std::hash::Hasher;
    let mut d = std::collections::hash_map::DefaultHasher::new();
    d.write(a.as_bytes());
    d.write_u8(0);
    d.write(b.as_bytes());
    d.finish()
}

/// One stored email beacon (`email_events` table). Pseudonymous: no raw IP,
/// user agent, recipient or query string. Constructed only by [`anonymize`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EmailEvent {
    pub(super) site: Cow<'static, str>,
    pub(super) ts: i64,
    pub(super) kind: EmailKind,
    pub(super) campaign: String,
    pub(super) variant: String,
    pub(super) link_host: String,
    pub(super) link_path: String,
    pub(super) visitor_id: u64,
    pub(super) consent: Consent,
    pub(super) class: EmailClass,
    /// Why a machine's; stored as `""` for a person's.
    #[serde(serialize_with = "machine_name")]
    pub(super) machine: Option<Machine>,
    pub(super) operator: &'static str,
}

impl EmailEvent {
    /// Hand this row's fields out in the `email_events` column order
    /// (`sink::row::EMAIL_COLUMNS`); the sink encodes them.
    pub fn write_columns(&self, w: &mut impl crate::model::row::ColumnWriter) {
        w.string(&self.site);
        w.i64(self.ts);
        for s in [
            self.kind.as_str(),
            &self.campaign,
            &self.variant,
            &self.link_host,
            &self.link_path,
        ] {
            w.string(s);
        }
        w.u64(self.visitor_id);
        for s in [
            self.consent.as_str(),
            self.class.as_str(),
            self.machine.map_or("", Machine::as_str),
            self.operator,
        ] {
            w.string(s);
        }
    }

    pub fn site(&self) -> &str {
        &self.site
    }
    /// A person's or a machine's.
    pub fn class(&self) -> EmailClass {
        self.class
    }
    /// Why a machine's (`agent`, `network`, `burst`), or none.
    pub fn machine(&self) -> Option<Machine> {
        self.machine
    }
}

/// The `machine` column as stored: the reason's name, or empty.
fn machine_name<S: serde::Serializer>(m: &Option<Machine>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.map_or("", Machine::as_str))
}

/// Turn an email beacon into the row that is stored, consuming the raw
/// identity. `key` is the day's salt, or `None` to store without a
/// visitor id (a consent signal asked for it).
pub fn anonymize(
    facts: EmailFacts,
    identity: RawIdentity,
    e: &Enrichers,
    key: Option<&salt::SaltKey>,
    bursts: &Bursts,
    ts_ms: i64,
) -> EmailEvent {
    let vid = key.map_or(0, |k| {
        visitor_id(k, facts.site, identity.ip, &identity.user_agent)
    });
    let mut machine = classify(&identity, e);
    drop(identity);
    if bursts.burst(vid, facts.site, &facts.campaign, facts.kind, ts_ms) && machine.is_none() {
        machine = Some((Machine::Burst, ""));
    }
    EmailEvent {
        site: Cow::Borrowed(facts.site),
        ts: ts_ms,
        kind: facts.kind,
        campaign: facts.campaign,
        variant: facts.variant,
        link_host: facts.link_host,
        link_path: facts.link_path,
        visitor_id: vid,
        consent: if key.is_some() {
            Consent::Full
        } else {
            Consent::Anonymous
        },
        class: if machine.is_some() {
            EmailClass::Machine
        } else {
            EmailClass::Human
        },
        machine: machine.map(|(m, _)| m),
        operator: machine.map_or("", |(_, op)| op),
    }
}

/// Classify an address and agent without storing anything (the fixture
/// test of real proxy and client requests).
pub fn classify_raw(
    ip: IpAddr,
    user_agent: &str,
    e: &Enrichers,
) -> Option<(Machine, &'static str)> {
    classify(&RawIdentity::new(ip, None, &[], user_agent), e)
}

#[cfg(test)]
impl EmailEvent {
    /// A stored email row with every kind of field filled (unit tests).
    pub(crate) fn sample() -> Self {
        EmailEvent {
            site: "example.com".into(),
            ts: 1_700_000_000_000,
            kind: EmailKind::Click,
            campaign: "spring".into(),
            variant: String::new(),
            link_host: "example.com".into(),
            link_path: "/sale".into(),
            visitor_id: 7,
            consent: Consent::Full,
            class: EmailClass::Human,
            machine: None,
            operator: "",
        }
    }
}
