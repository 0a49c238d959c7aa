//! GoatCounter's CSV export (Settings → Export, a `.csv.gz`): one row per
//! pageview or event. The header's first cell carries the format version
//! before the first column's name (`2Path`); versions 1 and 2 are read,
//! by column name. Version 2: `Path, Title, Event, UserAgent, Browser,
//! System, Session, Bot, Referrer, Referrer scheme, Screen size, Location,
//! FirstVisit, Date`; version 1 has the raw agent in `Browser` and no
//! `System`. What a row gives: its time, the session id (the visitor's
//! identity, hashed, never stored), the path (an event's name when `Event`
//! is true), browser and system as GoatCounter named them (or the raw agent,
//! parsed like a live one, when the export kept it), the screen width, the
//! location (`US` or `US-TX`), the referrer when it is a URL (scheme `h`;
//! a campaign, scheme `c`, becomes `utm_source`; GoatCounter's generated
//! names, scheme `g`, have no host and are dropped) and the bot mark. The
//! title and `FirstVisit` are not kept: tacit counts visitors from the ids.

use std::sync::Arc;

use crate::model::facts::{GeoInfo, UaInfo};

use super::access::iso_time;
use super::csv::{field, Header};
use super::rules::ExportedHit;

/// The columns of one export, by position.
#[derive(Debug, Clone)]
pub struct Columns {
    version: u8,
    path: usize,
    event: Option<usize>,
    user_agent: Option<usize>,
    browser: Option<usize>,
    system: Option<usize>,
    session: usize,
    bot: Option<usize>,
    referrer: Option<usize>,
    scheme: Option<usize>,
    screen: Option<usize>,
    location: Option<usize>,
    date: usize,
}

impl Columns {
    /// The header line's columns, or why it is not a GoatCounter export.
    pub fn from_header(names: Vec<String>) -> Result<Self, String> {
        let first = names.first().map(|s| s.trim()).unwrap_or("");
        let digits = first.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || &first[digits..] != "Path" {
            return Err(
                "not a GoatCounter export: the header does not start with the version and Path (2Path)"
                    .into(),
            );
        }
        let version: u8 = first[..digits].parse().unwrap_or(0);
        if !(1..=2).contains(&version) {
            return Err(format!(
                "GoatCounter export format version {} is not read (1 and 2 are)",
                &first[..digits]
            ));
        }
        let mut names = names;
        names[0] = "Path".into();
        let h = Header::new(names);
        let need = |n: &str| h.need(n).map_err(|e| e.what);
        Ok(Self {
            version,
            path: 0,
            event: h.col("Event"),
            user_agent: h.col("UserAgent"),
            browser: h.col("Browser"),
            system: h.col("System"),
            session: need("Session")?,
            bot: h.col("Bot"),
            referrer: h.col("Referrer"),
            scheme: h.col("Referrer scheme"),
            screen: h.col("Screen size"),
            location: h.col("Location"),
            date: need("Date")?,
        })
    }

    /// One record; `line` names rows without a session.
    pub fn row(&self, r: &[String], line: u64) -> Result<ExportedHit, String> {
        let get = |i: Option<usize>| field(r, i).trim();
        let ts_ms = iso_time(get(Some(self.date))).map_err(|_| "Date is not an RFC 3339 time")?;
        let path = get(Some(self.path));
        if path.is_empty() {
            return Err("Path is empty".into());
        }
        let event = match get(self.event) {
            "true" | "1" => true,
            "false" | "0" | "" => false,
            _ => return Err("Event is not true or false".into()),
        };
        let bot = match get(self.bot) {
            "" | "0" => false,
            b if b.bytes().all(|c| c.is_ascii_digit()) => true,
            _ => return Err("Bot is not a number".into()),
        };
        // Version 1 had the raw agent in `Browser`.
        let (user_agent, agent) = if self.version == 1 {
            (get(self.browser).to_string(), None)
        } else {
            (
                get(self.user_agent).to_string(),
                Some(agent(get(self.browser), get(self.system))),
            )
        };
        let session = match get(Some(self.session)) {
            // Rows without a session count as a visitor each.
            "" | "00000000-0000-0000-0000-000000000000" => format!("row {line}"),
            s => s.to_string(),
        };
        let (name, mut target) = if event {
            (path.to_string(), "/".to_string())
        } else {
            ("pageview".to_string(), path.to_string())
        };
        let (r_text, scheme) = (get(self.referrer), get(self.scheme));
        if scheme == "c" && !r_text.is_empty() {
            // A campaign: the source it was tagged with.
            let v: String = url::form_urlencoded::byte_serialize(r_text.as_bytes()).collect();
            let sep = if target.contains('?') { '&' } else { '?' };
            target = format!("{target}{sep}utm_source={v}");
        }
        Ok(ExportedHit {
            ts_ms,
            session,
            user_agent,
            agent,
            geo: location(get(self.location)),
            name,
            hostname: String::new(),
            target,
            referrer: referrer(r_text, scheme),
            screen_width: get(self.screen)
                .split(',')
                .next()
                .and_then(|w| w.trim().parse::<f64>().ok())
                .filter(|w| *w >= 1.0)
                .map(|w| w.round() as u64),
            language: None,
            bot,
        })
    }
}

