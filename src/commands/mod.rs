//! The one-shot commands besides `serve`, as library code the binary
//! dispatches to: `tacit policy` (`notice`, what tacit collects, in plain
//! words), `tacit explain` (what a hit becomes) and `tacit purge` (remove a
//! site's data and keep the evidence), `tacit import` (past traffic from
//! access logs). Each returns a typed result; exit
//! codes are the binary's business.

pub mod explain;
pub mod import;
pub mod notice;
pub mod purge;
