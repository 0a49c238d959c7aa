//! HTTP in: the pixel (`GET /p.gif`), the beacon (`POST /api/event`, with
//! CORS preflight), the email beacons ([`email`]) and their answers. Decodes requests into hits, runs the
//! ingest pipeline, hands events to the sink, and maps every refusal to a
//! status with a one-line reason. Nothing here logs request contents.

pub mod decode;
pub mod email;
pub mod script;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};

use crate::http::request::{forwarded_chain, header_str, meta, OPT_OUT_COOKIE};
use crate::http::resp::{self, text, Resp};
use crate::ingest::{Hit, Outcome, Pipeline, Rejection};
use crate::privacy::RawIdentity;
use crate::sink::{SinkError, SinkHandle};
use crate::telemetry::metrics::Metrics;

/// A 1×1 transparent GIF (43 bytes).
pub const GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x21, 0xF9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B,
];

pub struct BeaconState {
    pub pipeline: Pipeline,
    pub sink: SinkHandle,
    pub metrics: Arc<Metrics>,
    pub max_body: usize,
    /// A body must arrive within this long.
    pub body_timeout: std::time::Duration,
}

fn reject(state: &BeaconState, r: Rejection) -> Resp {
    state.metrics.hits_rejected.inc(r);
    let mut resp = text(
        StatusCode::from_u16(r.status()).expect("valid status"),
        r.message(),
    );
    if r == Rejection::MethodNotAllowed {
        resp.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
    }
    resp
}

fn cors(state: &BeaconState, h: &HeaderMap, resp: &mut Resp) {
    if let Some(origin) = header_str(h, "origin") {
        if state.pipeline.sites.allows_origin(origin) {
            let hs = resp.headers_mut();
            if let Ok(v) = HeaderValue::from_str(origin) {
                hs.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                hs.insert(header::VARY, HeaderValue::from_static("Origin"));
            }
        }
    }
}

