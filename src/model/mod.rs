//! The bottom layer: the plain types every other module speaks, and nothing
//! that does I/O. It imports no other tacit module.
//!
//! - [`hit`]: a hit as sent and the request facts;
//! - [`outcome`]: why a hit is dropped ([`DropReason`]) or refused ([`Rejection`]);
//! - [`facts`]: what enrichment learns (user agent, location, UTM, channel);
//! - [`device`]: the device class and the signal that decides it;
//! - [`policy`]: the privacy rules the code applies;
//! - [`net`]: address blocks;
//! - [`export`]: the typed export domain (dimensions, metrics, periods, formats);
//! - [`email`]: email beacons (opens, clicks) and their labels;
//! - [`named`]: the one naming mechanism of every closed set ([`Named`]);
//! - [`row`]: the seam through which an anonymous row is encoded;
//! - [`intern`]: one `'static` copy of each configured name;
//! - [`clock`]: the injected clock and UTC day helpers;
//! - [`backoff`]: capped exponential backoff with jitter for retries.

pub mod backoff;
pub mod clock;
pub mod device;
pub mod email;
pub mod export;
pub mod facts;
pub mod hit;
pub mod intern;
pub mod named;
pub mod net;
pub mod outcome;
pub mod policy;
pub mod row;
pub mod sync;

pub use hit::{Hit, RequestMeta};
pub use named::Named;
pub use outcome::{DropReason, Rejection};
