//! The partner API on the admin listener:
//! `GET /v1/exports/{partner}?period=2026-11[&export=name]` with
//! `Authorization: Bearer <token>`. Tokens are configured as SHA-256
//! hashes and compared in constant time; a token opens only its partner's
//! exports (another partner's is 404, like one that does not exist; a bad
//! token is 401); each token has a token-bucket rate limit. Every answer
//! with a file is a release, recorded in the ledger first.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use bytes::Bytes;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::exports::ExportSpec;
use crate::export::{self, release, ExportError, ReleaseChannel};
use crate::http::resp::{self, Resp};
use crate::model::clock::SharedClock;
use crate::store::Store;

pub struct ExportApi {
    pub exports: Vec<ExportSpec>,
    pub store: Store,
    pub clock: SharedClock,
    pub event_ttl_days: u64,
    /// One limiter per configured token hash, made at start.
    buckets: HashMap<[u8; 32], Bucket>,
    /// This process's purge fences: a release holds them from its first
    /// read to its last write, and reads no fenced row.
    fences: Option<crate::store::fence::Fences>,
}

/// A token's bucket: `governor`'s GCRA over the injected clock.
type Bucket = RateLimiter<NotKeyed, InMemoryState, WallClock, NoOpMiddleware<Duration>>;

/// The injected clock as `governor` reads it: time since the epoch.
#[derive(Clone)]
struct WallClock(SharedClock);

impl governor::clock::Clock for WallClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.now_ms().max(0) as u64)
    }
}

/// `per_minute` requests, refilled evenly, the first `per_minute` at once.
fn bucket(per_minute: u32, clock: &SharedClock) -> Bucket {
    let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
    RateLimiter::direct_with_clock(quota, WallClock(clock.clone()))
}

fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    bool::from(a.ct_eq(b))
}

/// One request from `b`, or the whole seconds until it has one.
fn take_from(b: &Bucket, clock: &SharedClock) -> Result<(), u64> {
    b.check().map_err(|not_until| {
        let now = governor::clock::Clock::now(&WallClock(clock.clone()));
        (not_until.wait_time_from(now).as_secs_f64().ceil() as u64).max(1)
    })
}

fn reply(status: StatusCode, msg: &str) -> Resp {
    let r = resp::text(status, msg);
    if status == StatusCode::UNAUTHORIZED {
        return resp::with(r, header::WWW_AUTHENTICATE, "Bearer");
    }
    r
}

