//! The dashboard: one self-contained page (`dashboard.html`: no external
//! requests, no cookies, no build step) that asks the query API for every
//! number it shows. It holds no SQL: its JSON routes hand the page's Stats
//! API v2 bodies to [`QueryApi::trusted`], the same parse, rules and run
//! as `POST /api/v2/query`.
//!
//! Two ways in, one page:
//! - the admin listener's `/dashboard` (the operator's: every site, no
//!   key, like the rest of that private listener), with its routes under
//!   `/dashboard/api/` (`sites`, `query`, `realtime`, `funnel` (a
//!   configured funnel, `query::funnel`), `email` (campaigns' opens and
//!   clicks, `query::email`), and `share`, which signs a shared link);
//! - a shared link, `/share/<token>` on the partner listener (and the
//!   admin one), with its routes under `/share/<token>/`: one site, the
//!   link's filter added to every query, another site refused (403), a
//!   token bucket per link (see `admin::share` for the token).
//!
//! The per-site settings the page shows (funnels, allowed properties,
//! what counts as a goal, the policy's horizons) come from `tacit.toml`
//! and are read-only here: the file is the one source of truth.

use std::collections::HashMap;
use std::sync::Mutex;

use hyper::header::{self, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::query::QueryApi;
use super::share::{self, Grant, ShareError};
use crate::config::dashboard::DashboardConfig;
use crate::config::Config;
use crate::http::resp::{self, Resp};
use crate::model::clock::SharedClock;
use crate::model::sync::lock;

const PAGE: &str = include_str!("dashboard.html");
const SCRIPT: &str = include_str!("dashboard.js");
const STYLE: &str = include_str!("dashboard.css");

/// The optional metrics and ranges the page would otherwise probe for
/// (`realtime`: the `30m` range by minute), and the funnel answer.
const ANSWERS: [&str; 7] = [
    "scroll_depth",
    "time_on_page",
    "total_revenue",
    "average_revenue",
    "realtime",
    "funnels",
    "email",
];

/// Queries one shared link may make per hour (a full view is about 25),
/// and at once.
const SHARE_PER_HOUR: f64 = 3_000.0;
const SHARE_BURST: f64 = 300.0;

/// What the settings view shows of a site.
#[derive(Debug, Clone)]
struct SiteSettings {
    domain: String,
    allowed_properties: Option<Vec<String>>,
    funnels: Vec<(String, Vec<String>)>,
}

/// The dashboard's state: the sites' settings, the share secret and
/// revocations, the clock, and the shared links' buckets.
pub struct Dashboard {
    sites: Vec<SiteSettings>,
    policy: Value,
    share: DashboardConfig,
    clock: SharedClock,
    buckets: Mutex<HashMap<String, (f64, i64)>>,
}

/// Who is asking: the operator on the admin listener, or a shared link.
#[derive(Debug, Clone)]
pub enum Who {
    Admin,
    Shared(Grant),
}

impl Who {
    fn only(&self) -> Option<&str> {
        match self {
            Who::Admin => None,
            Who::Shared(g) => Some(&g.site),
        }
    }
}

fn error(status: StatusCode, msg: &str) -> Resp {
    resp::body(
        status,
        "application/json",
        json!({ "error": msg }).to_string(),
    )
}

fn json_ok(v: Value) -> Resp {
    resp::body(StatusCode::OK, "application/json", v.to_string())
}

impl Dashboard {
    pub fn new(cfg: &Config, clock: SharedClock) -> Self {
        let sites = cfg
            .sites
            .iter()
            .map(|s| SiteSettings {
                domain: s.domain.clone(),
                allowed_properties: s.allowed_properties.clone(),
                funnels: cfg
                    .funnels
                    .iter()
                    .filter(|f| f.sites.is_empty() || f.sites.contains(&s.domain))
                    .map(|f| (f.name.clone(), f.steps.clone()))
                    .collect(),
            })
            .collect();
        let location: &'static str = cfg.policy.location.into();
        Self {
            sites,
            policy: json!({
                "event_ttl_days": cfg.policy.event_ttl_days,
                "aggregate_ttl_months": cfg.policy.aggregate_ttl_months,
                "location": location,
            }),
            share: cfg.dashboard.clone(),
            clock,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The page, for either way in. Shared links are not sent as a
    /// referrer, and the page may be framed by no one.
    pub fn page(&self) -> Resp {
        let html = PAGE
            .replace("/*STYLE*/", STYLE)
            .replace("/*SCRIPT*/", SCRIPT);
        let mut r = resp::body(StatusCode::OK, "text/html; charset=utf-8", html);
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; \
                 frame-ancestors 'none'",
            ),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        r
    }

    /// A shared link's grant, from the token in its path.
    pub fn grant(&self, token: &str) -> Result<Grant, ShareError> {
        share::verify(self.share.secret(), &self.share.revoked_shares, token)
    }

    /// A query from the link's bucket, or the seconds until one is back.
    fn take(&self, id: &str) -> Result<(), u64> {
        let now = self.clock.now_ms();
        let rate = SHARE_PER_HOUR / 3_600_000.0;
        let mut b = lock(&self.buckets);
        let e = b.entry(id.to_string()).or_insert((SHARE_BURST, now));
        e.0 = (e.0 + (now - e.1).max(0) as f64 * rate).min(SHARE_BURST);
        e.1 = now;
        if e.0 >= 1.0 {
            e.0 -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - e.0) / rate / 1000.0).ceil() as u64)
        }
    }

    /// The page's JSON routes: `op` is what follows `/dashboard/api/` or
    /// `/share/<token>/`.
    pub async fn api(
        &self,
        who: &Who,
        query_api: &QueryApi,
        method: &Method,
        op: &str,
        query: Option<&str>,
        body: Option<&[u8]>,
    ) -> Resp {
        if let Who::Shared(g) = who {
            if let Err(wait) = self.take(&g.id) {
                let mut r = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many queries on this link",
                );
                if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return r;
            }
        }
        match (method, op) {
            (&Method::GET, "sites") => json_ok(self.sites(who)),
            (&Method::GET, "realtime") => {
                let site = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                    .find(|(k, _)| k == "site_id")
                    .map(|(_, v)| v.into_owned());
                match site {
                    Some(s) => query_api.trusted_realtime(who.only(), &s).await,
                    None => error(StatusCode::BAD_REQUEST, "site_id: required"),
                }
            }
            (&Method::POST, "query") => {
                let Some(body) = body else {
                    return error(StatusCode::PAYLOAD_TOO_LARGE, "the body is at most 64 KiB");
                };
                match who {
                    Who::Admin => query_api.trusted(None, body).await,
                    Who::Shared(g) => match pin(body, g) {
                        Ok(b) => query_api.trusted(Some(&g.site), &b).await,
                        Err(why) => error(StatusCode::BAD_REQUEST, why),
                    },
                }
            }
            (&Method::POST, "funnel") => {
                let Some(body) = body else {
                    return error(StatusCode::PAYLOAD_TOO_LARGE, "the body is at most 64 KiB");
                };
                let body = match who {
                    Who::Admin => Ok(body.to_vec()),
                    Who::Shared(g) => pin(body, g),
                };
                match body
                    .map_err(FunnelRefusal::from)
                    .and_then(|b| self.funnel_query(&b))
                {
                    Ok((b, name, steps)) => {
                        query_api
                            .trusted_funnel(who.only(), &b, &name, &steps)
                            .await
                    }
                    Err(FunnelRefusal::Bad(why)) => error(StatusCode::BAD_REQUEST, why),
                    Err(FunnelRefusal::Unknown) => error(
                        StatusCode::NOT_FOUND,
                        "funnel: no such [[funnels]] for this site",
                    ),
                }
            }
            (&Method::POST, "email") => {
                let Some(body) = body else {
                    return error(StatusCode::PAYLOAD_TOO_LARGE, "the body is at most 64 KiB");
                };
                let body = match who {
                    Who::Admin => Ok(body.to_vec()),
                    Who::Shared(g) => pin(body, g),
                };
                match body.and_then(with_metrics) {
                    Ok(b) => query_api.trusted_email(who.only(), &b).await,
                    Err(why) => error(StatusCode::BAD_REQUEST, why),
                }
            }
            // Only the operator makes links; to a link, no such route.
            (&Method::POST, "share") if matches!(who, Who::Admin) => self.new_share(body),
            (_, "share") if matches!(who, Who::Shared(_)) => {
                error(StatusCode::NOT_FOUND, "not found")
            }
            (_, "sites" | "realtime" | "query" | "share" | "funnel" | "email") => {
                error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            }
            _ => error(StatusCode::NOT_FOUND, "not found"),
        }
    }

    /// The sites the caller may see, with their read-only settings.
    fn sites(&self, who: &Who) -> Value {
        let sites: Vec<Value> = self
            .sites
            .iter()
            .filter(|s| who.only().is_none_or(|o| o == s.domain))
            .map(|s| {
                json!({
                    "domain": s.domain,
                    "allowed_properties": s.allowed_properties,
                    "funnels": s.funnels.iter().map(|(n, st)| json!({"name": n, "steps": st})).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "sites": sites,
            "policy": self.policy,
            "shared": match who { Who::Admin => Value::Null, Who::Shared(g) => json!(g) },
            "can_share": matches!(who, Who::Admin) && self.share.secret().is_some(),
            // What this server's query API answers beyond the Stats API's
            // basics, so the page need not probe for it.
            "answers": ANSWERS,
        })
    }

    /// `POST /dashboard/api/share` `{"site_id": ..., "filter": [...]}`:
    /// a new link (its id is what revocation lists).
    fn new_share(&self, body: Option<&[u8]>) -> Resp {
        let Some(v) = body.and_then(|b| serde_json::from_slice::<Value>(b).ok()) else {
            return error(StatusCode::BAD_REQUEST, "body: a JSON object");
        };
        let Some(site) = v
            .get("site_id")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_ascii_lowercase())
        else {
            return error(StatusCode::BAD_REQUEST, "site_id: required");
        };
        if !self.sites.iter().any(|s| s.domain == site) {
            return error(StatusCode::NOT_FOUND, "site not found");
        }
        let filter = v.get("filter").filter(|f| !f.is_null()).cloned();
        match share::sign(self.share.secret(), &site, filter, rand::random()) {
            Ok((g, token)) => json_ok(json!({
                "id": g.id,
                "site": g.site,
                "filter": g.filter,
                "path": format!("/share/{token}"),
            })),
            Err(e @ ShareError::Off) => error(StatusCode::NOT_FOUND, &e.to_string()),
            Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
        }
    }
}

