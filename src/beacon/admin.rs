//! The admin listener: liveness (`/healthz`), readiness (`/readyz`:
//! ClickHouse reachable and the schema current), `/metrics`, and the
//! read-only dashboard (`/dashboard`), and the partner export API
//! (`/v1/exports/…`, see `export::api`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::server::Resp;
use crate::config::ClickHouseConfig;
use crate::metrics::Metrics;
use crate::store;

pub struct AdminState {
    pub clickhouse: ClickHouseConfig,
    /// Configured site domains (for the dashboard's site picker).
    pub sites: Vec<String>,
    pub metrics: Arc<Metrics>,
    pub shutting_down: AtomicBool,
    pub exports: crate::export::api::ExportApi,
}

fn text(status: StatusCode, ctype: &'static str, body: String) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub async fn handle(state: Arc<AdminState>, req: Request<Incoming>) -> Resp {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n".into(),
        );
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" => readyz(&state).await,
        "/dashboard" => super::dashboard::page(),
        "/dashboard/data" => {
            super::dashboard::data(&state.clickhouse, &state.sites, req.uri().query()).await
        }
        "/metrics" => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            state.metrics.render(),
        ),
        p if p.starts_with("/v1/exports/") => {
            let auth = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            state.exports.handle(p, req.uri().query(), auth).await
        }
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

async fn readyz(state: &AdminState) -> Resp {
    if state.shutting_down.load(Ordering::Relaxed) {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "shutting down\n".into(),
        );
    }
    let client = store::client(&state.clickhouse);
    if !store::ping(&client).await {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "clickhouse unreachable\n".into(),
        );
    }
    match store::migrate::pending(&state.clickhouse).await {
        Ok(p) if p.is_empty() => text(StatusCode::OK, "text/plain", "ready\n".into()),
        Ok(p) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            format!("{} pending migration(s)\n", p.len()),
        ),
        Err(e) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            format!("{e}\n"),
        ),
    }
}
