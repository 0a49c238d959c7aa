//! Bot detection from the user agent, with patterns from two registry data
//! sets: isbot (Unlicense) and crawler-user-agents (MIT). Patterns the
//! `regex` crate compiles go into one combined matcher; the few that need
//! look-around are prefiltered with a look-around-free form and confirmed
//! with `fancy-regex` only when the prefilter hits. Browser automation that
//! neither list names ([`AUTOMATION`]: PhantomJS, SlimerJS, headless
//! flags, Electron run as a bare test harness) is matched by tacit's own
//! short list.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BotError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a JSON pattern list: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("pattern {pattern:?}: {source}")]
    Pattern {
        pattern: String,
        #[source]
        source: Box<fancy_regex::Error>,
    },
    #[error("combined patterns: {0}")]
    Combined(#[from] regex::Error),
}

/// Automation agents missing from both registry lists, as regex fragments
/// matched case-insensitively: scriptable browsers (PhantomJS and the tools
/// built on it, SlimerJS, TrifleJS), any `Headless` flag, test drivers that
/// sign their agent, and Electron run as itself (`… like Gecko)
/// Electron/…`: an unpackaged Electron, as test harnesses such as
/// Nightmare and Spectron run it; packaged apps put their own name there,
/// `Slack/4.33 … Electron/26`, and are not matched).
pub const AUTOMATION: &[&str] = &[
    r"phantomjs",
    r"slimerjs",
    r"casperjs",
    r"triflejs",
    r"headless",
    r"\bcypress/",
    r"\bnightmare\b",
    r"\bspectron\b",
    r"\bpuppeteer\b",
    r"\bplaywright\b",
    r"\bselenium\b",
    r"\bwebdriver\b",
    r"gecko\) electron/",
];

pub struct BotDetector {
    /// [`AUTOMATION`], combined.
    automation: regex::Regex,
    /// `None` when every pattern needs look-around (an empty alternation
    /// would match every agent).
    plain: Option<regex::Regex>,
    prefilter: Option<regex::Regex>,
    confirm: Vec<fancy_regex::Regex>,
    /// Patterns with no usable prefilter: checked on every hit (none today).
    always: Vec<fancy_regex::Regex>,
    /// Look-around patterns that gave up (backtracking limit): such an
    /// agent counts as a bot, never silently as a person.
    errors: Arc<AtomicU64>,
}

