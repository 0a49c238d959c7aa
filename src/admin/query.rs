//! `POST /api/v2/query` on the admin listener: Plausible's Stats API v2
//! contract (the query itself is `crate::query`); and Plausible's
//! `GET /api/v1/stats/realtime/visitors?site_id=` (the last five minutes). Keys arrive as
//! `Authorization: Bearer <key>` and are configured per site as SHA-256
//! digests (`[[sites]] api_keys_sha256`), compared in constant time against
//! every configured digest. An unknown key is 401, a key of another site
//! 403, an unknown site 404; each key has a token bucket of
//! `api_rate_limit_per_hour` requests (429 with `Retry-After`). Errors are
//! `{"error": "..."}`; the engine's words stay in the log, log-safe.

use std::collections::HashMap;
use std::sync::Mutex;

use hyper::header::{self, HeaderValue};
use hyper::StatusCode;
use sha2::{Digest, Sha256};

use crate::config::api_keys::SiteKeys;
use crate::http::resp::{self, Resp};
use crate::model::clock::{day_of, SharedClock};
use crate::model::sync::lock;
use crate::query::{self, Context, QueryError};
use crate::store::Store;

/// The largest body read, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// What the policy says about the tiers and locations, for every query.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub event_ttl_days: u32,
    pub aggregate_ttl_months: u32,
    pub keeps_region: bool,
    pub keeps_city: bool,
}

pub struct QueryApi {
    store: Store,
    clock: SharedClock,
    /// Each site's domain and the custom property keys it stores (`None`:
    /// every key).
    sites: Vec<(String, Option<Vec<String>>)>,
    keys: Vec<SiteKeys>,
    /// Each site's Umami website id (lower-case UUID) and its domain.
    umami_ids: Vec<(String, String)>,
    policy: Policy,
    buckets: Mutex<HashMap<[u8; 32], Bucket>>,
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

/// Why a request is refused before its query is read.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// No key, or an unknown one: 401.
    Key(&'static str),
    /// The key's bucket is empty: 429, retry after so many seconds.
    Limited(u64),
    /// No such site: 404.
    NoSite,
    /// The key is another site's: 403.
    OtherSite,
}

impl Refusal {
    fn answer(self) -> Resp {
        match self {
            Refusal::Key(why) => error(StatusCode::UNAUTHORIZED, why),
            Refusal::Limited(wait) => {
                let mut r = error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
                if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            Refusal::NoSite => error(StatusCode::NOT_FOUND, "site not found"),
            Refusal::OtherSite => error(StatusCode::FORBIDDEN, "this API key is for another site"),
        }
    }
}

fn error(status: StatusCode, msg: &str) -> Resp {
    let r = resp::body(
        status,
        "application/json",
        serde_json::json!({ "error": msg }).to_string(),
    );
    if status == StatusCode::UNAUTHORIZED {
        return resp::with(r, header::WWW_AUTHENTICATE, "Bearer");
    }
    r
}

impl QueryApi {
    pub fn new(
        store: Store,
        clock: SharedClock,
        sites: Vec<(String, Option<Vec<String>>)>,
        keys: Vec<SiteKeys>,
        policy: Policy,
    ) -> Self {
        Self {
            store,
            clock,
            sites,
            keys,
            umami_ids: Vec::new(),
            policy,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The sites' Umami website ids (`[[sites]] umami_website_id`), by
    /// which Umami's read API names them (as well as by domain).
    pub fn with_umami_ids(mut self, ids: Vec<(String, String)>) -> Self {
        self.umami_ids = ids;
        self
    }

    /// The site and hourly limit of a key's digest; every configured
    /// digest is compared, so timing does not say which one matched.
    fn owner(&self, h: &[u8; 32]) -> Option<(&str, u32)> {
        let mut found = None;
        for s in &self.keys {
            for k in &s.sha256 {
                if ct_eq(k, h) && found.is_none() {
                    found = Some((s.site.as_str(), s.per_hour));
                }
            }
        }
        found
    }

    /// A token from the key's bucket, or the seconds until one is back.
    fn take(&self, h: [u8; 32], per_hour: u32) -> Result<(), u64> {
        let now = self.clock.now_ms();
        let cap = per_hour as f64;
        let rate = cap / 3_600_000.0;
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

    fn context(&self) -> Context {
        let now_ms = self.clock.now_ms();
        Context {
            today: day_of(now_ms),
            now_ms,
            event_ttl_days: self.policy.event_ttl_days,
            aggregate_ttl_months: self.policy.aggregate_ttl_months,
            keeps_region: self.policy.keeps_region,
            keeps_city: self.policy.keeps_city,
        }
    }

    /// The key's site, or why it is refused (401, 429).
    fn key(&self, auth: Option<&str>) -> Result<String, Refusal> {
        let Some(key) = auth
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Err(Refusal::Key(
                "missing API key (Authorization: Bearer <key>)",
            ));
        };
        let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let Some((owner, per_hour)) = self.owner(&hash) else {
            return Err(Refusal::Key("invalid API key"));
        };
        let owner = owner.to_string();
        self.take(hash, per_hour).map_err(Refusal::Limited)?;
        Ok(owner)
    }

    /// A site the key may read: 404 for no such site, 403 for another's.
    fn site(&self, owner: &str, site: &str) -> Result<(), Refusal> {
        if !self.sites.iter().any(|(s, _)| s == site) {
            return Err(Refusal::NoSite);
        }
        if site != owner {
            return Err(Refusal::OtherSite);
        }
        Ok(())
    }

    fn failed(e: QueryError) -> Resp {
        if e.is_client_error() {
            return error(StatusCode::BAD_REQUEST, &e.to_string());
        }
        // StoreError's text is log-safe; the client gets none of it.
        tracing::warn!(error = %e, "query API: the query failed");
        if matches!(e, QueryError::Store(_)) {
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the statistics database is unavailable; try again later",
            )
        } else {
            error(StatusCode::INTERNAL_SERVER_ERROR, "the query failed")
        }
    }

    /// `POST /api/v2/query`: `auth` is the `Authorization` header, `body`
    /// the request body (at most [`MAX_BODY`] bytes, or `None` if longer).
    pub async fn handle(&self, auth: Option<&str>, body: Option<&[u8]>) -> Resp {
        let owner = match self.key(auth) {
            Ok(o) => o,
            Err(r) => return r.answer(),
        };
        let Some(body) = body else {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "the body is at most 64 KiB");
        };
        // The site first: a key learns nothing about another site's query.
        let site = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("site_id")
                    .and_then(|s| s.as_str())
                    .map(|s| s.trim().to_ascii_lowercase())
            });
        if let Some(site) = &site {
            if let Err(r) = self.site(&owner, site) {
                return r.answer();
            }
        }
        self.answer(body).await
    }

