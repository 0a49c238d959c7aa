//! What the process says about itself: `metrics` (counters and gauges for
//! `/metrics`) and `logging` (the `tracing` setup). Neither ever carries a
//! request's contents.

pub mod logging;
pub mod metrics;
