//! tacit: a privacy-aware web analytics collector.
//!
//! A hit flows `beacon` (HTTP in) → `ingest` (decode, validate, named steps)
//! → `privacy` (the only reader of raw IP and user agent; builds the
//! anonymous event, with the parsers of `enrich`) → `sink` (row encoding,
//! write-ahead log, writer, retries) → ClickHouse (`store`) → `analytics`
//! (visits and closed-day rollups) → `export` (partner releases that
//! identify no one, and their ledger). `model` is the bottom layer every
//! other module speaks; `config` parses and validates; `http` is the shared
//! HTTP plumbing; `telemetry` the metrics and logs; `admin` the private
//! listeners (health, metrics, dashboard, the partner API); `commands` the
//! one-shot commands (`policy`, `explain`, `purge`); `app` wires and shuts
//! down in order. The layering is checked by `tests/cpu/layers.rs`.

pub mod admin;
pub mod analytics;
pub mod app;
pub mod beacon;
pub mod commands;
pub mod config;
pub mod enrich;
pub mod export;
pub mod http;
pub mod ingest;
pub mod model;
pub mod privacy;
pub mod query;
pub mod sink;
pub mod store;
pub mod telemetry;
pub mod visits;
