//! Umami's per-event export: Umami Cloud's `website_event` CSV (Settings →
//! Data → Export), or the same table exported from a self-hosted Umami's
//! database. Read by column name: `session_id`, `created_at`, `url_path`
//! and `event_type` are needed; `hostname`, `url_query`, `referrer_domain`,
//! `referrer_path`, `event_name`, `browser`, `os`, `device`, `screen`,
//! `language`, `country`, `region` (or `subdivision1`) and `city` are read
//! when present (the database table keeps the last ones in `session`). Other
//! columns (ids of the website, visit and event, click ids, `distinct_id`,
//! the referrer's query, the title) are not read. `event_type` 1 is a
//! pageview, 2 a custom event (`event_name`); other types are skipped.
//!
//! Umami rows carry a session id, not an address or agent: it becomes the
//! visitor id through one salted hash under the import's salt
//! (`privacy::session_visitor_id`) and is never stored. Browser and system
//! are Umami's names, mapped to the names tacit's parser gives.
//!
//! The dashboard's own export (a zip of `x,y` files: totals per page,
//! referrer, browser… over the range on screen) has no dates: it cannot
//! become days, and is refused with that reason.

use std::sync::Arc;

use crate::model::device::DeviceClass;
use crate::model::facts::{GeoInfo, UaInfo};

use super::csv::{field, Header};
use super::goatcounter::name_version;
use super::rules::ExportedHit;

/// Why the dashboard's `x,y` files are refused.
pub const METRICS_ZIP: &str = "Umami's dashboard export (x,y totals over a date range it does not record) cannot become days; export website_event instead (Umami Cloud: Settings → Data → Export; self-hosted: the website_event table as CSV)";

/// The columns of one export, by position.
#[derive(Debug, Clone)]
pub struct Columns {
    session: usize,
    created_at: usize,
    path: usize,
    event_type: usize,
    query: Option<usize>,
    hostname: Option<usize>,
    ref_domain: Option<usize>,
    ref_path: Option<usize>,
    event_name: Option<usize>,
    browser: Option<usize>,
    os: Option<usize>,
    device: Option<usize>,
    screen: Option<usize>,
    language: Option<usize>,
    country: Option<usize>,
    region: Option<usize>,
    city: Option<usize>,
}

impl Columns {
    pub fn from_header(names: Vec<String>) -> Result<Self, String> {
        let h = Header::new(names);
        if h.names() == ["x", "y"] {
            return Err(METRICS_ZIP.into());
        }
        let need = |n: &str| {
            h.col(n)
                .ok_or_else(|| format!("not Umami's website_event export: no column {n}"))
        };
        Ok(Self {
            session: need("session_id")?,
            created_at: need("created_at")?,
            path: need("url_path")?,
            event_type: need("event_type")?,
            query: h.col("url_query"),
            hostname: h.col("hostname"),
            ref_domain: h.col("referrer_domain"),
            ref_path: h.col("referrer_path"),
            event_name: h.col("event_name"),
            browser: h.col("browser"),
            os: h.col("os"),
            device: h.col("device"),
            screen: h.col("screen"),
            language: h.col("language"),
            country: h.col("country"),
            region: h.col("region").or_else(|| h.col("subdivision1")),
            city: h.col("city"),
        })
    }

    /// One record: its time, and `None` for an event type that is neither
    /// a pageview nor a custom event.
    pub fn row(&self, r: &[String]) -> Result<(i64, Option<ExportedHit>), String> {
        let get = |i: Option<usize>| field(r, i).trim();
        let ts_ms = time(get(Some(self.created_at))).ok_or("created_at is not a time")?;
        let name = match get(Some(self.event_type)) {
            "1" => "pageview".to_string(),
            "2" => match get(self.event_name) {
                "" => return Err("a custom event (event_type 2) without event_name".into()),
                n => n.to_string(),
            },
            t if t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty() => {
                return Ok((ts_ms, None))
            }
            _ => return Err("event_type is not a number".into()),
        };
        let session = get(Some(self.session));
        if session.is_empty() {
            return Err("session_id is empty".into());
        }
        let path = get(Some(self.path));
        let target = match get(self.query).trim_start_matches('?') {
            "" => path.to_string(),
            q => format!("{path}?{q}"),
        };
        let referrer = match get(self.ref_domain) {
            "" => None,
            d => Some(format!("https://{d}{}", get(self.ref_path))),
        };
        let region = get(self.region);
        Ok((
            ts_ms,
            Some(ExportedHit {
                ts_ms,
                session: session.to_string(),
                user_agent: String::new(),
                agent: Some(agent(get(self.browser), get(self.os), get(self.device))),
                geo: GeoInfo {
                    country: get(self.country).to_ascii_uppercase(),
                    // Umami writes `US-CA`; older versions the bare code.
                    region: match region {
                        "" => String::new(),
                        r if r.contains('-') => r.to_ascii_uppercase(),
                        r => format!("{}-{}", get(self.country), r).to_ascii_uppercase(),
                    },
                    city: get(self.city).to_string(),
                },
                name,
                hostname: get(self.hostname).to_ascii_lowercase(),
                target,
                referrer,
                screen_width: get(self.screen)
                    .split('x')
                    .next()
                    .and_then(|w| w.parse().ok()),
                language: Some(get(self.language).to_string()).filter(|l| !l.is_empty()),
                bot: false,
            }),
        ))
    }
}

