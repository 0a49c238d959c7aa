//! tacit: a privacy-aware web analytics collector.
//!
//! A hit flows `beacon` (HTTP in) → `ingest` (decode, validate, named steps)
//! → `privacy` (the only reader of raw IP and user agent; builds the
//! anonymous event, with the parsers of `enrich`) → `sink` (write-ahead log,
//! writer, retries) → ClickHouse (`store`) → `export` (partner releases that
//! identify no one, and their ledger). `model` is the bottom layer every
//! other module speaks; `config` parses and validates; `http` is the shared
//! HTTP plumbing; `admin` the private listener; `app` wires and shuts down in
//! order. The layering is checked by `tests/layers.rs`.

pub mod admin;
pub mod app;
pub mod beacon;
pub mod config;
pub mod enrich;
pub mod explain;
pub mod export;
pub mod http;
pub mod ingest;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod notice;
pub mod privacy;
pub mod purge;
pub mod rollup;
pub mod sessions;
pub mod sink;
pub mod store;
