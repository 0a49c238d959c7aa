//! HTTP plumbing shared by every listener: the accept loop ([`server`]) and
//! the response builders ([`resp`]). It knows nothing of hits, exports or
//! ClickHouse; `beacon/` and `admin/` sit above it.

pub mod resp;
pub mod server;

pub use resp::Resp;