/// Route one request.
pub async fn handle(state: Arc<BeaconState>, peer: SocketAddr, req: Request<Incoming>) -> Resp {
    let path = req.uri().path();
    match (req.method(), path) {
        (&Method::GET | &Method::HEAD, "/p.gif") => pixel(&state, peer, req).await,
        (&Method::POST, "/api/event") => beacon(&state, peer, req).await,
        (&Method::GET | &Method::HEAD, "/e/o.gif") => {
            email::handle(&state, peer, req, crate::model::email::EmailKind::Open).await
        }
        (&Method::GET, "/e/c") => {
            email::handle(&state, peer, req, crate::model::email::EmailKind::Click).await
        }
        (&Method::POST, "/api/send") => umami(&state, peer, req).await,
        (&Method::OPTIONS, "/api/event" | "/api/send") => preflight(&state, req.headers()),
        (&Method::GET | &Method::HEAD, p) if p.starts_with("/js/tacit") => {
            script::serve(p, req.headers())
                .unwrap_or_else(|| text(StatusCode::NOT_FOUND, "not found"))
        }
        (&Method::GET, "/opt-out") if state.pipeline.policy.opt_out => opt_out(req.headers(), true),
        (&Method::GET, "/opt-in") if state.pipeline.policy.opt_out => opt_out(req.headers(), false),
        (_, "/p.gif" | "/api/event" | "/api/send" | "/e/o.gif" | "/e/c") => {
            reject(&state, Rejection::MethodNotAllowed)
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

/// Whether a request may change the visitor's opt-out choice: the visitor
/// opened the link (a top-level navigation, or typed it), or the request is
/// same-origin. An `<img>` or a script on another site may not, whichever
/// way (`Sec-Fetch-*`, which browsers set and pages cannot). A client that
/// sends no `Sec-Fetch-*` at all (curl, very old browsers) is let through.
pub fn may_change_choice(h: &HeaderMap) -> bool {
    let (site, mode, dest) = (
        header_str(h, "sec-fetch-site"),
        header_str(h, "sec-fetch-mode"),
        header_str(h, "sec-fetch-dest"),
    );
    matches!(
        (site, mode, dest),
        (None, None, None)
            | (Some("same-origin" | "none"), _, _)
            | (_, Some("navigate"), Some("document"))
    )
}

/// `GET /opt-out` sets the opt-out cookie (for five years); `GET /opt-in`
/// removes it; only when [`may_change_choice`]. `SameSite=None; Secure`
/// when served over https (behind a proxy that says so), so the cookie
/// travels with cross-site beacons when tacit has its own domain.
fn opt_out(h: &HeaderMap, out: bool) -> Resp {
    if !may_change_choice(h) {
        return text(
            StatusCode::FORBIDDEN,
            "open this link directly to change your choice",
        );
    }
    let https = header_str(h, "x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let attrs = if https {
        "Path=/; HttpOnly; SameSite=None; Secure"
    } else {
        "Path=/; HttpOnly; SameSite=Lax"
    };
    let (cookie, msg) = if out {
        (
            format!("{OPT_OUT_COOKIE}=1; Max-Age=157680000; {attrs}"),
            "You are opted out: hits from this browser are no longer recorded.",
        )
    } else {
        (
            format!("{OPT_OUT_COOKIE}=; Max-Age=0; {attrs}"),
            "The opt-out is removed.",
        )
    };
    let mut r = text(StatusCode::OK, msg);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

fn preflight(state: &BeaconState, h: &HeaderMap) -> Resp {
    let allowed = header_str(h, "origin").is_some_and(|o| state.pipeline.sites.allows_origin(o));
    if !allowed {
        return text(StatusCode::FORBIDDEN, "origin is not a configured site");
    }
    let mut r = resp::empty(StatusCode::NO_CONTENT);
    cors(state, h, &mut r);
    let hs = r.headers_mut();
    hs.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, GET, OPTIONS"),
    );
    hs.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        // Umami's tracker sends back the body of the last answer in
        // `x-umami-cache`.
        HeaderValue::from_static("Content-Type, x-umami-cache"),
    );
    hs.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}

async fn pixel(state: &BeaconState, peer: SocketAddr, req: Request<Incoming>) -> Resp {
    let mut hit = match decode::query(req.uri().query().unwrap_or("")) {
        Ok(h) => h,
        Err(r) => return reject(state, r),
    };
    if hit.url.is_none() {
        // The snippet's <noscript> pixel: its page is the Referer.
        hit.url = header_str(req.headers(), "referer").map(str::to_string);
    }
    match accept(state, peer, req.headers(), hit).await {
        Ok(()) => resp::body(StatusCode::OK, "image/gif", Bytes::from_static(&GIF)),
        Err(resp) => resp,
    }
}

/// `POST /api/event`. Every answer, refusals included, carries the CORS
/// headers: a browser shows a script a refusal only if it may read it.
async fn beacon(state: &BeaconState, peer: SocketAddr, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    let mut resp = beacon_body(state, peer, &parts.headers, body).await;
    cors(state, &parts.headers, &mut resp);
    resp
}

/// Read a beacon body within the size limit, with an accepted content type.
async fn read_body(
    state: &BeaconState,
    headers: &HeaderMap,
    body: Incoming,
) -> Result<Bytes, Resp> {
    let ctype = header_str(headers, "content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let mime = ctype.split(';').next().unwrap_or("").trim();
    if !matches!(mime, "" | "application/json" | "text/plain") {
        return Err(reject(state, Rejection::BadContentType));
    }
    let declared = header_str(headers, "content-length").and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body as u64) {
        return Err(reject(state, Rejection::BodyTooLarge));
    }
    let collect = tokio::time::timeout(
        state.body_timeout,
        Limited::new(body, state.max_body).collect(),
    );
    let Ok(collected) = collect.await else {
        return Err(reject(state, Rejection::BodyTimeout));
    };
    match collected {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(reject(state, Rejection::BodyTooLarge))
        }
        Err(_) => Err(text(StatusCode::BAD_REQUEST, "could not read body")),
    }
}

async fn beacon_body(
    state: &BeaconState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Incoming,
) -> Resp {
    let bytes = match read_body(state, headers, body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let hit = match decode::json(&bytes) {
        Ok(h) => h,
        Err(r) => return reject(state, r),
    };
    match accept(state, peer, headers, hit).await {
        Ok(()) => text(StatusCode::ACCEPTED, "ok"),
        Err(resp) => resp,
    }
}

/// `POST /api/send`: Umami's collect endpoint. The answer's body is a
/// plain token (`ok`), which Umami's tracker echoes in `x-umami-cache`.
async fn umami(state: &BeaconState, peer: SocketAddr, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    let mut resp = match read_body(state, &parts.headers, body).await {
        Err(resp) => resp,
        Ok(bytes) => match decode::umami(&bytes) {
            Err(r) => reject(state, r),
            Ok(None) => resp::body(StatusCode::OK, "text/plain; charset=utf-8", "ok"),
            Ok(Some((website, mut hit))) => match state.pipeline.sites.by_umami_id(&website) {
                None => reject(state, Rejection::UnknownSite),
                Some(domain) => {
                    hit.domain = Some(domain.to_string());
                    match accept(state, peer, &parts.headers, hit).await {
                        Ok(()) => resp::body(StatusCode::OK, "text/plain; charset=utf-8", "ok"),
                        Err(resp) => resp,
                    }
                }
            },
        },
    };
    cors(state, &parts.headers, &mut resp);
    resp
}

/// Run the pipeline (once per site the hit names) and log the events.
/// `Err` carries the response to send.
async fn accept(
    state: &BeaconState,
    peer: SocketAddr,
    h: &HeaderMap,
    hit: Hit,
) -> Result<(), Resp> {
    let domains = decode::domains(&hit).map_err(|r| reject(state, r))?;
    let mut events = Vec::with_capacity(domains.len());
    let mut refused = None;
    let chain = forwarded_chain(h, state.pipeline.client_ip_header.as_deref());
    let request = meta(h);
    let last = domains.len() - 1;
    let mut hit = Some(hit);
    for (i, domain) in domains.into_iter().enumerate() {
        let identity = RawIdentity::new(
            peer.ip(),
            chain.as_deref(),
            &state.pipeline.trusted_proxies,
            header_str(h, "user-agent").unwrap_or(""),
        );
        // Copied only for a hit naming several sites; the last one moves.
        let base = if i == last {
            hit.take().expect("one hit per site")
        } else {
            hit.clone().expect("one hit per site")
        };
        let one = Hit { domain, ..base };
        match state.pipeline.process(one, &request, identity) {
            Err(r) => refused = refused.or(Some(r)),
            Ok(Outcome::Drop { site, reason }) => dropped(state, site, reason),
            Ok(Outcome::Store(ev)) => events.push(ev),
        }
    }
    if let Some(r) = refused.filter(|_| events.is_empty()) {
        return Err(reject(state, r));
    }
    for ev in &events {
        state.sink.submit(ev).await.map_err(unavailable)?;
        Metrics::inc(&state.metrics.hits_accepted);
    }
    Ok(())
}

/// Count a hit tacit chose not to store: in the metrics, and per site and
/// day for `dropped_hits`.
fn dropped(state: &BeaconState, site: &'static str, reason: crate::model::DropReason) {
    state.metrics.hits_dropped.inc(reason);
    let day = crate::model::clock::day_of(state.pipeline.clock.now_ms());
    state.sink.count_drop(day, site, reason);
}

/// The answer when the log refuses a row.
fn unavailable(e: SinkError) -> Resp {
    let busy = |msg| {
        resp::with(
            text(StatusCode::SERVICE_UNAVAILABLE, msg),
            header::RETRY_AFTER,
            "1",
        )
    };
    match e {
        SinkError::Full => busy("log full, retry later"),
        SinkError::WriteFailed => busy("cannot store the hit now (disk)"),
        _ => text(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn only_the_visitor_changes_the_opt_out() {
        // Typed or clicked: a top-level navigation, from anywhere.
        assert!(may_change_choice(&h(&[
            ("sec-fetch-site", "none"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "document")
        ])));
        assert!(may_change_choice(&h(&[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "document")
        ])));
        assert!(may_change_choice(&h(&[
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-mode", "cors"),
            ("sec-fetch-dest", "empty")
        ])));
        // An <img> or fetch from another site, or a cross-site iframe.
        assert!(!may_change_choice(&h(&[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "no-cors"),
            ("sec-fetch-dest", "image")
        ])));
        assert!(!may_change_choice(&h(&[
            ("sec-fetch-site", "same-site"),
            ("sec-fetch-mode", "cors"),
            ("sec-fetch-dest", "empty")
        ])));
        assert!(!may_change_choice(&h(&[
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "iframe")
        ])));
        // curl says nothing.
        assert!(may_change_choice(&HeaderMap::new()));
    }
}
