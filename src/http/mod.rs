//! HTTP plumbing shared by every listener: the accept loop ([`server`]), the
//! response builders ([`resp`]) and the request facts read from headers
//! ([`request`]). It knows nothing of the pipeline, exports or ClickHouse;
//! `beacon/` and `admin/` sit above it.

pub mod request;
pub mod resp;
pub mod server;

pub use resp::Resp;