    /// A query the listener vouches for rather than a key: the admin
    /// dashboard (`only` is `None`: any configured site) or a shared link
    /// (`only`: its site; another is 403). The same parse, rules and run
    /// as `POST /api/v2/query`, without the key's rate limit (the caller
    /// keeps its own).
    pub async fn trusted(&self, only: Option<&str>, body: &[u8]) -> Resp {
        let site = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("site_id")
                    .and_then(|s| s.as_str())
                    .map(|s| s.trim().to_ascii_lowercase())
            });
        if let Some(site) = &site {
            if let Err(r) = self.site(only.unwrap_or(site), site) {
                return r.answer();
            }
        }
        self.answer(body).await
    }

    /// A configured funnel (`query::funnel`) for a caller the listener
    /// vouches for (see [`QueryApi::trusted`]): `body` is a query whose
    /// `site_id`, `date_range` and `filters` apply; `steps` are the
    /// funnel's, as configured for that site.
    pub async fn trusted_funnel(
        &self,
        only: Option<&str>,
        body: &[u8],
        funnel: &str,
        steps: &[String],
    ) -> Resp {
        let ctx = self.context();
        let q = match query::parse(body, &ctx) {
            Ok(q) => q,
            Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        if let Err(r) = self.site(only.unwrap_or(&q.site), &q.site) {
            return r.answer();
        }
        match query::funnel::answer(&self.store, &q, funnel, steps).await {
            Ok(v) => resp::body(StatusCode::OK, "application/json", v.to_string()),
            Err(e) => Self::failed(e),
        }
    }

    /// Email campaigns' opens and clicks (`query::email`) for a caller
    /// the listener vouches for: `body` is a query whose `site_id`,
    /// `date_range` and `filters` apply.
    pub async fn trusted_email(&self, only: Option<&str>, body: &[u8]) -> Resp {
        let ctx = self.context();
        let q = match query::parse(body, &ctx) {
            Ok(q) => q,
            Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        if let Err(r) = self.site(only.unwrap_or(&q.site), &q.site) {
            return r.answer();
        }
        match query::email::answer(&self.store, &q).await {
            Ok(v) => resp::body(StatusCode::OK, "application/json", v.to_string()),
            Err(e) => Self::failed(e),
        }
    }

    /// Current visitors for a caller the listener vouches for (see
    /// [`QueryApi::trusted`]).
    pub async fn trusted_realtime(&self, only: Option<&str>, site: &str) -> Resp {
        let site = site.trim().to_ascii_lowercase();
        if let Err(r) = self.site(only.unwrap_or(&site), &site) {
            return r.answer();
        }
        match query::run::current_visitors(&self.store, &site, self.clock.now_ms()).await {
            Ok(n) => resp::body(StatusCode::OK, "application/json", n.to_string()),
            Err(e) => Self::failed(e),
        }
    }

    /// Parse, check the site's stored properties, run.
    async fn answer(&self, body: &[u8]) -> Resp {
        let ctx = self.context();
        let q = match query::parse(body, &ctx) {
            Ok(q) => q,
            Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        // A property the site never stores has no answer, not an empty one.
        let allowed = self
            .sites
            .iter()
            .find(|(s, _)| *s == q.site)
            .and_then(|(_, a)| a.as_ref());
        if let Some(key) = q
            .props
            .iter()
            .find(|k| allowed.is_some_and(|a| !a.contains(k)))
        {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("event:props:{key}: this site does not store the property (its allowed_properties)"),
            );
        }
        match query::run::run(&self.store, &q, &ctx).await {
            Ok(v) => resp::body(StatusCode::OK, "application/json", v.to_string()),
            Err(e) => Self::failed(e),
        }
    }

    /// `GET /api/v1/stats/realtime/visitors?site_id=`: Plausible's current
    /// visitors (the last five minutes), a bare number.
    pub async fn realtime(&self, auth: Option<&str>, query: Option<&str>) -> Resp {
        let owner = match self.key(auth) {
            Ok(o) => o,
            Err(r) => return r.answer(),
        };
        let Some(site) = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == "site_id")
            .map(|(_, v)| v.trim().to_ascii_lowercase())
        else {
            return error(StatusCode::BAD_REQUEST, "site_id: required");
        };
        if let Err(r) = self.site(&owner, &site) {
            return r.answer();
        }
        match query::run::current_visitors(&self.store, &site, self.clock.now_ms()).await {
            Ok(n) => resp::body(StatusCode::OK, "application/json", n.to_string()),
            Err(e) => Self::failed(e),
        }
    }
}