/// `2024-05-01 10:00:00`, with or without fractions, or an RFC 3339 time;
/// UTC unless an offset is given.
fn time(s: &str) -> Option<i64> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    let dt: jiff::civil::DateTime = s.replacen(' ', "T", 1).parse().ok()?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// Umami's browser ids (from `detect-browser`) as uap-core names them.
const BROWSERS: &[(&str, &str)] = &[
    ("chrome", "Chrome"),
    ("crios", "Chrome Mobile iOS"),
    ("chromium-webview", "Chrome Mobile WebView"),
    ("firefox", "Firefox"),
    ("fxios", "Firefox iOS"),
    ("safari", "Safari"),
    ("ios", "Mobile Safari"),
    ("ios-webview", "Mobile Safari UI/WKWebView"),
    ("edge", "Edge"),
    ("edge-chromium", "Edge"),
    ("edge-ios", "Edge Mobile"),
    ("opera", "Opera"),
    ("opera-mini", "Opera Mini"),
    ("samsung", "Samsung Internet"),
    ("android", "Android"),
    ("facebook", "Facebook"),
    ("instagram", "Instagram"),
    ("yandexbrowser", "Yandex Browser"),
    ("ie", "IE"),
];

/// Umami's system names as uap-core names them.
const SYSTEMS: &[(&str, &str)] = &[
    ("Mac OS", "Mac OS X"),
    ("Android OS", "Android"),
    ("Chrome OS", "Chrome OS"),
];

fn agent(browser: &str, os: &str, device: &str) -> UaInfo {
    let b = BROWSERS
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(browser))
        .map_or_else(|| browser.to_string(), |(_, n)| n.to_string());
    let (o, ov) = match SYSTEMS.iter().find(|(u, _)| *u == os) {
        Some((_, n)) => (*n, ""),
        None => name_version(os),
    };
    let (class, sure) = match device {
        "desktop" | "laptop" => (DeviceClass::Desktop, true),
        "mobile" => (DeviceClass::Mobile, true),
        "tablet" => (DeviceClass::Tablet, true),
        _ => (DeviceClass::Other, false),
    };
    UaInfo {
        browser: Arc::from(b.as_str()),
        os: Arc::from(o),
        os_version: Arc::from(ov),
        device: class,
        device_sure: sure,
        ..UaInfo::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &str) -> Vec<String> {
        s.split('|').map(str::to_string).collect()
    }

    const HEADER: &str = "website_id|session_id|visit_id|event_id|hostname|browser|os|device|screen|language|country|region|city|url_path|url_query|utm_source|utm_medium|utm_campaign|utm_content|utm_term|referrer_path|referrer_query|referrer_domain|page_title|gclid|fbclid|msclkid|ttclid|li_fat_id|twclid|event_type|event_name|tag|distinct_id|created_at|job_id";

    /// A record of HEADER's columns, `kv` set, the others empty.
    fn row(kv: &[(&str, &str)]) -> Vec<String> {
        HEADER
            .split('|')
            .map(|c| {
                kv.iter()
                    .find(|(k, _)| *k == c)
                    .map_or(String::new(), |(_, v)| v.to_string())
            })
            .collect()
    }

    #[test]
    fn cloud_rows() {
        let c = Columns::from_header(rec(HEADER)).unwrap();
        let h = c
            .row(&row(&[
                ("session_id", "s1"),
                ("hostname", "www.site.example"),
                ("browser", "edge-chromium"),
                ("os", "Windows 10"),
                ("device", "laptop"),
                ("screen", "1536x864"),
                ("language", "fr-FR"),
                ("country", "FR"),
                ("region", "FR-IDF"),
                ("city", "Paris"),
                ("url_path", "/p"),
                ("url_query", "utm_source=x"),
                ("referrer_path", "/search"),
                ("referrer_domain", "google.com"),
                ("event_type", "1"),
                ("created_at", "2026-05-01 10:00:00.000"),
            ]))
            .unwrap()
            .1
            .unwrap();
        assert_eq!(h.ts_ms, 1_777_629_600_000);
        assert_eq!(h.target, "/p?utm_source=x");
        assert_eq!(h.referrer.as_deref(), Some("https://google.com/search"));
        assert_eq!(h.screen_width, Some(1536));
        let a = h.agent.unwrap();
        assert_eq!(
            (&*a.browser, &*a.os, &*a.os_version),
            ("Edge", "Windows", "10")
        );
        assert_eq!(a.device, DeviceClass::Desktop);
        assert_eq!(h.geo.region, "FR-IDF");
        let base = [
            ("session_id", "s1"),
            ("url_path", "/p"),
            ("created_at", "2026-05-01T10:00:00Z"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut kv = base.to_vec();
            kv.extend_from_slice(extra);
            row(&kv)
        };
        let e = c
            .row(&with(&[("event_type", "2"), ("event_name", "signup")]))
            .unwrap()
            .1
            .unwrap();
        assert_eq!((e.name.as_str(), e.ts_ms), ("signup", 1_777_629_600_000));
        let (ts, other) = c.row(&with(&[("event_type", "3")])).unwrap();
        assert_eq!((ts, other.is_none()), (1_777_629_600_000, true));
        assert!(c.row(&with(&[("event_type", "2")])).is_err());
        let mut no_session = with(&[("event_type", "1")]);
        no_session[1].clear();
        assert!(c.row(&no_session).is_err());
    }

    #[test]
    fn the_dashboards_totals_are_refused() {
        let e = Columns::from_header(rec("x|y")).unwrap_err();
        assert!(e.contains("cannot become days"), "{e}");
        assert!(Columns::from_header(rec("a|b")).is_err());
    }
}
