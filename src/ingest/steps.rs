//! The named steps of the ingest pipeline. Each is a small pure function
//! over the decoded hit with its own tests; `Pipeline::process` runs them in
//! order.

use super::{DropReason, Rejection, RequestMeta, SiteRef, Sites};
use crate::config::{ConsentRule, Policy};
use crate::enrich::referrer;
use crate::model::facts::Utm;
use crate::privacy;

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

/// The page URL, parsed and checked: absolute http(s) with a host.
pub fn parse_url(url: Option<&str>) -> Result<url::Url, Rejection> {
    let raw = url
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or(Rejection::MissingUrl)?;
    if raw.len() > MAX_URL {
        return Err(Rejection::BadUrl);
    }
    let u = url::Url::parse(raw).map_err(|_| Rejection::BadUrl)?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return Err(Rejection::BadUrl);
    }
    Ok(u)
}

fn bare_host(u: &url::Url) -> String {
    let host = u.host_str().unwrap_or("").to_ascii_lowercase();
    host.strip_prefix("www.")
        .map(str::to_string)
        .unwrap_or(host)
}

/// The parts of the page URL that are kept, per policy: host, path
/// (personal-looking segments redacted), allow-listed query parameters, and
/// the UTM parameters, read here before the query string is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUrl {
    pub hostname: String,
    pub pathname: String,
    pub query: String,
    pub utm: Utm,
}

pub fn page(u: &url::Url, hash_routing: bool, policy: &Policy) -> PageUrl {
    let path = u.path();
    let mut pathname = if path.len() > 1 {
        path.trim_end_matches('/').to_string()
    } else {
        "/".to_string()
    };
    if hash_routing {
        if let Some(route) = u.fragment().filter(|f| f.starts_with('/')) {
            let route = route.split('?').next().unwrap_or("");
            pathname = format!("{pathname}#{route}");
        }
    }
    if policy.redact_paths {
        pathname = privacy::url::redact_path(&pathname);
    }
    let mut utm = referrer::utm(u.query());
    if policy.redact_paths {
        scrub_utm(&mut utm);
    }
    PageUrl {
        hostname: bare_host(u),
        pathname,
        query: privacy::url::kept_query(u.query(), &policy.query_params),
        utm,
    }
}

/// UTM tags through the path rules (`privacy::url::redact_text`): a
/// campaign term or content that carries an e-mail address, a phone number
/// or a token is kept as `:redacted`, in every tier.
pub fn scrub_utm(utm: &mut Utm) {
    for v in [
        &mut utm.source,
        &mut utm.medium,
        &mut utm.campaign,
        &mut utm.content,
        &mut utm.term,
    ] {
        if !v.is_empty() {
            *v = privacy::url::redact_text(v);
        }
    }
}

/// The configured site: `d` if given, else the page's host.
pub fn site<'s>(
    sites: &'s Sites,
    domain: Option<&str>,
    page: &url::Url,
) -> Result<&'s SiteRef, Rejection> {
    let host = bare_host(page);
    let d = domain
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(&host);
    sites.find(d).ok_or(Rejection::UnknownSite)
}

/// Referrer host, or empty for none, unparseable, non-web, or internal
/// navigation (same host as the page).
pub fn referrer_host(referrer: Option<&str>, page_host: &str) -> Result<String, Rejection> {
    let Some(r) = referrer.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(String::new());
    };
    if r.len() > MAX_URL {
        return Err(Rejection::BadReferrer);
    }
    // Only the host is kept, so only the host is read: no full URL parse.
    let Some((scheme, rest)) = r.split_once("://") else {
        return Ok(String::new());
    };
    if !["http", "https", "android-app"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s))
    {
        return Ok(String::new());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b))
    {
        return Ok(String::new());
    }
    let host = host.to_ascii_lowercase();
    let host = host
        .strip_prefix("www.")
        .map(str::to_string)
        .unwrap_or(host);
    if host == page_host {
        return Ok(String::new());
    }
    Ok(host)
}

/// Custom properties: at most 30, bounded lengths, as two aligned arrays.
/// Keys outside the site's `allowed_properties` (when it lists any) are
/// not stored; values go through the path rules when `scrub` (the policy's
/// `redact_paths`): personal-looking ones become `:redacted`, the rest are
/// cut to `privacy::url::MAX_TEXT_CHARS` characters.
pub fn props(
    props: Vec<(String, String)>,
    allowed: Option<&[String]>,
    scrub: bool,
) -> Result<(Vec<String>, Vec<String>), Rejection> {
    if props.len() > MAX_PROPS {
        return Err(Rejection::BadProps);
    }
    let mut keys = Vec::with_capacity(props.len());
    let mut values = Vec::with_capacity(props.len());
    for (k, v) in props {
        if k.is_empty() || k.len() > MAX_PROP_KEY || v.len() > MAX_PROP_VALUE {
            return Err(Rejection::BadProps);
        }
        if allowed.is_some_and(|a| !a.contains(&k)) {
            continue;
        }
        keys.push(k);
        values.push(if scrub {
            privacy::url::redact_text(&v)
        } else {
            v
        });
    }
    Ok((keys, values))
}