impl QueryApi {
    /// Umami's read API (`GET /api/websites/:id/{stats,metrics,pageviews,
    /// active}`, see `query::umami`): `:id` is the site's Umami website id
    /// or its domain; the key comes as `Authorization: Bearer <key>` or
    /// `x-umami-api-key: <key>`, with the same checks as the v2 API.
    pub async fn umami(
        &self,
        path: &str,
        auth: Option<&str>,
        umami_key: Option<&str>,
        query: Option<&str>,
    ) -> Resp {
        use crate::query::umami::{self, Endpoint, Params};
        let Some((id, endpoint)) = umami::route(path) else {
            return error(StatusCode::NOT_FOUND, "not found");
        };
        let bearer = umami_key.map(|k| format!("Bearer {}", k.trim()));
        let owner = match self.key(auth.or(bearer.as_deref())) {
            Ok(o) => o,
            Err(r) => return r.answer(),
        };
        let site = self
            .umami_ids
            .iter()
            .find(|(u, _)| *u == id)
            .map_or(id.clone(), |(_, d)| d.clone());
        if let Err(r) = self.site(&owner, &site) {
            return r.answer();
        }
        let ctx = self.context();
        let p = Params::parse(query);
        let answer = match endpoint {
            Endpoint::Stats => umami::stats(&self.store, &site, &p, &ctx).await,
            Endpoint::Metrics => umami::metrics(&self.store, &site, &p, &ctx).await,
            Endpoint::Pageviews => umami::pageviews(&self.store, &site, &p, &ctx).await,
            Endpoint::Active => query::run::current_visitors(&self.store, &site, ctx.now_ms)
                .await
                .map(|n| serde_json::json!({ "visitors": n })),
        };
        match answer {
            Ok(v) => resp::body(StatusCode::OK, "application/json", v.to_string()),
            Err(e) => Self::failed(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_compare() {
        let a = [3u8; 32];
        let mut b = a;
        assert!(ct_eq(&a, &b));
        b[0] ^= 0x80;
        assert!(!ct_eq(&a, &b));
    }
}
