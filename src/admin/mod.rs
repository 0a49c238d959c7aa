//! The private admin listener: liveness (`/healthz`), readiness
//! (`/readyz`, `/readyz/ingest`), `/metrics`, the dashboard (`/dashboard`
//! and its routes, see `admin::dashboard`), the query API (`POST
//! /api/v2/query` and Umami's `GET /api/websites/:id/…`, see
//! `admin::query`), uploads to import (`POST /api/import`, see
//! `admin::import`); and the partner listener, which serves only the
//! export API (`/v1/exports/…`, see `admin::partner`) and shared read-only
//! dashboard links (`/share/<token>`, see `admin::share`), so partners
//! never reach the rest.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header;
use hyper::{Method, Request, StatusCode};

use crate::config::ClickHouseConfig;
use crate::http::resp::{self, text, Resp};
use crate::store;
use crate::telemetry::metrics::Metrics;

pub mod dashboard;
pub mod import;
pub mod partner;
pub mod query;
pub mod share;

/// How long a readiness check waits for ClickHouse.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub struct AdminState {
    pub clickhouse: ClickHouseConfig,
    /// The engine, one handle for every request.
    pub store: store::Store,
    pub metrics: Arc<Metrics>,
    pub shutting_down: AtomicBool,
    /// The ClickHouse writer's progress.
    pub writer: Arc<crate::sink::Health>,
    pub clock: crate::model::clock::SharedClock,
    pub stall_timeout: std::time::Duration,
    /// The log's bound (`sink.wal_max_bytes`), for `/readyz/ingest`.
    pub wal_max_bytes: u64,
    /// The query API (`POST /api/v2/query`).
    pub query: Arc<query::QueryApi>,
    /// The dashboard's settings and shared links.
    pub dashboard: Arc<dashboard::Dashboard>,
    /// Uploads to import (`POST /api/import`).
    pub import: Arc<import::ImportApi>,
}

pub async fn handle(state: Arc<AdminState>, req: Request<Incoming>) -> Resp {
    if req.uri().path() == "/api/v2/query" {
        return api_query(&state, req).await;
    }
    if req.uri().path() == "/api/import" {
        return state.import.handle(req).await;
    }
    if req.uri().path() == "/api/v1/stats/realtime/visitors" && req.method() == Method::GET {
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        return state.query.realtime(auth, req.uri().query()).await;
    }
    if req.uri().path().starts_with("/dashboard/api/") || req.uri().path().starts_with("/share/") {
        return dashboard_api(&state, req).await;
    }
    if req.uri().path().starts_with("/api/websites/") && req.method() == Method::GET {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        return state
            .query
            .umami(
                req.uri().path(),
                header("authorization"),
                header("x-umami-api-key"),
                req.uri().query(),
            )
            .await;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok"),
        "/readyz" => readyz(&state).await,
        "/readyz/ingest" => ready_for_hits(&state),
        "/dashboard" => state.dashboard.page(),
        "/metrics" => resp::body(
            StatusCode::OK,
            crate::telemetry::metrics::CONTENT_TYPE,
            state.metrics.render(),
        ),
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

/// The dashboard's routes: `/dashboard/api/<op>` on the admin listener
/// (the operator), and a shared link's page `/share/<token>` and routes
/// `/share/<token>/<op>` (on both listeners). A bad or revoked token is a
/// 404 with one message.
async fn dashboard_api(state: &AdminState, req: Request<Incoming>) -> Resp {
    use http_body_util::{BodyExt, Limited};
    let path = req.uri().path().to_string();
    let (who, op) = if let Some(op) = path.strip_prefix("/dashboard/api/") {
        (dashboard::Who::Admin, op.to_string())
    } else {
        let rest = path.strip_prefix("/share/").unwrap_or("");
        let (token, op) = rest.split_once('/').unwrap_or((rest, ""));
        match state.dashboard.grant(token) {
            Ok(g) => (dashboard::Who::Shared(g), op.to_string()),
            Err(e) => return text(StatusCode::NOT_FOUND, &e.to_string()),
        }
    };
    if op.is_empty() {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        return state.dashboard.page();
    }
    let method = req.method().clone();
    let query = req.uri().query().map(str::to_string);
    let body = if method == Method::POST {
        Limited::new(req.into_body(), query::MAX_BODY)
            .collect()
            .await
            .ok()
            .map(|b| b.to_bytes())
    } else {
        None
    };
    state
        .dashboard
        .api(
            &who,
            &state.query,
            &method,
            &op,
            query.as_deref(),
            body.as_deref(),
        )
        .await
}

/// `POST /api/v2/query`: the body (at most `query::MAX_BODY` bytes) and
/// the key go to `admin::query`.
async fn api_query(state: &AdminState, req: Request<Incoming>) -> Resp {
    use http_body_util::{BodyExt, Limited};
    if req.method() != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = Limited::new(req.into_body(), query::MAX_BODY)
        .collect()
        .await
        .ok()
        .map(|b| b.to_bytes());
    state.query.handle(auth.as_deref(), body.as_deref()).await
}

/// Ready for hits: not shutting down, and the write-ahead log has room
/// (at most 90% full). ClickHouse may be down: the log absorbs that.
fn ready_for_hits(state: &AdminState) -> Resp {
    if state.shutting_down.load(Ordering::Relaxed) {
        return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    let used = state.metrics.wal_bytes.load(Ordering::Relaxed).max(0) as u64;
    if used > state.wal_max_bytes / 10 * 9 {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the write-ahead log is nearly full",
        );
    }
    text(StatusCode::OK, "ready for hits")
}

/// Ready: not shutting down, the writer alive and making progress,
/// ClickHouse answers, no pending migration. The reason is one fixed line;
/// the engine's error text goes to the log only.
async fn readyz(state: &AdminState) -> Resp {
    let unavailable = |msg: &str| text(StatusCode::SERVICE_UNAVAILABLE, msg);
    if state.shutting_down.load(Ordering::Relaxed) {
        return unavailable("shutting down");
    }
    if let Err(why) = state
        .writer
        .check(state.clock.now_ms(), state.stall_timeout)
    {
        return unavailable(why);
    }
    if !store::ping(state.store.client()).await {
        return unavailable("clickhouse unreachable");
    }
    match tokio::time::timeout(READY_TIMEOUT, store::migrate::pending(&state.clickhouse)).await {
        Err(_) => unavailable("clickhouse did not answer in time"),
        Ok(Ok(p)) if p.is_empty() => text(StatusCode::OK, "ready"),
        Ok(Ok(p)) => unavailable(&format!("{} pending migration(s)", p.len())),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: cannot read the migration state");
            unavailable("cannot read the migration state")
        }
    }
}

/// The partner listener: `GET /v1/exports/{partner}`, and shared
/// dashboard links (`/share/<token>…`), nothing else.
pub async fn partner(
    api: Arc<crate::admin::partner::ExportApi>,
    state: Arc<AdminState>,
    req: Request<Incoming>,
) -> Resp {
    if req.uri().path().starts_with("/share/") {
        return dashboard_api(&state, req).await;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    match req.uri().path() {
        p if p.starts_with("/v1/exports/") => {
            let auth = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            api.handle(p, req.uri().query(), auth).await
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}
