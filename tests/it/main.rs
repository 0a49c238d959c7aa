//! Integration tests: tacit against a real ClickHouse engine.

#[path = "../support/mod.rs"]
mod support;

mod common;

mod analytics;
mod bad_input;
mod crash;
mod dashboard;
mod durability;
mod enrich;
mod exports;
mod hits;
mod lifecycle;
mod optout;
mod privacy;
mod purge;
mod slowloris;
mod trackers;