/// `Firefox 128` and `Windows 10` as GoatCounter names them: the name, and
/// the version's major part.
fn agent(browser: &str, system: &str) -> UaInfo {
    let (b, bv) = name_version(browser);
    let (o, ov) = name_version(system);
    UaInfo {
        browser: Arc::from(b),
        browser_version: Arc::from(bv),
        os: Arc::from(o),
        os_version: Arc::from(ov),
        ..UaInfo::default()
    }
}

/// `Name 1.2.3` → (`Name`, `1`); a name without a trailing version whole.
pub fn name_version(s: &str) -> (&str, &str) {
    match s.trim().rsplit_once(' ') {
        Some((n, v)) if v.starts_with(|c: char| c.is_ascii_digit()) => {
            (n.trim(), v.split('.').next().unwrap_or(""))
        }
        _ => (s.trim(), ""),
    }
}

/// `US` or `US-TX` (ISO 3166-1 or 3166-2).
fn location(l: &str) -> GeoInfo {
    let country = l.split('-').next().unwrap_or("");
    if country.len() != 2 {
        return GeoInfo::default();
    }
    GeoInfo {
        country: country.to_ascii_uppercase(),
        region: if l.len() > 3 {
            l.to_ascii_uppercase()
        } else {
            String::new()
        },
        city: String::new(),
    }
}

fn referrer(r: &str, scheme: &str) -> Option<String> {
    if r.is_empty() {
        return None;
    }
    match scheme {
        "c" | "g" => None,
        _ if r.contains("://") => Some(r.to_string()),
        "h" | "" => Some(format!("https://{r}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &str) -> Vec<String> {
        s.split('|').map(str::to_string).collect()
    }

    #[test]
    fn version_two_rows() {
        let c = Columns::from_header(rec("2Path|Title|Event|UserAgent|Browser|System|Session|Bot|Referrer|Referrer scheme|Screen size|Location|FirstVisit|Date")).unwrap();
        let h = c
            .row(&rec("/a?x=1|A|false||Firefox 128.0|Linux|1b2c|0|news.example/item|h|1280,800,2|DE-BY|true|2026-05-01T10:00:00Z"), 2)
            .unwrap();
        assert_eq!(h.ts_ms, 1_777_629_600_000);
        assert_eq!((h.name.as_str(), h.target.as_str()), ("pageview", "/a?x=1"));
        assert_eq!(h.referrer.as_deref(), Some("https://news.example/item"));
        assert_eq!(h.screen_width, Some(1280));
        assert_eq!(
            (h.geo.country.as_str(), h.geo.region.as_str()),
            ("DE", "DE-BY")
        );
        let a = h.agent.unwrap();
        assert_eq!(
            (&*a.browser, &*a.browser_version, &*a.os),
            ("Firefox", "128", "Linux")
        );
        let e = c
            .row(
                &rec("signup-click||true||||||Hacker News|g|||false|2026-05-01T11:00:00+02:00"),
                3,
            )
            .unwrap();
        assert_eq!((e.name.as_str(), e.target.as_str()), ("signup-click", "/"));
        assert_eq!(e.referrer, None);
        assert_eq!(e.session, "row 3");
        assert!(
            c.row(&rec("/|||||||7||||||2026-05-01T10:00:00Z"), 4)
                .unwrap()
                .bot
        );
        assert!(c.row(&rec("/|||||||0||||||yesterday"), 5).is_err());
    }

    #[test]
    fn headers_name_the_version() {
        assert!(Columns::from_header(rec("Path|Date")).is_err());
        let e = Columns::from_header(rec("3Path|Session|Date")).unwrap_err();
        assert!(e.contains("version 3"), "{e}");
        let v1 = Columns::from_header(rec("1Path|Title|Event|Bot|Session|FirstVisit|Referrer|Referrer scheme|Browser|Screen size|Location|Date")).unwrap();
        let h = v1
            .row(
                &rec(
                    "/x||false|0|s1|true|||Mozilla/5.0 (X11) Firefox/99.0||NL|2020-01-01T00:00:00Z",
                ),
                2,
            )
            .unwrap();
        assert!(h.agent.is_none());
        assert!(h.user_agent.starts_with("Mozilla/5.0"));
    }
}
