//! User agent → browser, OS (families as uap-core names them, major
//! versions) and device class, using uap-core's `regexes.yaml` through the
//! `ua-parser` crate, behind a bounded cache of parsed results.

use std::path::Path;
use std::sync::Arc;

pub use crate::model::facts::{screen_class, UaInfo};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UaError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a uap-core regexes file")]
    Parse {
        path: String,
        #[source]
        source: RulesError,
    },
}

/// Why uap-core rules could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    #[error("YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("rules: {0}")]
    Rules(#[from] ua_parser::Error),
}

pub struct UaParser {
    extractor: ua_parser::Extractor<'static>,
    /// Parsed agents. `quick_cache` evicts the coldest entries one by one
    /// (CLOCK-Pro), so a burst of one-off agents cannot flush the hot set.
    cache: quick_cache::sync::Cache<Box<str>, Arc<UaInfo>>,
}

/// Agents longer than this are parsed every time, never cached: real
/// browsers send a few hundred bytes, and a cache keyed by arbitrarily long
/// strings would let one client fill memory.
pub const MAX_CACHED_AGENT: usize = 512;

fn major(v: Option<&str>) -> String {
    v.map(|s| s.split(['.', '_']).next().unwrap_or("").to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_default()
}

const TABLET_HINTS: &[&str] = &[
    "iPad", "Tablet", "Kindle", "Nexus 7", "Nexus 9", "Nexus 10", "SM-T", "Tab",
];
const DESKTOP_OS: &[&str] = &[
    "Windows",
    "Mac OS X",
    "macOS",
    "Linux",
    "Ubuntu",
    "Chrome OS",
    "ChromeOS",
    "Fedora",
    "Debian",
    "FreeBSD",
    "OpenBSD",
    "NetBSD",
    "Solaris",
    "Arch Linux",
    "Mint",
    "Gentoo",
    "Red Hat",
    "SUSE",
    "Kubuntu",
    "Mandriva",
    "CentOS",
];

fn device_class(ua: &str, os: &str, device_family: &str) -> &'static str {
    if device_family == "Spider" {
        return "other";
    }
    let tablet = TABLET_HINTS.iter().any(|h| device_family.contains(h))
        || ua.contains("Tablet")
        || ua.contains("iPad")
        || (os == "Android" && !ua.contains("Mobile"));
    if tablet {
        return "tablet";
    }
    if ua.contains("Mobi")
        || ua.contains("iPhone")
        || ua.contains("iPod")
        || matches!(
            os,
            "iOS" | "Android" | "Windows Phone" | "BlackBerry OS" | "KaiOS"
        )
    {
        return "mobile";
    }
    if DESKTOP_OS.iter().any(|d| os.starts_with(d)) {
        return "desktop";
    }
    "other"
}

