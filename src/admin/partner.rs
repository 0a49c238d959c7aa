//! The partner API on the admin listener:
//! `GET /v1/exports/{partner}?period=2026-11[&export=name]` with
//! `Authorization: Bearer <token>`. Tokens are configured as SHA-256
//! hashes and compared in constant time; a token opens only its partner's
//! exports (another partner's is 404, like one that does not exist; a bad
//! token is 401); each token has a token-bucket rate limit. Every answer
//! with a file is a release, recorded in the ledger first.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use rand::TryRngCore;
use sha2::{Digest, Sha256};

use crate::config::exports::ExportSpec;
use crate::config::ClickHouseConfig;
use crate::export::{self, release, ExportError, ReleaseChannel};
use crate::http::resp::{self, Resp};
use crate::model::clock::SharedClock;
use crate::model::sync::lock;

pub struct ExportApi {
    pub exports: Vec<ExportSpec>,
    pub clickhouse: ClickHouseConfig,
    pub clock: SharedClock,
    pub event_ttl_days: u64,
    buckets: Mutex<HashMap<[u8; 32], Bucket>>,
    /// This process's purge fences: a release holds them from its first
    /// read to its last write, and reads no fenced row.
    fences: Option<crate::store::fence::Fences>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut d = 0u8;
    for i in 0..32 {
        d |= std::hint::black_box(a[i] ^ b[i]);
    }
    d == 0
}

fn reply(status: StatusCode, msg: &str) -> Resp {
    let r = resp::text(status, msg);
    if status == StatusCode::UNAUTHORIZED {
        return resp::with(r, header::WWW_AUTHENTICATE, "Bearer");
    }
    r
}

fn query_param<'a>(q: Option<&'a str>, key: &str) -> Option<&'a str> {
    q?.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

impl ExportApi {
    pub fn new(
        exports: Vec<ExportSpec>,
        clickhouse: ClickHouseConfig,
        clock: SharedClock,
        event_ttl_days: u64,
    ) -> Self {
        Self {
            exports,
            clickhouse,
            clock,
            event_ttl_days,
            buckets: Mutex::new(HashMap::new()),
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
    fn partner_of(&self, h: &[u8; 32]) -> Option<(&str, u32)> {
        let mut found = None;
        for e in &self.exports {
            for t in &e.token_sha256 {
                if ct_eq(t, h) && found.is_none() {
                    found = Some((e.partner.as_str(), e.rate_limit_per_minute));
                }
            }
        }
        found
    }

    /// Token bucket per token hash: `per_minute` requests, refilled evenly.
    /// Returns the seconds to wait when empty.
    fn take(&self, h: [u8; 32], per_minute: u32) -> Result<(), u64> {
        let now = self.clock.now_ms();
        let cap = per_minute as f64;
        let rate = cap / 60_000.0;
        let mut b = lock(&self.buckets);
        let e = b.entry(h).or_insert(Bucket {
            tokens: cap,
            at_ms: now,
        });
        e.tokens = (e.tokens + (now - e.at_ms).max(0) as f64 * rate).min(cap);
        e.at_ms = now;
        if e.tokens >= 1.0 {
            e.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - e.tokens) / rate / 1000.0).ceil() as u64)
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
        let Some((owner, per_minute)) = self.partner_of(&hash) else {
            return reply(StatusCode::UNAUTHORIZED, "invalid token");
        };
        if owner != partner {
            return reply(StatusCode::NOT_FOUND, "no such export");
        }
        if let Err(wait) = self.take(hash, per_minute) {
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
        let spec = match export::find(&self.exports, partner, query_param(query, "export")) {
            Ok(s) => s,
            Err(e @ ExportError::Ambiguous(..)) => {
                return reply(StatusCode::BAD_REQUEST, &e.to_string())
            }
            Err(_) => return reply(StatusCode::NOT_FOUND, "no such export"),
        };
        let base = crate::store::client(&self.clickhouse);
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
        let client = fence
            .as_ref()
            .map_or_else(|| base.clone(), |g| g.client(&base));
        let now = self.clock.now_ms();
        match release(
            &client,
            spec,
            period,
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
    fn query_params() {
        assert_eq!(
            query_param(Some("period=2026-11&export=m"), "export"),
            Some("m")
        );
        assert_eq!(query_param(Some("x=1"), "period"), None);
        assert_eq!(query_param(None, "period"), None);
    }
}
