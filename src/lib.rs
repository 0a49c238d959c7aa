//! tacit: a privacy-aware web analytics collector.
//!
//! A hit flows `beacon` (HTTP in) → `ingest` (decode, validate, enrich) →
//! `privacy` (the only reader of raw IP and user agent; builds the anonymous
//! event) → `sink` (batching writer, spool, retries) → ClickHouse (`store`) → `export` (partner
//! releases that identify no one, and their ledger).
//! `config` parses and validates; `app` wires and shuts down in order.

pub mod app;
pub mod beacon;
pub mod clock;
pub mod config;
pub mod explain;
pub mod export;
pub mod ingest;
pub mod logging;
pub mod metrics;
pub mod privacy;
pub mod sessions;
pub mod sink;
pub mod store;
