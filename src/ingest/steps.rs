//! The named steps of the ingest pipeline. Each is a small pure function
//! over the decoded hit with its own tests; `Pipeline::process` runs them in
//! order.

use super::{DropReason, Rejection, RequestMeta, Sites};
use crate::privacy::RawIdentity;

pub const MAX_NAME: usize = 120;
pub const MAX_URL: usize = 2048;
pub const MAX_PROPS: usize = 30;
pub const MAX_PROP_KEY: usize = 300;
pub const MAX_PROP_VALUE: usize = 2000;

/// Event name: required, 1..=120 printable characters.
pub fn event_name(name: Option<&str>) -> Result<String, Rejection> {
    let n = name.map(str::trim).ok_or(Rejection::MissingName)?;
    if n.is_empty() {
        return Err(Rejection::MissingName);
    }
    if n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(Rejection::BadName);
    }
    Ok(n.to_string())
}

/// The parts of the page URL that are kept: host and path. The query
/// string and fragment never leave this function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUrl {
    pub hostname: String,
    pub pathname: String,
}

pub fn page_url(url: Option<&str>) -> Result<PageUrl, Rejection> {
    let raw = url
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or(Rejection::MissingUrl)?;
    if raw.len() > MAX_URL {
        return Err(Rejection::BadUrl);
    }
    let u = url::Url::parse(raw).map_err(|_| Rejection::BadUrl)?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(Rejection::BadUrl);
    }
    let host = u
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or(Rejection::BadUrl)?;
    let host = host
        .strip_prefix("www.")
        .unwrap_or(host)
        .to_ascii_lowercase();
    let path = u.path();
    let pathname = if path.len() > 1 {
        path.trim_end_matches('/').to_string()
    } else {
        "/".to_string()
    };
    Ok(PageUrl {
        hostname: host,
        pathname,
    })
}

/// The configured site: `d` if given, else the page's host.
pub fn site<'a>(
    sites: &'a Sites,
    domain: Option<&str>,
    page: &PageUrl,
) -> Result<&'a str, Rejection> {
    let d = domain
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(&page.hostname);
    sites.find(d).ok_or(Rejection::UnknownSite)
}

/// Referrer host, or empty for none, unparseable, non-web, or internal
/// navigation (same host as the page).
pub fn referrer_host(referrer: Option<&str>, page: &PageUrl) -> Result<String, Rejection> {
    let Some(r) = referrer.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(String::new());
    };
    if r.len() > MAX_URL {
        return Err(Rejection::BadReferrer);
    }
    let Ok(u) = url::Url::parse(r) else {
        return Ok(String::new());
    };
    if !matches!(u.scheme(), "http" | "https" | "android-app") {
        return Ok(String::new());
    }
    let host = u.host_str().unwrap_or("").to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    if host == page.hostname {
        return Ok(String::new());
    }
    Ok(host)
}

/// Custom properties: at most 30, bounded lengths, as two aligned arrays.
pub fn props(props: Vec<(String, String)>) -> Result<(Vec<String>, Vec<String>), Rejection> {
    if props.len() > MAX_PROPS {
        return Err(Rejection::BadProps);
    }
    let mut keys = Vec::with_capacity(props.len());
    let mut values = Vec::with_capacity(props.len());
    for (k, v) in props {
        if k.is_empty() || k.len() > MAX_PROP_KEY || v.len() > MAX_PROP_VALUE {
            return Err(Rejection::BadProps);
        }
        keys.push(k);
        values.push(v);
    }
    Ok((keys, values))
}

/// Hits that are accepted but not stored.
pub fn drop_check(meta: &RequestMeta, identity: &RawIdentity) -> Option<DropReason> {
    if meta.prefetch {
        return Some(DropReason::Prefetch);
    }
    if !identity.has_user_agent() {
        return Some(DropReason::EmptyUserAgent);
    }
    None
}

/// Primary language subtag of the first `Accept-Language` entry, lowercase.
pub fn language(accept: Option<&str>) -> String {
    let Some(first) = accept.and_then(|a| a.split(',').next()) else {
        return String::new();
    };
    let tag = first.split(';').next().unwrap_or("").trim();
    let primary = tag.split(['-', '_']).next().unwrap_or("");
    if (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        primary.to_ascii_lowercase()
    } else {
        String::new()
    }
}

