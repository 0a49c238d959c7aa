//! Request decoding: the pixel's query string and the beacon's JSON body
//! into a [`Hit`], nothing more. The JSON body is Plausible's Events API
//! contract, complete, so sites running Plausible's tracker switch by
//! changing one URL: `n`/`name` (a string, or an integer such as `404`),
//! `u`/`url`, `d`/`domain` (one site or several separated by commas),
//! `r`/`referrer` (a string or null), `w`/`screen_width`, props as
//! `p`/`props`/`m`/`meta` (an object, or a JSON string of one), `h`/
//! `hashMode`, `i`/`interactive`, `$`/`revenue` (`{amount, currency}`), the
//! engagement fields `sd` (scroll depth) and `e` (engaged milliseconds), and
//! `v` (the tracker's version, read and not kept). Unknown fields are
//! ignored (their names logged at debug level): a newer tracker must not
//! lose data. A field of the wrong type is refused with a [`Rejection`]
//! that names it and its rule.

use serde_json::{Map, Value};

use crate::ingest::steps::MAX_PROPS;
use crate::model::hit::{Engagement, Revenue};
use crate::model::{Hit, Rejection};

/// Most sites one hit may name.
pub const MAX_DOMAINS: usize = 10;

fn prop_value(v: Value) -> Result<String, Rejection> {
    match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(Rejection::BadProps),
    }
}

fn props(v: Value) -> Result<Vec<(String, String)>, Rejection> {
    let map = match v {
        Value::Null => return Ok(vec![]),
        Value::Object(m) => m,
        // Plausible's script tag sends props as a JSON string.
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => m,
            _ => return Err(Rejection::BadProps),
        },
        _ => return Err(Rejection::BadProps),
    };
    if map.len() > MAX_PROPS {
        return Err(Rejection::BadProps);
    }
    map.into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| Ok((k, prop_value(v)?)))
        .collect()
}

fn name(v: Value) -> Result<Option<String>, Rejection> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        _ => Err(Rejection::BadName),
    }
}

fn string(v: Value, bad: Rejection) -> Result<Option<String>, Rejection> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(bad),
    }
}

fn flag(v: &Value, bad: Rejection) -> Result<bool, Rejection> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        _ => Err(bad),
    }
}

/// An exact decimal with at most six decimals, in millionths.
pub fn decimal_micros(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 12 || frac.len() > 6 || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let mut v: i64 = int.parse().ok()?;
    for i in 0..6 {
        let d = frac.as_bytes().get(i).map_or(0, |b| (b - b'0') as i64);
        v = v * 10 + d;
    }
    Some(if neg { -v } else { v })
}

fn revenue(v: Value) -> Result<Option<Revenue>, Rejection> {
    let m = match v {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        _ => return Err(Rejection::BadRevenue),
    };
    let micros = match m.get("amount") {
        Some(Value::Number(n)) => decimal_micros(&n.to_string()),
        Some(Value::String(s)) => decimal_micros(s),
        _ => None,
    }
    .ok_or(Rejection::BadRevenue)?;
    let currency = match m.get("currency") {
        Some(Value::String(c)) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            c.to_ascii_uppercase()
        }
        _ => return Err(Rejection::BadRevenue),
    };
    Ok(Some(Revenue { micros, currency }))
}

fn engagement(sd: Option<Value>, e: Option<Value>) -> Result<Option<Engagement>, Rejection> {
    if sd.is_none() && e.is_none() {
        return Ok(None);
    }
    let scroll_depth = match sd {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|v| *v <= 100)
            .ok_or(Rejection::BadEngagement)? as u8,
        Some(_) => return Err(Rejection::BadEngagement),
    };
    let engaged_ms = match e {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or(Rejection::BadEngagement)?
            .min(u32::MAX as u64) as u32,
        Some(_) => return Err(Rejection::BadEngagement),
    };
    Ok(Some(Engagement {
        scroll_depth,
        engaged_ms,
    }))
}

/// The first of several aliases present in the object.
fn take(m: &mut Map<String, Value>, names: &[&str]) -> Value {
    let mut found = Value::Null;
    for n in names {
        if let Some(v) = m.remove(*n) {
            if found.is_null() {
                found = v;
            }
        }
    }
    found
}

/// The Events API fields: each slot's names, the first one preferred.
const FIELDS: [&[&str]; 12] = [
    &["n", "name"],
    &["u", "url"],
    &["d", "domain"],
    &["r", "referrer"],
    &["w", "screen_width"],
    &["p", "props", "m", "meta"],
    &["h", "hashMode", "hash"],
    &["i", "interactive"],
    &["$", "revenue"],
    &["sd"],
    &["e"],
    &["v"],
];

