//! User agent → browser, OS (families as uap-core names them, major
//! versions) and device class, using uap-core's `regexes.yaml` through the
//! `ua-parser` crate, behind a bounded cache of parsed results.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use crate::model::device::AgentDevice;

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

/// Agent tokens (lower case) of devices that are none of phone, tablet or
/// computer: TVs and their sticks and boxes, game consoles, watches and
/// headsets.
const OTHER_MARKERS: &[&str] = &[
    "smart-tv",
    "smarttv",
    "smart tv",
    "googletv",
    "google tv",
    "android tv",
    "androidtv",
    "hbbtv",
    "netcast",
    "web0s",
    "webos.tv",
    "webos tv",
    "bravia",
    "crkey",
    "roku",
    "appletv",
    "apple tv",
    "tvos",
    "opera tv",
    "vidaa",
    "(tv;",
    "; tv)",
    "playstation",
    "xbox",
    "nintendo",
    "ouya",
    "watchos",
    "wear os",
    "smartwatch",
    "galaxy watch",
    "oculus",
    "mobile vr",
    "iptv",
    "tv bro",
    "media stick",
    "tv box",
    "tvbox",
];
/// The same, matched in the platform group only (an app's name elsewhere
/// in the agent may say `Watch`): watches, Samsung's `SM-R7…`-`SM-R9…`.
const OTHER_DEVICE_MARKERS: &[&str] = &["watch", "sm-r7", "sm-r8", "sm-r9"];
/// uap-core device families of the same kinds.
const OTHER_FAMILIES: &[&str] = &["AppleTV", "Inettv", "PlayStation", "Nintendo"];

/// Tokens of tablets, in lower case: generic words and names, matched
/// anywhere in the agent (UC Browser writes an iPad as `dv(iPd…`).
const TABLET_MARKERS: &[&str] = &[
    "ipad", "tablet", "kindle", "silk/", "playbook", "xoom", "nexus 7", "nexus 9", "nexus 10",
    "/apad", "dv(ipd",
];
/// The model prefixes tablet vendors use (Samsung `SM-T`/`SM-P`/`SM-X`/
/// `GT-P`/`GT-N5…`/`GT-N8…`, Lenovo `TB-`), matched in the agent's first
/// parenthesised group (its platform and device) only. Amazon's `KF…`
/// models are matched in their own case ([`kindle_fire_model`]).
const TABLET_MODEL_PREFIXES: &[&str] = &[
    "sm-t", "sm-p", "sm-x", "gt-p", "gt-n5", "gt-n8", "tb-", "tb3-",
];
/// Words that make a tablet's model name when not followed by a letter
/// (`Galaxy Tab A`, `TAB2A7`, `MatePad 11`, `ZenPad`), and the phone
/// brands that contain them.
const TABLET_WORDS: &[&str] = &["tab", "pad"];
/// `MID`, "mobile internet device", the name generic Android tablets go by,
/// as a word of its own (not `MIDP`).
const TABLET_WHOLE_WORDS: &[&str] = &["mid"];
const PHONE_BRANDS_WITH_TABLET_WORDS: &[&str] = &["coolpad", "padfone"];

/// Tokens of phones, smart and not: platforms and browsers that only ran on
/// phones (WAP, J2ME, Symbian, BREW, …) and the vendor prefixes feature
/// phones start their agents with.
const MOBILE_MARKERS: &[&str] = &[
    "mobi",
    "iphone",
    "ipod",
    "windows phone",
    "windows ce",
    "blackberry",
    "bb10",
    "kaios",
    "symbian",
    "symbos",
    "series40",
    "series60",
    "s60;",
    "midp",
    "cldc",
    "wap",
    "up.browser",
    "up.link",
    "obigo",
    "netfront",
    "maui",
    "opera mini",
    "brew",
    "polaris",
    "teleca",
    "openwave",
    "j2me",
    "jig browser",
    "xiino",
    "palmos",
    "palmsource",
    "webos",
    "hpwos",
    "bada",
    "dorado",
    "mocor",
    "spreadtrum",
    "ucweb",
    "nokia",
    "sonyericsson",
    "maemo",
    "meego",
    "sailfish",
    "tizen",
    "phone",
    "lumia",
    "dv(iph",
];
const MOBILE_PREFIXES: &[&str] = &[
    "samsung-", "sec-", "mot-", "lg-", "sie-", "zte-", "huawei", "alcatel", "lenovo-", "tecno",
    "itel", "vodafone", "sharp", "sagem", "philips", "benq", "docomo", "kddi", "softbank",
];
const MOBILE_OS: &[&str] = &[
    "iOS",
    "Windows Phone",
    "BlackBerry OS",
    "KaiOS",
    "Symbian OS",
    "Firefox OS",
    "Bada",
    "webOS",
    "Windows CE",
];
const MOBILE_FAMILIES: &[&str] = &["Generic Feature Phone", "Generic Smartphone", "iPhone"];