/// Remove look-around groups `(?=…)`, `(?!…)`, `(?<=…)`, `(?<!…)`, leaving
/// a pattern that matches a superset of the original's matches.
pub fn strip_lookaround(p: &str) -> String {
    let b = p.as_bytes();
    let mut out = String::with_capacity(p.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            out.push_str(&p[i..i + 2]);
            i += 2;
            continue;
        }
        let look = p[i..].starts_with("(?=")
            || p[i..].starts_with("(?!")
            || p[i..].starts_with("(?<=")
            || p[i..].starts_with("(?<!");
        if look {
            let mut depth = 0;
            while i < b.len() {
                match b[i] {
                    b'\\' => i += 1,
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            continue;
        }
        let c = p[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// JavaScript accepts `-` right after a class escape inside `[...]` (as in
/// `[\w\d-.]`) as a literal; Rust's regex wants it escaped.
pub fn js_compat(p: &str) -> String {
    let b = p.as_bytes();
    let mut out = String::with_capacity(p.len() + 4);
    let mut in_class = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' && i + 1 < b.len() {
            out.push_str(&p[i..i + 2]);
            let shorthand = matches!(b[i + 1], b'w' | b'W' | b'd' | b'D' | b's' | b'S');
            i += 2;
            if in_class && shorthand && i < b.len() && b[i] == b'-' && b.get(i + 1) != Some(&b']') {
                out.push_str("\\-");
                i += 1;
            }
            continue;
        }
        if c == b'[' && !in_class {
            in_class = true;
        } else if c == b']' && in_class {
            in_class = false;
        }
        let ch = p[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn has_lookaround(p: &str) -> bool {
    strip_lookaround(p) != p
}

impl BotDetector {
    /// `isbot` patterns are matched case-insensitively (as isbot does);
    /// crawler-user-agents patterns case-sensitively (as that list intends).
    pub fn new(isbot: &[String], crawlers: &[String]) -> Result<Self, BotError> {
        let mut plain = Vec::new();
        let mut stripped = Vec::new();
        let mut confirm = Vec::new();
        let mut always = Vec::new();
        let all = isbot
            .iter()
            .map(|p| (p, true))
            .chain(crawlers.iter().map(|p| (p, false)));
        for (p, icase) in all {
            let p = &js_compat(p);
            let wrap = |x: &str| {
                if icase {
                    format!("(?i:{x})")
                } else {
                    format!("(?:{x})")
                }
            };
            if !has_lookaround(p) && regex::Regex::new(&wrap(p)).is_ok() {
                plain.push(wrap(p));
                continue;
            }
            // Needs fancy-regex (look-around, or syntax the regex crate lacks).
            let full = if icase {
                format!("(?i){p}")
            } else {
                p.to_string()
            };
            let fancy = fancy_regex::Regex::new(&full).map_err(|e| BotError::Pattern {
                pattern: p.to_string(),
                source: Box::new(e),
            })?;
            let pre = wrap(&strip_lookaround(p));
            if regex::Regex::new(&pre).is_ok() {
                stripped.push(pre);
                confirm.push(fancy);
            } else {
                always.push(fancy);
            }
        }
        let build = |parts: &[String]| {
            regex::RegexBuilder::new(&parts.join("|"))
                .size_limit(256 << 20)
                .dfa_size_limit(64 << 20)
                .build()
        };
        let automation = regex::RegexBuilder::new(&AUTOMATION.join("|"))
            .case_insensitive(true)
            .build()?;
        Ok(Self {
            automation,
            plain: if plain.is_empty() {
                None
            } else {
                Some(build(&plain)?)
            },
            prefilter: if stripped.is_empty() {
                None
            } else {
                Some(build(&stripped)?)
            },
            confirm,
            always,
            errors: Arc::default(),
        })
    }

    /// Load `isbot.json` (a JSON list of patterns) and `crawlers.json`
    /// (crawler-user-agents: objects with a `pattern`).
    pub fn load(isbot: &Path, crawlers: &Path) -> Result<Self, BotError> {
        fn json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T, BotError> {
            let path = p.display().to_string();
            let bytes = std::fs::read(p).map_err(|source| BotError::Read {
                path: path.clone(),
                source,
            })?;
            serde_json::from_slice(&bytes).map_err(|source| BotError::Json { path, source })
        }
        let a: Vec<String> = json(isbot)?;
        let c: Vec<serde_json::Value> = json(crawlers)?;
        let c: Vec<String> = c
            .iter()
            .filter_map(|v| v["pattern"].as_str().map(str::to_string))
            .collect();
        Self::new(&a, &c)
    }

    pub fn is_bot(&self, ua: &str) -> bool {
        if self.automation.is_match(ua) || self.plain.as_ref().is_some_and(|p| p.is_match(ua)) {
            return true;
        }
        let matches = |r: &fancy_regex::Regex| {
            r.is_match(ua).unwrap_or_else(|_| {
                self.errors.fetch_add(1, Ordering::Relaxed);
                true
            })
        };
        let confirmed = match &self.prefilter {
            Some(pre) if pre.is_match(ua) => self.confirm.iter().any(matches),
            _ => false,
        };
        confirmed || self.always.iter().any(matches)
    }

    /// Matched by [`AUTOMATION`] (tacit's own list), whatever the registry
    /// lists say.
    pub fn is_automation(&self, ua: &str) -> bool {
        self.automation.is_match(ua)
    }

    /// How many pattern checks gave up (each counted the agent as a bot);
    /// shared with `/metrics`.
    pub fn error_counter(&self) -> Arc<AtomicU64> {
        self.errors.clone()
    }
}

/// A vendored data file, for the unit tests of `enrich/`.
#[cfg(test)]
pub(crate) fn vendor(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tacit/vendor")
        .join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_that_gives_up_counts_the_agent_as_a_bot() {
        // A look-ahead with catastrophic backtracking: the prefilter (`ab`)
        // matches, the confirmation exceeds fancy-regex's backtrack limit.
        let d = BotDetector::new(&[r"(?=(a|aa)+\1c)ab".to_string()], &[]).unwrap();
        let ua = format!("{}b", "a".repeat(40));
        assert!(d.is_bot(&ua), "an undecidable agent is not a person");
        assert_eq!(d.error_counter().load(Ordering::Relaxed), 1);
        assert!(!d.is_bot("Mozilla/5.0"));
    }

    #[test]
    fn automation_the_registry_lists_miss_is_dropped_and_apps_are_not() {
        let d = BotDetector::load(&vendor("isbot.json"), &vendor("crawlers.json"))
            .expect("run scripts/fetch-data first");
        for ua in [
            "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
            "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:38.0) Gecko/20100101 SlimerJS/0.10.3",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Cypress/13.6.0 Chrome/114.0.5735.289 Electron/25.8.4 Safari/537.36",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Electron/1.4.15 Safari/537.36",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Headless",
        ] {
            assert!(d.is_automation(ua) && d.is_bot(ua), "{ua}");
        }
        // A packaged Electron app names itself; a browser says nothing of automation.
        for ua in [
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.33.90 Chrome/114.0.5735.289 Electron/25.8.1 Safari/537.36",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0",
        ] {
            assert!(!d.is_automation(ua) && !d.is_bot(ua), "{ua}");
        }
    }

    #[test]
    fn lookaround_is_stripped_to_a_superset() {
        assert_eq!(strip_lookaround("(?<!cam)scan"), "scan");
        assert_eq!(strip_lookaround("java(?!;)"), "java");
        assert_eq!(
            strip_lookaround("(?<! channel/|google/)google(?!(?:wv|app|/google| pixel))"),
            "google"
        );
        assert_eq!(strip_lookaround(r"a\(?!b"), r"a\(?!b");
        assert_eq!(js_compat(r"[\w\d-.]+"), r"[\w\d\-.]+");
        assert_eq!(js_compat(r"[\w-]"), r"[\w-]");
    }

    #[test]
    fn registry_patterns_catch_crawlers_and_spare_browsers() {
        let d = BotDetector::load(&vendor("isbot.json"), &vendor("crawlers.json"))
            .expect("run scripts/fetch-data first");
        assert!(
            d.is_bot("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
        );
        assert!(d.is_bot("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36"));
        assert!(d.is_bot("curl/8.5.0"));
        assert!(!d.is_bot("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"));
        assert!(!d.is_bot("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"));
        // A look-around pattern: "scan" is a bot, "camscanner" is not.
        assert!(d.is_bot("Mozilla/5.0 scanner/1.0"));
    }
}