/// Why a funnel request is refused before it is run.
enum FunnelRefusal {
    Bad(&'static str),
    Unknown,
}

impl From<&'static str> for FunnelRefusal {
    fn from(why: &'static str) -> Self {
        FunnelRefusal::Bad(why)
    }
}

impl Dashboard {
    /// A funnel request `{"site_id", "funnel", "date_range", "filters"}`
    /// as a query body for the range and filters, with the funnel's name
    /// and its configured steps for that site.
    fn funnel_query(&self, body: &[u8]) -> Result<(Vec<u8>, String, Vec<String>), FunnelRefusal> {
        let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body) else {
            return Err("body: must be a JSON object".into());
        };
        let Some(Value::String(name)) = o.remove("funnel") else {
            return Err("funnel: the name of a configured funnel".into());
        };
        let site = o
            .get("site_id")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_ascii_lowercase())
            .ok_or("site_id: required")?;
        let steps = self
            .sites
            .iter()
            .find(|s| s.domain == site)
            .and_then(|s| s.funnels.iter().find(|(n, _)| *n == name))
            .map(|(_, st)| st.clone())
            .ok_or(FunnelRefusal::Unknown)?;
        o.insert("metrics".into(), json!(["visits"]));
        Ok((Value::Object(o).to_string().into_bytes(), name, steps))
    }
}

