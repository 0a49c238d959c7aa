//! What the pipeline reads from request headers other than identity
//! ([`meta`]): language, prefetch, consent signals, the opt-out cookie and
//! the `Sec-CH-UA-Mobile` client hint;
//! and the forwarding chain a trusted proxy reports ([`forwarded_chain`]).

use hyper::header::{self, HeaderMap};

use crate::model::RequestMeta;

/// A header's value, if present and visible ASCII.
pub fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The only cookie tacit sets: the visitor's opt-out.
pub const OPT_OUT_COOKIE: &str = "tacit_optout";

fn has_opt_out_cookie(h: &HeaderMap) -> bool {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(';').any(|c| {
                c.trim()
                    .split_once('=')
                    .is_some_and(|(k, v)| k.trim() == OPT_OUT_COOKIE && v.trim() == "1")
            })
        })
}

/// Request facts the pipeline reads from headers.
pub fn meta(h: &HeaderMap) -> RequestMeta {
    let is_prefetch =
        |n: &str| header_str(h, n).is_some_and(|v| v.to_ascii_lowercase().contains("prefetch"));
    let is_one = |n: &str| header_str(h, n).is_some_and(|v| v.trim() == "1");
    RequestMeta {
        accept_language: header_str(h, "accept-language").map(str::to_string),
        prefetch: is_prefetch("purpose") || is_prefetch("sec-purpose") || is_prefetch("x-moz"),
        dnt: is_one("dnt"),
        gpc: is_one("sec-gpc"),
        opted_out: has_opt_out_cookie(h),
        ch_mobile: header_str(h, "sec-ch-ua-mobile")
            .and_then(crate::model::device::parse_ch_mobile),
    }
}

/// The forwarding chain as comma-separated hops, client first: the
/// configured client-IP header (e.g. `CF-Connecting-IP`) if set and sent;
/// else every `Forwarded` line's `for=` values (RFC 7239); else every
/// `X-Forwarded-For` line, joined in order (a proxy that appends its own
/// line, as HAProxy does, must not leave a forged first line in charge).
/// Only believed when the peer is a trusted proxy (`privacy::ip`).
pub fn forwarded_chain(h: &HeaderMap, client_header: Option<&str>) -> Option<String> {
    if let Some(v) = client_header.and_then(|n| header_str(h, n)) {
        return Some(v.to_string());
    }
    let lines = |name| {
        h.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
    };
    let fwd = lines(header::FORWARDED);
    if !fwd.is_empty() {
        let hops: Vec<&str> = fwd
            .split(',')
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .map_or("unknown", |(_, v)| v.trim())
            })
            .collect();
        return Some(hops.join(","));
    }
    let xff = lines(header::HeaderName::from_static("x-forwarded-for"));
    (!xff.is_empty()).then_some(xff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn each_proxy_style_yields_the_whole_chain() {
        // nginx: one X-Forwarded-For line, appended to.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, 10.0.0.2")]);
        assert_eq!(
            forwarded_chain(&h, None).as_deref(),
            Some("198.51.100.7, 10.0.0.2")
        );
        // HAProxy `option forwardfor`: its own line after the client's (forged) one.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(
            forwarded_chain(&h, None).as_deref(),
            Some("6.6.6.6,198.51.100.7")
        );
        // Envoy / RFC 7239 Forwarded, with ports, quotes and an obfuscated hop.
        let h = headers(&[
            (
                "forwarded",
                "for=192.0.2.60:4711;proto=https, for=\"[2001:db8::1]:443\"",
            ),
            ("forwarded", "for=_hidden"),
        ]);
        assert_eq!(
            forwarded_chain(&h, None).as_deref(),
            Some("192.0.2.60:4711,\"[2001:db8::1]:443\",_hidden")
        );
        // Cloudflare: believed only when configured.
        let h = headers(&[
            ("cf-connecting-ip", "203.0.113.5"),
            ("x-forwarded-for", "1.2.3.4"),
        ]);
        assert_eq!(
            forwarded_chain(&h, Some("cf-connecting-ip")).as_deref(),
            Some("203.0.113.5")
        );
        assert_eq!(forwarded_chain(&h, None).as_deref(), Some("1.2.3.4"));
        assert_eq!(forwarded_chain(&HeaderMap::new(), None), None);
    }
}
