//! tacit's own tracker (`tracker/tacit.js`, minified by
//! `scripts/build-tracker` into `tracker/tacit.min.js`, embedded at build
//! time), served at `/js/tacit.js` (revalidated, with an ETag) and at a
//! versioned name, `/js/tacit.<version>.js`, cached for a year. The
//! snippet (`tacit snippet`) points at the versioned name with a
//! subresource-integrity hash.

use std::sync::LazyLock;

use base64::Engine;
use hyper::header::{self, HeaderMap};
use hyper::StatusCode;
use sha2::{Digest, Sha256, Sha384};

use crate::http::resp::{self, Resp};

/// The minified tracker.
pub const SCRIPT: &str = include_str!("../../tracker/tacit.min.js");

/// The first 12 hex digits of the script's SHA-256.
pub static VERSION: LazyLock<String> =
    LazyLock::new(|| hex::encode(Sha256::digest(SCRIPT.as_bytes()))[..12].to_string());

/// `/js/tacit.<version>.js`.
pub fn versioned_path() -> String {
    format!("/js/tacit.{}.js", *VERSION)
}

/// The `integrity` attribute: `sha384-` and the base64 digest.
pub fn integrity() -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(SCRIPT.as_bytes()))
    )
}

/// The script, if `path` names it.
pub fn serve(path: &str, headers: &HeaderMap) -> Option<Resp> {
    let cache = if path == "/js/tacit.js" {
        "public, max-age=3600, must-revalidate"
    } else if path == versioned_path() {
        "public, max-age=31536000, immutable"
    } else {
        return None;
    };
    let etag = format!("\"{}\"", *VERSION);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut r = if fresh {
        resp::empty(StatusCode::NOT_MODIFIED)
    } else {
        resp::body(StatusCode::OK, "text/javascript; charset=utf-8", SCRIPT)
    };
    let h = r.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(cache),
    );
    if let Ok(v) = header::HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    Some(r)
}

/// The HTML a site owner pastes: the script with its integrity hash, and
/// a pixel for browsers without JavaScript (its page is the `Referer`).
pub fn snippet(base: &str, site: &str) -> String {
    let base = base.trim_end_matches('/');
    format!(
        "<script defer src=\"{base}{path}\" integrity=\"{sri}\" crossorigin=\"anonymous\" data-domain=\"{site}\"></script>\n\
         <noscript><img src=\"{base}/p.gif?n=pageview&amp;d={site}\" referrerpolicy=\"no-referrer-when-downgrade\" width=\"1\" height=\"1\" alt=\"\"></noscript>\n",
        path = versioned_path(),
        sri = integrity(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_with_etag_and_cache_lifetimes() {
        let r = serve("/js/tacit.js", &HeaderMap::new()).unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("must-revalidate"));
        let etag = r.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(
            serve("/js/tacit.js", &h).unwrap().status(),
            StatusCode::NOT_MODIFIED
        );
        let v = serve(&versioned_path(), &HeaderMap::new()).unwrap();
        assert!(v.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable"));
        assert!(serve("/js/tacit.000000000000.js", &HeaderMap::new()).is_none());
        let s = snippet("https://stats.example.com/", "example.com");
        assert!(s.contains(&versioned_path()) && s.contains("sha384-") && s.contains("<noscript>"));
    }
}