/// The first value of `key` in the query string, percent-decoded.
fn query_param(q: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(q?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

impl ExportApi {
    pub fn new(
        exports: Vec<ExportSpec>,
        store: Store,
        clock: SharedClock,
        event_ttl_days: u64,
    ) -> Self {
        let mut buckets = HashMap::new();
        for e in &exports {
            for t in &e.token_sha256 {
                // The first export naming a token sets its rate, as in `partner_of`.
                buckets
                    .entry(*t)
                    .or_insert_with(|| bucket(e.rate_limit_per_minute, &clock));
            }
        }
        Self {
            exports,
            store,
            clock,
            event_ttl_days,
            buckets,
            fences: None,
        }
    }

    /// Releases hold `fences` (the collector's), so a purge never runs
    /// behind one.
    pub fn with_fences(mut self, fences: crate::store::fence::Fences) -> Self {
        self.fences = Some(fences);
        self
    }

    /// The partner a token belongs to. Every configured hash is compared,
    /// so timing does not depend on which one matched.
    fn partner_of(&self, h: &[u8; 32]) -> Option<&str> {
        let mut found = None;
        for e in &self.exports {
            for t in &e.token_sha256 {
                if ct_eq(t, h) && found.is_none() {
                    found = Some(e.partner.as_str());
                }
            }
        }
        found
    }

    /// Take a request from the token's bucket. Returns the seconds to wait
    /// when empty.
    fn take(&self, h: &[u8; 32]) -> Result<(), u64> {
        match self.buckets.get(h) {
            Some(b) => take_from(b, &self.clock),
            None => Ok(()),
        }
    }

    pub async fn handle(&self, path: &str, query: Option<&str>, auth: Option<&str>) -> Resp {
        let Some(partner) = path
            .strip_prefix("/v1/exports/")
            .filter(|p| !p.is_empty() && !p.contains('/'))
        else {
            return reply(StatusCode::NOT_FOUND, "not found");
        };
        let Some(token) = auth
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return reply(StatusCode::UNAUTHORIZED, "missing bearer token");
        };
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let Some(owner) = self.partner_of(&hash) else {
            return reply(StatusCode::UNAUTHORIZED, "invalid token");
        };
        if owner != partner {
            return reply(StatusCode::NOT_FOUND, "no such export");
        }
        if let Err(wait) = self.take(&hash) {
            let mut r = reply(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        let Some(period) = query_param(query, "period") else {
            return reply(
                StatusCode::BAD_REQUEST,
                "missing period (e.g. ?period=2026-11)",
            );
        };
        let spec = match export::find(
            &self.exports,
            partner,
            query_param(query, "export").as_deref(),
        ) {
            Ok(s) => s,
            Err(e @ ExportError::Ambiguous(..)) => {
                return reply(StatusCode::BAD_REQUEST, &e.to_string())
            }
            Err(_) => return reply(StatusCode::NOT_FOUND, "no such export"),
        };
        let fence = match &self.fences {
            Some(f) => match f.writer(std::time::Duration::from_secs(5)).await {
                Some(g) => Some(g),
                None => {
                    return reply(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the database is unreachable; try again later",
                    )
                }
            },
            None => None,
        };
        let store = fence
            .as_ref()
            .map_or_else(|| self.store.clone(), |g| g.store(&self.store));
        let now = self.clock.now_ms();
        match release(
            &store,
            spec,
            &period,
            now,
            self.event_ttl_days,
            ReleaseChannel::Api,
            &mut rand::rngs::OsRng.unwrap_err(),
        )
        .await
        {
            Ok(r) => {
                tracing::info!(partner = %r.summary.partner, export = %r.summary.export, period = %r.summary.period, rows = r.summary.rows, suppressed = r.summary.suppressed, epsilon = r.summary.epsilon_spent, "export released");
                let name = export::file_name(spec, &r.summary.period);
                let mut resp = Response::new(Full::new(Bytes::from(r.bytes)));
                let h = resp.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(spec.format.content_type()),
                );
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                let mut set = |k: &'static str, v: String| {
                    if let Ok(v) = HeaderValue::from_str(&v) {
                        h.insert(k, v);
                    }
                };
                set(
                    "content-disposition",
                    format!("attachment; filename=\"{name}\""),
                );
                set("x-tacit-rows", r.summary.rows.to_string());
                set("x-tacit-suppressed", r.summary.suppressed.to_string());
                set("x-tacit-epsilon-spent", r.summary.epsilon_spent.to_string());
                set("x-tacit-sha256", r.summary.sha256);
                resp
            }
            Err(e) => {
                let status = match &e {
                    ExportError::Period(_)
                    | ExportError::NotOver { .. }
                    | ExportError::NotSettled { .. }
                    | ExportError::Expired { .. } => StatusCode::BAD_REQUEST,
                    ExportError::Budget { .. } => StatusCode::FORBIDDEN,
                    ExportError::TooManySmallCells(_) | ExportError::Linked(_) => {
                        StatusCode::UNPROCESSABLE_ENTITY
                    }
                    ExportError::ClickHouse(_) | ExportError::InProgress => {
                        StatusCode::SERVICE_UNAVAILABLE
                    }
                    _ => StatusCode::NOT_FOUND,
                };
                tracing::warn!(partner = %partner, error = %e, "export refused");
                // The engine's words stay in the log.
                if matches!(e, ExportError::ClickHouse(_)) {
                    return reply(
                        status,
                        "the statistics database is unavailable; try again later",
                    );
                }
                reply(status, &e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_compare() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(ct_eq(&a, &b));
        b[31] ^= 1;
        assert!(!ct_eq(&a, &b));
    }

    #[test]
    fn a_token_bucket_per_minute_on_the_injected_clock() {
        let manual = crate::model::clock::ManualClock::new(1_000_000);
        let clock: SharedClock = std::sync::Arc::new(manual.clone());
        let b = bucket(2, &clock);
        assert_eq!(take_from(&b, &clock), Ok(()));
        assert_eq!(
            take_from(&b, &clock),
            Ok(()),
            "the whole minute's worth at once"
        );
        assert_eq!(take_from(&b, &clock), Err(30), "then one every 30 s");
        manual.advance(29_000);
        assert_eq!(take_from(&b, &clock), Err(1));
        manual.advance(1_000);
        assert_eq!(take_from(&b, &clock), Ok(()));
        assert!(take_from(&b, &clock).is_err());
        manual.advance(3_600_000);
        let burst = (0..5).filter(|_| take_from(&b, &clock).is_ok()).count();
        assert_eq!(burst, 2, "refilled to the cap, never beyond");
    }

    #[test]
    fn query_params() {
        assert_eq!(
            query_param(Some("period=2026-11&export=m"), "export").as_deref(),
            Some("m")
        );
        assert_eq!(query_param(Some("x=1"), "period"), None);
        assert_eq!(
            query_param(Some("period=2026-11&export=m%C3%A4rz%20web+x"), "export").as_deref(),
            Some("märz web x"),
            "percent-encoded and plus-encoded values are decoded"
        );
        assert_eq!(
            query_param(Some("exp%6Frt=a"), "export").as_deref(),
            Some("a"),
            "so are keys"
        );
        assert_eq!(query_param(None, "period"), None);
    }
}