/// Drops decided by the request alone: link prefetches, the opt-out cookie.
pub fn request_drop(meta: &RequestMeta, policy: &Policy) -> Option<DropReason> {
    if meta.prefetch {
        return Some(DropReason::Prefetch);
    }
    if meta.opted_out && policy.opt_out {
        return Some(DropReason::OptOut);
    }
    None
}

/// Consent signals: `Err(reason)` to drop, `Ok(true)` to store without a
/// visitor id, `Ok(false)` to store normally.
pub fn consent(meta: &RequestMeta, policy: &Policy) -> Result<bool, DropReason> {
    let mut anonymous = false;
    for (signal, rule, reason) in [
        (meta.dnt, policy.dnt, DropReason::DoNotTrack),
        (meta.gpc, policy.gpc, DropReason::GlobalPrivacyControl),
    ] {
        if signal {
            match rule {
                ConsentRule::Drop => return Err(reason),
                ConsentRule::Anonymous => anonymous = true,
                ConsentRule::Ignore => {}
            }
        }
    }
    Ok(anonymous)
}

/// Whether the looked-up country is one the policy excludes.
pub fn excluded_country(country: &str, policy: &Policy) -> bool {
    !country.is_empty()
        && policy
            .exclude_countries
            .binary_search_by(|c| c.as_str().cmp(country))
            .is_ok()
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

    fn policy() -> Policy {
        RawConfig::default().validate().unwrap().policy
    }

    fn page_of(u: &str) -> PageUrl {
        page(&parse_url(Some(u)).unwrap(), false, &policy())
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
        let p = page_of("https://www.Example.com/a/b/?email=x@y.z&token=1&utm_source=news#frag");
        assert_eq!(
            (p.hostname.as_str(), p.pathname.as_str(), p.query.as_str()),
            ("example.com", "/a/b", "")
        );
        assert_eq!(p.utm.source, "news");
        let p = page_of("https://e.com/?utm_term=jane%40example.com&utm_content=%2B49+151+2345+6789&utm_campaign=spring");
        assert_eq!(
            (
                p.utm.term.as_str(),
                p.utm.content.as_str(),
                p.utm.campaign.as_str()
            ),
            (":redacted", ":redacted", "spring")
        );
        assert_eq!(page_of("http://example.com").pathname, "/");
        assert_eq!(
            page_of("https://e.com/u/jane@example.com").pathname,
            "/u/:redacted"
        );
        assert_eq!(parse_url(None).unwrap_err(), Rejection::MissingUrl);
        assert_eq!(
            parse_url(Some("javascript:alert(1)")).unwrap_err(),
            Rejection::BadUrl
        );
        assert_eq!(
            parse_url(Some("ftp://example.com/")).unwrap_err(),
            Rejection::BadUrl
        );
        assert_eq!(parse_url(Some("/relative")).unwrap_err(), Rejection::BadUrl);
        assert_eq!(
            parse_url(Some(&format!("https://e.com/{}", "a".repeat(3000)))).unwrap_err(),
            Rejection::BadUrl
        );
    }

    #[test]
    fn hash_routes_and_allowed_params_follow_policy() {
        let mut pol = policy();
        pol.query_params = vec!["page".into()];
        let u = parse_url(Some("https://app.example.com/#/settings/profile?x=1")).unwrap();
        assert_eq!(page(&u, true, &pol).pathname, "/#/settings/profile");
        assert_eq!(page(&u, false, &pol).pathname, "/");
        let u = parse_url(Some("https://example.com/list?page=3&session=abc")).unwrap();
        assert_eq!(page(&u, false, &pol).query, "page=3");
    }

    #[test]
    fn site_must_be_configured() {
        let mut raw = RawConfig::default();
        raw.sites.push(crate::config::RawSite {
            hash_routing: false,
            domain: "example.com".into(),
            origins: vec![],
            ..Default::default()
        });
        let sites = Sites::new(&raw.validate().unwrap());
        let url = |u: &str| parse_url(Some(u)).unwrap();
        assert_eq!(
            site(&sites, None, &url("https://example.com/"))
                .unwrap()
                .domain,
            "example.com"
        );
        assert_eq!(
            site(&sites, Some("EXAMPLE.com"), &url("https://other.org/"))
                .unwrap()
                .domain,
            "example.com"
        );
        assert_eq!(
            site(&sites, Some("evil.org"), &url("https://example.com/")).unwrap_err(),
            Rejection::UnknownSite
        );
        assert!(sites.allows_origin("https://example.com"));
        assert!(sites.allows_origin("https://shop.example.com"));
        assert!(!sites.allows_origin("https://badexample.com"));
        assert!(!sites.allows_origin("null"));
    }

    #[test]
    fn referrer_is_reduced_to_an_external_host() {
        assert_eq!(
            referrer_host(Some("https://www.google.com/search?q=me"), "example.com").unwrap(),
            "google.com"
        );
        assert_eq!(
            referrer_host(Some("https://example.com/other"), "example.com").unwrap(),
            ""
        );
        assert_eq!(referrer_host(Some("not a url"), "example.com").unwrap(), "");
        assert_eq!(referrer_host(None, "example.com").unwrap(), "");
        assert_eq!(
            referrer_host(Some("HTTPS://User:pw@News.Example.org:8443/x?y#z"), "e.com").unwrap(),
            "news.example.org"
        );
        assert_eq!(
            referrer_host(Some("android-app://com.google.android.gm/"), "e.com").unwrap(),
            "com.google.android.gm"
        );
        assert_eq!(referrer_host(Some("javascript://x"), "e.com").unwrap(), "");
        assert_eq!(
            referrer_host(Some("https://exa mple.com/"), "e.com").unwrap(),
            ""
        );
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
        let ok = props(vec![("plan".into(), "pro".into())], None, true).unwrap();
        assert_eq!(ok, (vec!["plan".to_string()], vec!["pro".to_string()]));
        let many = (0..31)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert_eq!(props(many, None, true), Err(Rejection::BadProps));
    }

    #[test]
    fn props_are_allow_listed_scrubbed_and_cut() {
        let sent = || {
            vec![
                ("plan".to_string(), "pro".to_string()),
                ("email".to_string(), "a@b.example".to_string()),
                ("note".to_string(), "x".repeat(1000)),
            ]
        };
        let (k, v) = props(sent(), None, true).unwrap();
        assert_eq!(k, ["plan", "email", "note"]);
        assert_eq!(v[1], privacy::url::REDACTED);
        assert_eq!(v[2].len(), privacy::url::MAX_TEXT_CHARS);
        let allow = vec!["plan".to_string(), "email".to_string()];
        let (k, v) = props(sent(), Some(&allow), true).unwrap();
        assert_eq!((k.len(), v[0].as_str()), (2, "pro"));
        let (_, v) = props(sent(), Some(&allow), false).unwrap();
        assert_eq!(
            v[1], "a@b.example",
            "no scrubbing with redact_paths = false"
        );
        let (k, _) = props(sent(), Some(&[]), true).unwrap();
        assert!(k.is_empty(), "an empty list stores no property");
    }

    #[test]
    fn request_drops_and_consent_follow_policy() {
        let mut pol = policy();
        let pre = RequestMeta {
            prefetch: true,
            ..Default::default()
        };
        assert_eq!(request_drop(&pre, &pol), Some(DropReason::Prefetch));
        let out = RequestMeta {
            opted_out: true,
            ..Default::default()
        };
        assert_eq!(request_drop(&out, &pol), Some(DropReason::OptOut));
        assert_eq!(request_drop(&RequestMeta::default(), &pol), None);
        let dnt = RequestMeta {
            dnt: true,
            ..Default::default()
        };
        let gpc = RequestMeta {
            gpc: true,
            ..Default::default()
        };
        assert_eq!(consent(&dnt, &pol), Err(DropReason::DoNotTrack));
        assert_eq!(consent(&gpc, &pol), Err(DropReason::GlobalPrivacyControl));
        pol.dnt = ConsentRule::Anonymous;
        pol.gpc = ConsentRule::Ignore;
        assert_eq!(consent(&dnt, &pol), Ok(true));
        assert_eq!(consent(&gpc, &pol), Ok(false));
        assert_eq!(consent(&RequestMeta::default(), &pol), Ok(false));
        pol.exclude_countries = crate::model::facts::expand_country_list(&["EU".into()]);
        assert!(excluded_country("DE", &pol));
        assert!(!excluded_country("US", &pol));
        assert!(!excluded_country("", &pol));
    }
}