type Slots = [Option<(usize, Value)>; 12];

/// Reads a body's known fields straight into their slots (no map of every
/// field); an unknown field is skipped, its name logged at debug level.
struct Body;

impl<'de> serde::de::Visitor<'de> for Body {
    type Value = Slots;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Slots, A::Error> {
        let mut slots: Slots = Default::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let found = FIELDS
                .iter()
                .enumerate()
                .find_map(|(slot, names)| names.iter().position(|n| *n == key).map(|p| (slot, p)));
            let Some((slot, pref)) = found else {
                tracing::debug!(field = %key.chars().take(40).collect::<String>(), "ignored an unknown hit field");
                map.next_value::<serde::de::IgnoredAny>()?;
                continue;
            };
            let v: Value = map.next_value()?;
            // The first name present with a non-null value wins; a name
            // given twice keeps its last value.
            let keep = match &slots[slot] {
                None => true,
                Some((p, old)) => !v.is_null() && (old.is_null() || pref <= *p),
            };
            if keep {
                slots[slot] = Some((pref, v));
            }
        }
        Ok(slots)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Body {
    type Value = Slots;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Slots, D::Error> {
        d.deserialize_map(self)
    }
}

/// A beacon body: a JSON object of the Events API.
pub fn json(body: &[u8]) -> Result<Hit, Rejection> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut slots = Body.deserialize(&mut de).map_err(|_| Rejection::BadJson)?;
    de.end().map_err(|_| Rejection::BadJson)?;
    let mut take = |slot: usize| slots[slot].take().map_or(Value::Null, |(_, v)| v);
    let mut hit = Hit {
        name: name(take(0))?,
        url: string(take(1), Rejection::BadUrl)?,
        domain: string(take(2), Rejection::BadDomain)?,
        referrer: string(take(3), Rejection::BadReferrer)?,
        ..Hit::default()
    };
    hit.screen_width = match take(4) {
        Value::Null => None,
        Value::Number(n) => Some(n.as_u64().ok_or(Rejection::BadScreenWidth)?),
        _ => return Err(Rejection::BadScreenWidth),
    };
    hit.props = props(take(5))?;
    hit.hash_mode = match take(6) {
        Value::Null => false,
        v => flag(&v, Rejection::BadHashMode)?,
    };
    hit.non_interactive = match take(7) {
        Value::Null => false,
        Value::Bool(b) => !b,
        _ => return Err(Rejection::BadInteractive),
    };
    hit.revenue = revenue(take(8))?;
    let (sd, e) = (slots[9].take(), slots[10].take());
    hit.engagement = engagement(sd.map(|(_, v)| v), e.map(|(_, v)| v))?;
    Ok(hit)
}

/// The configured sites a hit names: `d` split at commas (one empty entry
/// when `d` is absent: the page's host decides).
pub fn domains(hit: &Hit) -> Result<Vec<Option<String>>, Rejection> {
    let Some(d) = hit.domain.as_deref() else {
        return Ok(vec![None]);
    };
    let list: Vec<Option<String>> = d
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Some(s.to_string()))
        .collect();
    match list.len() {
        0 => Ok(vec![None]),
        n if n > MAX_DOMAINS => Err(Rejection::BadDomain),
        _ => Ok(list),
    }
}

/// Umami's `POST /api/send` body: `{type, payload: {website, hostname,
/// url, referrer, title, screen, language, name, data}}`. Returns the
/// website id and the hit (its URL rebuilt from host and path, its domain
/// left for the caller to map from the website id); `None` for
/// `type: "identify"`, which tacit never stores (it keeps no identities).
pub fn umami(body: &[u8]) -> Result<Option<(String, Hit)>, Rejection> {
    let mut m = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        _ => return Err(Rejection::BadJson),
    };
    match m.remove("type") {
        Some(Value::String(t)) if t == "event" => {}
        Some(Value::String(t)) if t == "identify" => return Ok(None),
        _ => return Err(Rejection::BadJson),
    }
    let Some(Value::Object(mut p)) = m.remove("payload") else {
        return Err(Rejection::BadJson);
    };
    let website = string(take(&mut p, &["website"]), Rejection::UnknownSite)?
        .ok_or(Rejection::UnknownSite)?;
    let host =
        string(take(&mut p, &["hostname"]), Rejection::BadUrl)?.ok_or(Rejection::MissingUrl)?;
    let path = string(take(&mut p, &["url"]), Rejection::BadUrl)?.unwrap_or_else(|| "/".into());
    let url = if path.starts_with("http://") || path.starts_with("https://") {
        path
    } else {
        format!(
            "https://{host}{}{path}",
            if path.starts_with('/') { "" } else { "/" }
        )
    };
    let screen_width = match take(&mut p, &["screen"]) {
        Value::Null => None,
        Value::String(s) => s.split('x').next().and_then(|w| w.parse().ok()),
        _ => return Err(Rejection::BadScreenWidth),
    };
    let hit = Hit {
        name: Some(name(take(&mut p, &["name"]))?.unwrap_or_else(|| "pageview".into())),
        url: Some(url),
        referrer: string(take(&mut p, &["referrer"]), Rejection::BadReferrer)?
            .filter(|r| !r.is_empty()),
        screen_width,
        props: props(take(&mut p, &["data"]))?,
        ..Hit::default()
    };
    Ok(Some((website, hit)))
}

