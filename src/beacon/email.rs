//! The email beacons: `GET /e/o.gif` (an open: the same 1×1 GIF as the
//! page pixel) and `GET /e/c` (a click: `302` to the signed target). A
//! click is redirected even when it is not counted (opted out, consent
//! signal, log full): the reader asked for the page. A refused link
//! (unsigned, tampered, not http) answers `400` and redirects nowhere, so
//! tacit is never an open redirect.

use std::net::SocketAddr;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};

use super::{dropped, reject, unavailable, BeaconState, GIF};
use crate::http::request::{forwarded_chain, header_str, meta};
use crate::http::resp::{self, text, Resp};
use crate::ingest::email::EmailOutcome;
use crate::model::email::{EmailHit, EmailKind};
use crate::model::Rejection;
use crate::privacy::RawIdentity;
use crate::telemetry::metrics::Metrics;

/// `GET /e/o.gif` or `GET /e/c`.
pub async fn handle(
    state: &BeaconState,
    peer: SocketAddr,
    req: Request<Incoming>,
    kind: EmailKind,
) -> Resp {
    let hit = match email_query(req.uri().query().unwrap_or("")) {
        Ok(h) => h,
        Err(r) => return reject(state, r),
    };
    let h = req.headers();
    let chain = forwarded_chain(h, state.pipeline.client_ip_header.as_deref());
    let identity = RawIdentity::new(
        peer.ip(),
        chain.as_deref(),
        &state.pipeline.trusted_proxies,
        header_str(h, "user-agent").unwrap_or(""),
    );
    let accepted = match state.pipeline.process_email(kind, hit, &meta(h), identity) {
        Ok(a) => a,
        Err(r) => return reject(state, r),
    };
    let stored = match accepted.outcome {
        EmailOutcome::Drop { site, reason } => {
            dropped(state, site, reason);
            Ok(())
        }
        EmailOutcome::Store(ev) => state.sink.submit(&ev).await.map(|()| {
            Metrics::inc(&state.metrics.hits_accepted);
            state.metrics.email_events.inc(ev.class());
        }),
    };
    match (accepted.redirect, stored) {
        (Some(to), stored) => {
            if stored.is_err() {
                Metrics::inc(&state.metrics.email_clicks_unlogged);
            }
            redirect(&to)
        }
        (None, Ok(())) => resp::body(StatusCode::OK, "image/gif", Bytes::from_static(&GIF)),
        (None, Err(e)) => unavailable(e),
    }
}

/// An email beacon's query: only the campaign (`c`), site (`s`), variant
/// (`v`), target (`to`) and signature (`sig`) are read; any other
/// parameter (a recipient's address or id among them) is ignored, never
/// stored. A parameter given twice is refused.
pub fn email_query(q: &str) -> Result<EmailHit, Rejection> {
    let mut hit = EmailHit::default();
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        let slot = match &*k {
            "c" => &mut hit.campaign,
            "s" => &mut hit.site,
            "v" => &mut hit.variant,
            "to" => &mut hit.to,
            "sig" => &mut hit.sig,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return Err(Rejection::BadQuery);
        }
    }
    Ok(hit)
}

fn redirect(to: &str) -> Resp {
    let mut r = resp::empty(StatusCode::FOUND);
    match HeaderValue::from_str(to) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        // A parsed URL is ASCII; this cannot happen, and is never a redirect.
        Err(_) => text(StatusCode::BAD_REQUEST, "link target is not a valid URL"),
    }
}

/// Why `tacit email-link` cannot make a link.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmailLinkError {
    #[error("campaign and variant must be 1-64 letters, digits, '.', '_' or '-'")]
    BadLabel,
    #[error("the target must be an absolute http(s) URL")]
    BadTarget,
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The open pixel and the signed click link for one target of a campaign,
/// as `tacit email-link` prints them. `base` is tacit's public address.
pub fn links(
    base: &str,
    site: &str,
    key: &[u8],
    campaign: &str,
    variant: &str,
    to: &str,
) -> Result<(String, String), EmailLinkError> {
    use crate::model::email::valid_label;
    if !valid_label(campaign) || !(variant.is_empty() || valid_label(variant)) {
        return Err(EmailLinkError::BadLabel);
    }
    if crate::ingest::steps::parse_url(Some(to)).is_err() || to.trim() != to {
        return Err(EmailLinkError::BadTarget);
    }
    let base = base.trim_end_matches('/');
    let v = if variant.is_empty() {
        String::new()
    } else {
        format!("&v={}", enc(variant))
    };
    let common = format!("c={}&s={}{v}", enc(campaign), enc(site));
    let sig = crate::privacy::email::sign(key, site, campaign, variant, to);
    Ok((
        format!("{base}/e/o.gif?{common}"),
        format!("{base}/e/c?{common}&to={}&sig={sig}", enc(to)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_queries_keep_only_their_own_parameters() {
        let h = email_query("c=spring&s=example.com&email=a%40b.example&uid=42&to=https%3A%2F%2Fexample.com%2Fx%3Fa%3D1&sig=ab").unwrap();
        assert_eq!(h.campaign.as_deref(), Some("spring"));
        assert_eq!(h.to.as_deref(), Some("https://example.com/x?a=1"));
        assert!(!format!("{h:?}").contains("b.example"));
        assert!(!format!("{h:?}").contains("42"));
        assert_eq!(email_query("c=a&c=b"), Err(Rejection::BadQuery));
    }

    #[test]
    fn links_round_trip_through_the_decoder_and_verify() {
        let key = [9u8; 32];
        let (open, click) = links(
            "https://t.example/",
            "example.com",
            &key,
            "spring",
            "b",
            "https://example.com/sale?x=1&y=é",
        )
        .unwrap();
        assert_eq!(open, "https://t.example/e/o.gif?c=spring&s=example.com&v=b");
        let q = click.split_once('?').unwrap().1;
        let h = email_query(q).unwrap();
        let to = h.to.unwrap();
        assert_eq!(to, "https://example.com/sale?x=1&y=é");
        let sig = h.sig.unwrap();
        use crate::privacy::email::verify;
        assert!(verify(&key, "example.com", "spring", "b", &to, &sig));
        // Any change to what is signed breaks it.
        assert!(!verify(&key, "example.com", "spring", "", &to, &sig));
        assert!(!verify(
            &key,
            "example.com",
            "spring",
            "b",
            "https://evil.example/",
            &sig
        ));
        assert!(!verify(&[8u8; 32], "example.com", "spring", "b", &to, &sig));
        assert_eq!(
            links("x", "s", &key, "a@b", "", "https://e.com/"),
            Err(EmailLinkError::BadLabel)
        );
        assert_eq!(
            links("x", "s", &key, "a", "", "javascript:alert(1)"),
            Err(EmailLinkError::BadTarget)
        );
    }
}