/// Screen width, clamped to a plausible range (0 = unknown).
pub fn screen_width(w: Option<u64>) -> u16 {
    match w {
        Some(w) if (1..=20_000).contains(&w) => w as u16,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;

    fn page(h: &str) -> PageUrl {
        PageUrl {
            hostname: h.into(),
            pathname: "/".into(),
        }
    }

    #[test]
    fn names_are_required_and_bounded() {
        assert_eq!(event_name(Some(" pageview ")).unwrap(), "pageview");
        assert_eq!(event_name(None), Err(Rejection::MissingName));
        assert_eq!(event_name(Some("  ")), Err(Rejection::MissingName));
        assert_eq!(event_name(Some(&"x".repeat(121))), Err(Rejection::BadName));
        assert_eq!(event_name(Some("a\nb")), Err(Rejection::BadName));
    }

    #[test]
    fn page_url_keeps_host_and_path_only() {
        let p = page_url(Some(
            "https://www.Example.com/a/b/?email=x@y.z&token=1#frag",
        ))
        .unwrap();
        assert_eq!(
            p,
            PageUrl {
                hostname: "example.com".into(),
                pathname: "/a/b".into()
            }
        );
        assert_eq!(page_url(Some("http://example.com")).unwrap().pathname, "/");
        assert_eq!(page_url(None), Err(Rejection::MissingUrl));
        assert_eq!(
            page_url(Some("javascript:alert(1)")),
            Err(Rejection::BadUrl)
        );
        assert_eq!(page_url(Some("ftp://example.com/")), Err(Rejection::BadUrl));
        assert_eq!(page_url(Some("/relative")), Err(Rejection::BadUrl));
        assert_eq!(
            page_url(Some(&format!("https://e.com/{}", "a".repeat(3000)))),
            Err(Rejection::BadUrl)
        );
    }

    #[test]
    fn site_must_be_configured() {
        let mut raw = RawConfig::default();
        raw.sites.push(crate::config::RawSite {
            domain: "example.com".into(),
            origins: vec![],
        });
        let sites = Sites::new(&raw.validate().unwrap());
        assert_eq!(site(&sites, None, &page("example.com")), Ok("example.com"));
        assert_eq!(
            site(&sites, Some("EXAMPLE.com"), &page("other.org")),
            Ok("example.com")
        );
        assert_eq!(
            site(&sites, Some("evil.org"), &page("example.com")),
            Err(Rejection::UnknownSite)
        );
        assert!(sites.allows_origin("https://example.com"));
        assert!(sites.allows_origin("https://shop.example.com"));
        assert!(!sites.allows_origin("https://badexample.com"));
        assert!(!sites.allows_origin("null"));
    }

    #[test]
    fn referrer_is_reduced_to_an_external_host() {
        let p = page("example.com");
        assert_eq!(
            referrer_host(Some("https://www.google.com/search?q=me"), &p).unwrap(),
            "google.com"
        );
        assert_eq!(
            referrer_host(Some("https://example.com/other"), &p).unwrap(),
            ""
        );
        assert_eq!(referrer_host(Some("not a url"), &p).unwrap(), "");
        assert_eq!(referrer_host(None, &p).unwrap(), "");
    }

    #[test]
    fn language_and_screen() {
        assert_eq!(language(Some("de-CH,de;q=0.9,en;q=0.8")), "de");
        assert_eq!(language(Some("*")), "");
        assert_eq!(language(None), "");
        assert_eq!(screen_width(Some(1280)), 1280);
        assert_eq!(screen_width(Some(0)), 0);
        assert_eq!(screen_width(Some(10_000_000)), 0);
    }

    #[test]
    fn props_are_bounded() {
        let ok = props(vec![("plan".into(), "pro".into())]).unwrap();
        assert_eq!(ok, (vec!["plan".to_string()], vec!["pro".to_string()]));
        let many = (0..31)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert_eq!(props(many), Err(Rejection::BadProps));
    }

    #[test]
    fn prefetch_and_empty_agents_are_dropped() {
        let id = |ua: &str| RawIdentity::new("192.0.2.1".parse().unwrap(), None, &[], ua);
        let pre = RequestMeta {
            prefetch: true,
            ..Default::default()
        };
        assert_eq!(
            drop_check(&pre, &id("Mozilla/5.0")),
            Some(DropReason::Prefetch)
        );
        assert_eq!(
            drop_check(&RequestMeta::default(), &id(" ")),
            Some(DropReason::EmptyUserAgent)
        );
        assert_eq!(
            drop_check(&RequestMeta::default(), &id("Mozilla/5.0")),
            None
        );
    }
}
