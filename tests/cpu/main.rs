//! Tests that need the vendored data files but no database: uap-core's own
//! suites against the user-agent rules, and bot detection on real strings.
//! Kept apart from the ClickHouse integration binary (`tests/it`).

// Test and bench code: a panic is how a failed step reports itself.
#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod bots;
mod device;
mod email_machines;
mod explain;
mod fuzz_corpus;
mod layers;
mod privacy_props;
mod tracker;
mod uap;
