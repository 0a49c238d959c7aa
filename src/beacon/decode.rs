//! Request decoding: the pixel's query string and the beacon's JSON body
//! (short names `n u d r w p` or long names) into an [`ingest::Hit`].

use serde::Deserialize;

use crate::ingest::{Hit, Rejection};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonHit {
    #[serde(alias = "name")]
    n: Option<String>,
    #[serde(alias = "url")]
    u: Option<String>,
    #[serde(alias = "domain")]
    d: Option<String>,
    #[serde(alias = "referrer")]
    r: Option<String>,
    #[serde(alias = "screen_width")]
    w: Option<u64>,
    #[serde(alias = "props")]
    p: Option<serde_json::Map<String, serde_json::Value>>,
    /// Hash-routing flag some scripts send; accepted and ignored: hash routing
    /// is a per-site setting (`[[sites]] hash_routing`).
    #[serde(default, alias = "hash")]
    #[allow(dead_code)]
    h: Option<serde_json::Value>,
}

fn prop_value(v: serde_json::Value) -> Result<String, Rejection> {
    match v {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        _ => Err(Rejection::BadProps),
    }
}

fn props(
    p: Option<serde_json::Map<String, serde_json::Value>>,
) -> Result<Vec<(String, String)>, Rejection> {
    let Some(map) = p else { return Ok(vec![]) };
    if map.len() > crate::ingest::steps::MAX_PROPS {
        return Err(Rejection::BadProps);
    }
    map.into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| Ok((k, prop_value(v)?)))
        .collect()
}

/// A beacon body: a JSON object.
pub fn json(body: &[u8]) -> Result<Hit, Rejection> {
    let j: JsonHit = serde_json::from_slice(body).map_err(|_| Rejection::BadJson)?;
    Ok(Hit {
        name: j.n,
        url: j.u,
        domain: j.d,
        referrer: j.r,
        screen_width: j.w,
        props: props(j.p)?,
    })
}

/// A pixel query string: `n, u, d, r, w` and `p` (props as a JSON object).
pub fn query(q: &str) -> Result<Hit, Rejection> {
    let mut hit = Hit::default();
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        match &*k {
            "n" | "name" => hit.name = Some(v.into_owned()),
            "u" | "url" => hit.url = Some(v.into_owned()),
            "d" | "domain" => hit.domain = Some(v.into_owned()),
            "r" | "referrer" => hit.referrer = Some(v.into_owned()),
            "w" | "screen_width" => {
                hit.screen_width = Some(v.parse().map_err(|_| Rejection::BadQuery)?)
            }
            "p" | "props" => {
                let m: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&v).map_err(|_| Rejection::BadProps)?;
                hit.props = props(Some(m))?;
            }
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
    fn bad_json_is_rejected() {
        assert_eq!(json(b"{").unwrap_err(), Rejection::BadJson);
        assert_eq!(json(b"[]").unwrap_err(), Rejection::BadJson);
        assert_eq!(json(br#"{"n":1}"#).unwrap_err(), Rejection::BadJson);
        assert_eq!(json(br#"{"zzz":1}"#).unwrap_err(), Rejection::BadJson);
        assert_eq!(
            json(br#"{"p":{"a":[1]}}"#).unwrap_err(),
            Rejection::BadProps
        );
    }

    #[test]
    fn pixel_query_decodes() {
        let h = query("n=pageview&u=https%3A%2F%2Fe.com%2Fx%3Fa%3D1&d=e.com&w=390&p=%7B%22k%22%3A%22v%22%7D&_=123").unwrap();
        assert_eq!(h.name.as_deref(), Some("pageview"));
        assert_eq!(h.url.as_deref(), Some("https://e.com/x?a=1"));
        assert_eq!(h.screen_width, Some(390));
        assert_eq!(h.props, vec![("k".into(), "v".into())]);
        assert_eq!(query("w=abc").unwrap_err(), Rejection::BadQuery);
    }
}
