//! What the pipeline reads from request headers other than identity
//! ([`meta`]): language, prefetch, consent signals and the opt-out cookie.

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
    }
}