/// A range-and-filters body as a query body (the extensions' answers
/// are not metrics, but the parser wants some).
fn with_metrics(body: Vec<u8>) -> Result<Vec<u8>, &'static str> {
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(&body) else {
        return Err("body: must be a JSON object");
    };
    o.insert("metrics".into(), json!(["visits"]));
    Ok(Value::Object(o).to_string().into_bytes())
}

/// A shared link's query: the site must be the link's (else 403, checked
/// by [`QueryApi::trusted`]), and the link's filter joins the query's.
/// A refusal is the field and why (a 400).
fn pin(body: &[u8], g: &Grant) -> Result<Vec<u8>, &'static str> {
    let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(body) else {
        return Err("body: must be a JSON object");
    };
    if let Some(f) = &g.filter {
        match o.entry("filters").or_insert_with(|| json!([])) {
            Value::Array(a) => a.push(f.clone()),
            _ => return Err("filters: must be a list"),
        }
    }
    Ok(Value::Object(o).to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_links_filter_joins_every_query() {
        let g = Grant {
            id: "00".repeat(8),
            site: "a.b".into(),
            filter: Some(json!(["is", "visit:source", ["Google"]])),
        };
        let b = pin(
            br#"{"site_id":"a.b","filters":[["is","visit:country",["DE"]]]}"#,
            &g,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            v["filters"],
            json!([
                ["is", "visit:country", ["DE"]],
                ["is", "visit:source", ["Google"]]
            ])
        );
        let b = pin(br#"{"site_id":"a.b"}"#, &g).unwrap();
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["filters"], json!([["is", "visit:source", ["Google"]]]));
        assert!(pin(br#"{"site_id":"a.b","filters":1}"#, &g).is_err());
        assert!(pin(b"[]", &g).is_err());
    }

    #[test]
    fn the_page_is_whole_and_asks_nothing_of_other_origins() {
        let p = PAGE
            .replace("/*STYLE*/", STYLE)
            .replace("/*SCRIPT*/", SCRIPT);
        assert!(!p.contains("/*SCRIPT*/") && !p.contains("/*STYLE*/"));
        for bad in ["http://", "https://", "document.cookie", "localStorage"] {
            assert!(!p.contains(bad), "the page holds {bad:?}");
        }
    }
}
