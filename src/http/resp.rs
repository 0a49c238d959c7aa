//! The one place responses are built. Every answer tacit gives is
//! `no-store`: hits, health, metrics, dashboards and exports are never cached.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

/// The response type of every handler.
pub type Resp = Response<Full<Bytes>>;

/// A response with a body, its content type and `Cache-Control: no-store`.
pub fn body(status: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A one-line plain-text answer (`msg` and a newline).
pub fn text(status: StatusCode, msg: &str) -> Resp {
    body(status, "text/plain; charset=utf-8", format!("{msg}\n"))
}

/// An empty answer.
pub fn empty(status: StatusCode) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// Add a static header.
pub fn with(mut r: Resp, name: HeaderName, value: &'static str) -> Resp {
    r.headers_mut()
        .insert(name, HeaderValue::from_static(value));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_one_line_and_not_cached() {
        let r = text(StatusCode::NOT_FOUND, "not found");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
    }
}