/// Computers' OS as uap-core names them.
const DESKTOP_OS: &[&str] = &[
    "Windows",
    "Mac OS",
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
/// Agent tokens (lower case) of computers.
const DESKTOP_MARKERS: &[&str] = &[
    "windows",
    "win64",
    "wow64",
    "win32",
    "win10",
    "macintosh",
    "mac os",
    "x11",
    "(pc;",
    "desktop",
    "cros ",
    "chromebook",
    "linux x86_64",
    "linux i686",
    "ubuntu",
    "freebsd",
    "openbsd",
    "netbsd",
    "sunos",
    "irix",
    "osf1",
    "aix",
    "hp-ux",
    "beos",
    "haiku",
    "amigaos",
    "os/2",
    "risc os",
];

/// Each marker list as one literal matcher (built once), so a list costs one
/// pass over the agent, not one per marker.
struct Markers {
    other: regex::Regex,
    other_device: regex::Regex,
    tablet: regex::Regex,
    tablet_model: regex::Regex,
    mobile: regex::Regex,
    desktop: regex::Regex,
}

fn literals(list: &[&str]) -> regex::Regex {
    let alternation: Vec<String> = list.iter().map(|m| regex::escape(m)).collect();
    regex::Regex::new(&alternation.join("|")).expect("escaped literals compile")
}

static MARKERS: LazyLock<Markers> = LazyLock::new(|| Markers {
    other: literals(OTHER_MARKERS),
    other_device: literals(OTHER_DEVICE_MARKERS),
    tablet: literals(TABLET_MARKERS),
    tablet_model: literals(TABLET_MODEL_PREFIXES),
    mobile: literals(MOBILE_MARKERS),
    desktop: literals(DESKTOP_MARKERS),
});

/// The agent's first parenthesised group (platform and device), or the
/// whole agent when it has none.
fn platform_group(lower: &str) -> &str {
    match lower.find('(') {
        Some(a) => {
            let rest = &lower[a + 1..];
            &rest[..rest.find(')').unwrap_or(rest.len())]
        }
        None => lower,
    }
}

/// `word` in `s`, not followed by a letter (a model name's word: `tab 2`,
/// `zenpad)`, `pad_`; not `table`, `padm00`).
fn has_word_end(s: &str, word: &str) -> bool {
    s.match_indices(word).any(|(i, _)| {
        !s.as_bytes()
            .get(i + word.len())
            .is_some_and(u8::is_ascii_alphabetic)
    })
}

/// An Amazon Fire tablet's model: `KF` and capitals (`KFTT`, `KFTUWI`).
fn kindle_fire_model(ua: &str) -> bool {
    ua.match_indices("; KF").any(|(i, _)| {
        let rest = &ua[i + 4..];
        let caps = rest.bytes().take_while(u8::is_ascii_uppercase).count();
        caps >= 2
            && rest
                .as_bytes()
                .get(caps)
                .is_none_or(|c| matches!(c, b' ' | b')' | b';'))
    })
}

/// `word` in `s` with no letter or digit on either side.
fn has_whole_word(s: &str, word: &str) -> bool {
    let b = s.as_bytes();
    s.match_indices(word).any(|(i, _)| {
        !i.checked_sub(1)
            .is_some_and(|j| b[j].is_ascii_alphanumeric())
            && !b.get(i + word.len()).is_some_and(u8::is_ascii_alphanumeric)
    })
}

/// `tv` as a word of its own (`; TV)`, `Media TV i4`, not `ATVR` or `Tvheadend`).
fn has_tv_word(s: &str) -> bool {
    let b = s.as_bytes();
    s.match_indices("tv").any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| b[j]);
        let after = b.get(i + 2).copied();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphabetic())
    })
}

