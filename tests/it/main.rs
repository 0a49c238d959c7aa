//! Integration tests: tacit against a real ClickHouse engine.

#[path = "../support/mod.rs"]
mod support;

mod common;
mod harness;

mod analyst_role;
mod analytics;
mod analytics_views;
mod bad_input;
mod cluster;
mod crash;
mod dashboard;
mod durability;
mod email;
mod enrich;
mod exports;
mod exports_dp;
mod exports_linked;
mod exports_more;
mod hits;
mod import;
mod lifecycle;
mod migrations;
mod optout;
mod privacy;
mod purge;
mod purge_race;
mod retention;
mod sessions;
mod slowloris;
mod trackers;
