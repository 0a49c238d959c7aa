//! Integration tests: tacit against a real ClickHouse engine.

// Test and bench code: a panic is how a failed step reports itself.
#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod common;
mod harness;

mod analyst_role;
mod analytics;
mod analytics_views;
mod attack;
mod bad_input;
mod cluster;
mod crash;
mod dashboard;
mod durability;
mod email;
mod enrich;
mod exports;
mod exports_audit;
mod exports_dp;
mod exports_linked;
mod exports_more;
mod hits;
mod import;
mod import_exports;
mod import_upload;
mod lifecycle;
mod migrations;
mod optout;
mod privacy;
mod purge;
mod purge_race;
mod query_api;
mod retention;
mod sessions;
mod slowloris;
mod trackers;
mod visits;
mod visits_rule;