impl UaParser {
    pub fn load(path: &Path, cache_capacity: usize) -> Result<Self, UaError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| UaError::Read {
            path: p.clone(),
            source,
        })?;
        Self::from_yaml(text, cache_capacity).map_err(|source| UaError::Parse { path: p, source })
    }

    pub fn from_yaml(text: String, cache_capacity: usize) -> Result<Self, RulesError> {
        // The rules live as long as the process; leaking them once gives
        // the extractor the 'static lifetime it borrows with.
        let text: &'static str = Box::leak(text.into_boxed_str());
        let regexes: ua_parser::Regexes<'static> = serde_yaml_ng::from_str(text)?;
        let extractor = ua_parser::Extractor::try_from(regexes)?;
        Ok(Self {
            extractor,
            cache: quick_cache::sync::Cache::new(cache_capacity.max(1)),
        })
    }

    /// The parser's raw answer (all version parts), for conformance tests
    /// against uap-core's own suites.
    pub fn extract_raw(
        &self,
        ua: &str,
    ) -> (
        Option<ua_parser::user_agent::Value>,
        Option<ua_parser::os::Value>,
        Option<ua_parser::device::Value>,
    ) {
        let (b, o, d) = self.extractor.extract(ua);
        (
            b.map(|v| v.into_owned()),
            o.map(|v| v.into_owned()),
            d.map(|v| v.into_owned()),
        )
    }

    /// Full parse, no cache.
    pub fn parse_uncached(&self, ua: &str) -> UaInfo {
        let (browser, os, dev) = self.extractor.extract(ua);
        let (browser, browser_version): (Arc<str>, Arc<str>) = match browser {
            Some(b) => (b.family.as_ref().into(), major(b.major).into()),
            None => ("Other".into(), "".into()),
        };
        let (os, os_version): (Arc<str>, Arc<str>) = match os {
            Some(o) => (o.os.as_ref().into(), major(o.major.as_deref()).into()),
            None => ("Other".into(), "".into()),
        };
        let device_family = dev
            .map(|d| d.device.into_owned())
            .unwrap_or_else(|| "Other".into());
        UaInfo {
            device: device_class(ua, &os, &device_family),
            spider: device_family == "Spider",
            bot: false,
            browser,
            browser_version,
            os,
            os_version,
        }
    }

    /// Parse through the cache.
    pub fn parse(&self, ua: &str) -> Arc<UaInfo> {
        self.parse_with(ua, |_| false)
    }

    /// Parse through the cache; on a miss, `is_bot` decides the `bot` flag,
    /// so the bot patterns run once per distinct agent, not once per hit.
    pub fn parse_with(&self, ua: &str, is_bot: impl FnOnce(&str) -> bool) -> Arc<UaInfo> {
        if let Some(hit) = self.cache.get(ua) {
            return hit;
        }
        let mut parsed = self.parse_uncached(ua);
        parsed.bot = is_bot(ua);
        let info = Arc::new(parsed);
        if ua.len() <= MAX_CACHED_AGENT {
            self.cache.insert(ua.into(), info.clone());
        }
        info
    }

    /// How many agents are cached.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn parser() -> Option<UaParser> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tacit/vendor/regexes.yaml");
        UaParser::load(&p, 100).ok()
    }

    #[test]
    fn common_agents_parse_to_uap_families() {
        let Some(p) = parser() else {
            panic!("run scripts/fetch-data first (make test does)");
        };
        let chrome = p.parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.91 Safari/537.36");
        assert_eq!(
            (&*chrome.browser, &*chrome.browser_version),
            ("Chrome", "124")
        );
        assert_eq!(
            (&*chrome.os, &*chrome.os_version, chrome.device),
            ("Windows", "10", "desktop")
        );
        let iphone = p.parse("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1");
        assert_eq!(
            (
                &*iphone.browser,
                &*iphone.os,
                &*iphone.os_version,
                iphone.device
            ),
            ("Mobile Safari", "iOS", "17", "mobile")
        );
        let ipad = p.parse("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1");
        assert_eq!(ipad.device, "tablet");
        let mac = p.parse("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15");
        assert_eq!(
            (&*mac.browser, &*mac.os, mac.device),
            ("Safari", "Mac OS X", "desktop")
        );
        let bot =
            p.parse("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        assert!(bot.spider);
    }

    #[test]
    fn cache_is_bounded_and_returns_same_results() {
        let Some(p) = parser() else {
            panic!("run scripts/fetch-data first")
        };
        for i in 0..1000 {
            let ua = format!("Mozilla/5.0 (X11; Linux x86_64) Firefox/{i}.0");
            assert_eq!(*p.parse(&ua), p.parse_uncached(&ua));
        }
        assert!(p.cached() <= 100, "cache holds {}", p.cached());
    }

    #[test]
    fn a_flood_of_one_off_agents_does_not_evict_the_hot_set() {
        let Some(p) = parser() else {
            panic!("run scripts/fetch-data first")
        };
        let hot = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
        let first = p.parse(hot);
        for i in 0..2000 {
            let _ = p.parse(hot);
            let _ = p.parse(&format!("Mozilla/5.0 flood/{i}"));
        }
        assert!(
            Arc::ptr_eq(&first, &p.parse(hot)),
            "the hot agent's entry survived the flood"
        );
        let long = format!("Mozilla/5.0 {}", "x".repeat(MAX_CACHED_AGENT));
        let before = p.cached();
        let _ = p.parse(&long);
        assert!(
            !Arc::ptr_eq(&p.parse(&long), &p.parse(&long)),
            "long agents are not cached"
        );
        assert!(p.cached() <= before.max(100));
    }
}