/// The device class the agent names, and whether it names it for sure.
/// Runs once per distinct agent (the result is cached with the parse).
/// The rules, first match wins:
/// 1. TVs, consoles, watches, headsets: `other`;
/// 2. Chrome OS (also its Android apps), macOS apps' `CFNetwork`: `desktop`;
/// 3. tablet words and tablet vendors' model prefixes: `tablet`;
/// 4. phone platforms, `Mobile`/`iPhone`, WAP and feature-phone browsers and
///    vendor prefixes: `mobile`;
/// 5. Android: a browser agent (`Mozilla/…` with WebKit or Gecko) without
///    `Mobile` is a tablet, as Chrome, Firefox and Android's WebView write
///    `Mobile` on phones only; an app's own agent (`Dalvik/…`, okhttp, an
///    app name) does not follow that convention: a phone, as a guess;
/// 6. a desktop OS or its tokens: `desktop`;
/// 7. nothing named: `other`, as a guess.
pub fn agent_device(ua: &str, os: &str, device_family: &str) -> AgentDevice {
    use crate::model::device::DeviceClass::{Desktop, Mobile, Other, Tablet};
    let sure = |class| AgentDevice { class, sure: true };
    if device_family == "Spider" {
        return sure(Other);
    }
    let lower = ua.to_ascii_lowercase();
    let group = platform_group(&lower);
    let m = &*MARKERS;
    if m.other.is_match(&lower)
        || m.other_device.is_match(group)
        || OTHER_FAMILIES.iter().any(|f| device_family.starts_with(f))
        || ua.contains("; AFT")
        || has_tv_word(&lower)
    {
        return sure(Other);
    }
    if lower.contains("cros ") || lower.contains("crosarc") || lower.contains("chromebook") {
        return sure(Desktop);
    }
    // Apple's networking library names the machine on macOS, not on iOS.
    if lower.contains("cfnetwork")
        && ["x86_64", "macintosh", "macbook", "imac", "macpro"]
            .iter()
            .any(|m| lower.contains(m))
    {
        return sure(Desktop);
    }
    let tablet_word = TABLET_WORDS.iter().any(|w| has_word_end(group, w))
        && !PHONE_BRANDS_WITH_TABLET_WORDS
            .iter()
            .any(|b| group.contains(b));
    let tablet = tablet_word
        || m.tablet.is_match(&lower)
        || m.tablet_model.is_match(group)
        || TABLET_WHOLE_WORDS.iter().any(|w| has_whole_word(group, w))
        || kindle_fire_model(ua)
        || device_family.contains("Tablet")
        || device_family.starts_with("Kindle")
        || device_family.contains("Pad");
    let tablet_pc = lower.contains("tablet pc") && lower.contains("windows nt");
    if tablet && !tablet_pc {
        return sure(Tablet);
    }
    let android = os == "Android" || lower.contains("android");
    if m.mobile.is_match(&lower)
        || MOBILE_PREFIXES.iter().any(|p| lower.starts_with(p))
        || MOBILE_OS.contains(&os)
        || MOBILE_FAMILIES.contains(&device_family)
    {
        return sure(Mobile);
    }
    if android {
        let browser = lower.starts_with("mozilla/")
            && (lower.contains("applewebkit") || lower.contains("gecko"));
        return if browser {
            sure(Tablet)
        } else {
            AgentDevice {
                class: Mobile,
                sure: false,
            }
        };
    }
    if DESKTOP_OS.iter().any(|d| os.starts_with(d)) || m.desktop.is_match(&lower) {
        return sure(Desktop);
    }
    AgentDevice::default()
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
        // Read as owned strings, so the extractor borrows nothing and the
        // text is freed (a reload does not keep the old rules alive).
        let regexes: ua_parser::Regexes<'static> = serde_yaml_ng::from_reader(text.as_bytes())?;
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
        let agent = agent_device(ua, &os, &device_family);
        UaInfo {
            device: agent.class,
            device_sure: agent.sure,
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
            (&*chrome.os, &*chrome.os_version, chrome.device.as_str()),
            ("Windows", "10", "desktop")
        );
        let iphone = p.parse("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1");
        assert_eq!(
            (
                &*iphone.browser,
                &*iphone.os,
                &*iphone.os_version,
                iphone.device.as_str()
            ),
            ("Mobile Safari", "iOS", "17", "mobile")
        );
        let ipad = p.parse("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1");
        assert_eq!(ipad.device.as_str(), "tablet");
        let mac = p.parse("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15");
        assert_eq!(
            (&*mac.browser, &*mac.os, mac.device.as_str()),
            ("Safari", "Mac OS X", "desktop")
        );
        let bot =
            p.parse("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        assert!(bot.spider);
    }

    #[test]
    fn device_rules_for_tablets_apps_feature_phones_and_tvs() {
        let Some(p) = parser() else {
            panic!("run scripts/fetch-data first");
        };
        let class = |ua: &str| {
            let d = p.parse_uncached(ua).agent_device();
            (d.class.as_str(), d.sure)
        };
        // A tablet vendor's model, though its browser writes `Mobile Safari`.
        assert_eq!(class("Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"), ("tablet", true));
        assert_eq!(class("Mozilla/5.0 (Linux; Android 12; Lenovo TB-X606F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"), ("tablet", true));
        // Chrome's reduced agent on a tablet: no `Mobile`.
        assert_eq!(class("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"), ("tablet", true));
        // An app's HTTP library does not follow the `Mobile` convention.
        assert_eq!(
            class("Dalvik/2.1.0 (Linux; U; Android 11; M2010J19SG Build/RKQ1.201004.002)"),
            ("mobile", false)
        );
        // WAP and feature phones.
        assert_eq!(
            class("Nokia6300/2.0 (05.00) Profile/MIDP-2.0 Configuration/CLDC-1.1"),
            ("mobile", true)
        );
        assert_eq!(class("B30_Dorado WAP-Browser/1.0.0"), ("mobile", true));
        // TVs and watches are other; Chrome OS is a computer.
        assert_eq!(class("Mozilla/5.0 (Linux; Android 9; AFTMM) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"), ("other", true));
        assert_eq!(class("Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"), ("other", true));
        assert_eq!(class("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"), ("desktop", true));
        assert_eq!(class("Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0 Mobile Safari/537.36 Edge/15.15063"), ("mobile", true));
        // Words that only look like tablet words.
        assert_eq!(class("Mozilla/5.0 (Linux; Android 10; PADM00) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"), ("mobile", true));
        assert_eq!(class("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"), ("desktop", true));
        assert_eq!(class("SomethingUnknown/1.0"), ("other", false));
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
