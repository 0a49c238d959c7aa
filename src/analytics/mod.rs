//! The second half of the flow, after the engine has the events: visits
//! (`sessions`, a closed day's visits recomputed from its events; open
//! days' are built live in `visits/`) and the closed-day rollups
//! (`rollup`, the move of a day from the event tier to the aggregate tier,
//! counts only), which recompute the visits first. They run in the
//! background of every collector, under the purge fences of
//! `store::fence`. `cookbook` is the
//! analyst cookbook's SQL, for the tests and benches that run it.

pub mod cookbook;
pub mod rollup;
pub mod sessions;
