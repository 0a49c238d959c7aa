//! Integration tests: tacit against a real ClickHouse engine.

mod common;

mod analytics;
mod bad_input;
mod bots;
mod dashboard;
mod durability;
mod enrich;
mod exports;
mod hits;
mod lifecycle;
mod privacy;
mod uap;