/// A pixel query string: `n, u, d, r, w, h` and `p` (props as a JSON object).
pub fn query(q: &str) -> Result<Hit, Rejection> {
    let mut hit = Hit::default();
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        match &*k {
            "n" | "name" => hit.name = Some(v.into_owned()),
            "u" | "url" => hit.url = Some(v.into_owned()),
            "d" | "domain" => hit.domain = Some(v.into_owned()),
            "r" | "referrer" => hit.referrer = Some(v.into_owned()),
            "w" | "screen_width" => {
                hit.screen_width = Some(v.parse().map_err(|_| Rejection::BadScreenWidth)?)
            }
            "h" => hit.hash_mode = matches!(&*v, "1" | "true"),
            "p" | "props" => hit.props = props(Value::String(v.into_owned()))?,
            _ => {} // cache busters and unknown keys are ignored
        }
    }
    Ok(hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_json_names_decode_alike() {
        let a = json(br#"{"n":"pageview","u":"https://e.com/a","d":"e.com","r":"https://g.com/","w":1280,"p":{"plan":"pro","n":3,"b":true}}"#).unwrap();
        let b = json(br#"{"name":"pageview","url":"https://e.com/a","domain":"e.com","referrer":"https://g.com/","screen_width":1280,"props":{"plan":"pro","n":3,"b":true}}"#).unwrap();
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(
            a.props,
            vec![
                ("b".into(), "true".into()),
                ("n".into(), "3".into()),
                ("plan".into(), "pro".into())
            ]
        );
    }

    #[test]
    fn the_plausible_tracker_payloads_decode() {
        // As @plausible-analytics/tracker 0.4.6 sends them.
        let pv =
            json(br#"{"n":"pageview","v":36,"u":"https://e.com/a","d":"e.com","r":null}"#).unwrap();
        assert_eq!((pv.name.as_deref(), pv.referrer), (Some("pageview"), None));
        let eng = json(br#"{"n":"engagement","sd":42,"d":"e.com","u":"https://e.com/a","p":{"x":"1"},"e":5120,"v":36,"h":1}"#).unwrap();
        assert_eq!(
            eng.engagement,
            Some(Engagement {
                scroll_depth: 42,
                engaged_ms: 5120
            })
        );
        assert!(eng.hash_mode);
        let rev = json(br#"{"n":"Purchase","u":"https://e.com/","d":"e.com","$":{"amount":10.5,"currency":"eur"},"i":false}"#).unwrap();
        assert_eq!(
            rev.revenue,
            Some(Revenue {
                micros: 10_500_000,
                currency: "EUR".into()
            })
        );
        assert!(rev.non_interactive);
        let four = json(br#"{"name":404,"url":"https://e.com/x","domain":"a.com,b.com","meta":"{\"path\":\"/x\"}","revenue":{"amount":"19.99","currency":"USD"},"interactive":true}"#).unwrap();
        assert_eq!(four.name.as_deref(), Some("404"));
        assert_eq!(four.props, vec![("path".into(), "/x".into())]);
        assert_eq!(four.revenue.as_ref().unwrap().micros, 19_990_000);
        assert!(!four.non_interactive);
        assert_eq!(domains(&four).unwrap().len(), 2);
        // Unknown fields are ignored, not refused.
        assert!(json(br#"{"n":"pageview","u":"https://e.com/","zzz":[1,2]}"#).is_ok());
    }

    #[test]
    fn wrong_types_name_their_field() {
        let cases: &[(&[u8], Rejection)] = &[
            (b"{", Rejection::BadJson),
            (b"[]", Rejection::BadJson),
            (br#"{"n":1.5}"#, Rejection::BadName),
            (br#"{"n":["a"]}"#, Rejection::BadName),
            (br#"{"n":"a","u":3}"#, Rejection::BadUrl),
            (br#"{"n":"a","d":["e.com"]}"#, Rejection::BadDomain),
            (br#"{"n":"a","r":5}"#, Rejection::BadReferrer),
            (br#"{"n":"a","w":-3}"#, Rejection::BadScreenWidth),
            (br#"{"n":"a","w":"wide"}"#, Rejection::BadScreenWidth),
            (br#"{"n":"a","p":{"a":[1]}}"#, Rejection::BadProps),
            (br#"{"n":"a","p":"not json"}"#, Rejection::BadProps),
            (br#"{"n":"a","p":7}"#, Rejection::BadProps),
            (br#"{"n":"a","h":"yes"}"#, Rejection::BadHashMode),
            (br#"{"n":"a","i":"no"}"#, Rejection::BadInteractive),
            (br#"{"n":"a","$":10}"#, Rejection::BadRevenue),
            (
                br#"{"n":"a","$":{"amount":"ten","currency":"EUR"}}"#,
                Rejection::BadRevenue,
            ),
            (
                br#"{"n":"a","$":{"amount":1.1234567,"currency":"EUR"}}"#,
                Rejection::BadRevenue,
            ),
            (
                br#"{"n":"a","$":{"amount":1,"currency":"EURO"}}"#,
                Rejection::BadRevenue,
            ),
            (br#"{"n":"a","$":{"amount":1}}"#, Rejection::BadRevenue),
            (br#"{"n":"a","sd":101}"#, Rejection::BadEngagement),
            (br#"{"n":"a","e":-1}"#, Rejection::BadEngagement),
            (br#"{"n":"a","e":"long"}"#, Rejection::BadEngagement),
        ];
        for (body, want) in cases {
            assert_eq!(
                json(body).unwrap_err(),
                *want,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let many = format!(r#"{{"n":"a","d":"{}"}}"#, ["e.com"; 11].join(","));
        assert_eq!(
            domains(&json(many.as_bytes()).unwrap()).unwrap_err(),
            Rejection::BadDomain
        );
        // Each message names its field.
        assert!(Rejection::BadRevenue.message().contains("($)"));
        assert!(Rejection::BadEngagement.message().contains("(sd)"));
    }

    #[test]
    fn umami_payloads_decode() {
        let (w, h) = umami(br#"{"type":"event","payload":{"website":"4fb7fa4c-5b46-438d-94b3-3a8fb9bc2e8b","hostname":"example.com","screen":"1280x720","language":"en-US","title":"Shop","url":"/pricing?x=1","referrer":"https://google.com/","name":"Signup","data":{"plan":"pro","seats":3}}}"#).unwrap().unwrap();
        assert_eq!(w, "4fb7fa4c-5b46-438d-94b3-3a8fb9bc2e8b");
        assert_eq!(h.url.as_deref(), Some("https://example.com/pricing?x=1"));
        assert_eq!(h.name.as_deref(), Some("Signup"));
        assert_eq!(h.screen_width, Some(1280));
        assert_eq!(h.props.len(), 2);
        let (_, pv) = umami(br#"{"type":"event","payload":{"website":"w","hostname":"example.com","url":"/","referrer":""}}"#).unwrap().unwrap();
        assert_eq!((pv.name.as_deref(), pv.referrer), (Some("pageview"), None));
        assert!(umami(
            br#"{"type":"identify","payload":{"website":"w","data":{"email":"a@b.c"}}}"#
        )
        .unwrap()
        .is_none());
        assert_eq!(
            umami(br#"{"type":"event"}"#).unwrap_err(),
            Rejection::BadJson
        );
        assert_eq!(
            umami(br#"{"type":"event","payload":{"hostname":"e.com"}}"#).unwrap_err(),
            Rejection::UnknownSite
        );
        assert_eq!(
            umami(br#"{"type":"event","payload":{"website":"w","hostname":"e.com","data":[1]}}"#)
                .unwrap_err(),
            Rejection::BadProps
        );
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal_micros("10"), Some(10_000_000));
        assert_eq!(decimal_micros("0.000001"), Some(1));
        assert_eq!(decimal_micros("-2.5"), Some(-2_500_000));
        assert_eq!(decimal_micros("1e3"), None);
        assert_eq!(decimal_micros("1.0000001"), None);
        assert_eq!(decimal_micros(""), None);
    }

    #[test]
    fn pixel_query_decodes() {
        let h = query("n=pageview&u=https%3A%2F%2Fe.com%2Fx%3Fa%3D1&d=e.com&w=390&p=%7B%22k%22%3A%22v%22%7D&h=1&_=123").unwrap();
        assert_eq!(h.name.as_deref(), Some("pageview"));
        assert_eq!(h.url.as_deref(), Some("https://e.com/x?a=1"));
        assert_eq!(h.screen_width, Some(390));
        assert_eq!(h.props, vec![("k".into(), "v".into())]);
        assert!(h.hash_mode);
        assert_eq!(query("w=abc").unwrap_err(), Rejection::BadScreenWidth);
    }
}
