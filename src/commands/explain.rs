//! `tacit explain`: what a hit becomes. Reads hits as JSON lines and prints,
//! for each, the row that would be stored (by column name) and the signal
//! that decided its device class (`device_signal`), the drop reason, or the
//! rejection, through the same pipeline and policy as `serve`. Each line is
//! explained on its own: the per-network rate limit, which is about a stream
//! of hits, is not applied, and nothing is counted. The
//! visitor id is computed with a throwaway salt: it shows that an id is
//! stored, not the id a live server would store.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::sync::Arc;

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use crate::config::Config;
use crate::enrich::{EnrichError, Enrichers};
use crate::ingest::{Hit, Outcome, Pipeline};
use crate::model::clock::SharedClock;
use crate::privacy::{event_json, RawIdentity, Salts};

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("{0}")]
    Enrich(#[from] EnrichError),
    #[error("reading input: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Input {
    url: Option<String>,
    referrer: Option<String>,
    user_agent: Option<String>,
    ip: Option<String>,
    accept_language: Option<String>,
    domain: Option<String>,
    name: Option<String>,
    screen_width: Option<u64>,
    props: BTreeMap<String, serde_json::Value>,
    headers: BTreeMap<String, String>,
}

/// Explain one JSON line.
pub fn explain_line(pipeline: &Pipeline, line: &str) -> serde_json::Value {
    let input: Input = match serde_json::from_str(line) {
        Ok(i) => i,
        Err(e) => return serde_json::json!({ "error": format!("not a hit: {e}") }),
    };
    let mut headers = HeaderMap::new();
    for (k, v) in &input.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.insert(k, v);
        }
    }
    if let Some(al) = input
        .accept_language
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(hyper::header::ACCEPT_LANGUAGE, al);
    }
    let ip: IpAddr = match input.ip.as_deref().map(str::parse) {
        None => IpAddr::from([127, 0, 0, 1]),
        Some(Ok(ip)) => ip,
        Some(Err(_)) => return serde_json::json!({ "error": "ip is not an IP address" }),
    };
    let ua = input
        .user_agent
        .or_else(|| input.headers.get("user-agent").cloned())
        .unwrap_or_default();
    let identity = RawIdentity::new(ip, None, &[], &ua);
    let props = input
        .props
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect();
    let hit = Hit {
        name: Some(input.name.unwrap_or_else(|| "pageview".into())),
        url: input.url,
        domain: input.domain,
        referrer: input.referrer,
        screen_width: input.screen_width,
        props,
        ..Hit::default()
    };
    let (outcome, device_signal) =
        pipeline.explain(hit, &crate::http::request::meta(&headers), identity);
    match outcome {
        Ok(Outcome::Store(ev)) => serde_json::json!({
            "stored": event_json(&ev),
            "device_signal": device_signal.map(|s| s.as_str()),
        }),
        Ok(Outcome::Drop { reason, .. }) => serde_json::json!({ "dropped": reason.as_str() }),
        Err(r) => {
            serde_json::json!({ "rejected": r.as_str(), "status": r.status(), "reason": r.message() })
        }
    }
}

/// Explain every line of `input` to `output`.
pub fn run(
    cfg: &Config,
    clock: SharedClock,
    input: impl BufRead,
    mut output: impl Write,
) -> Result<(), ExplainError> {
    let enrichers = Arc::new(Enrichers::load(&cfg.enrich)?);
    let pipeline = Pipeline::new(cfg, enrichers, Arc::new(Salts::new()), clock);
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        writeln!(output, "{}", explain_line(&pipeline, &line))?;
    }
    Ok(())
}
