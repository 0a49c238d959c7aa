//! The `[[exports]]` table of `tacit.toml` as written, with its defaults.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    /// Export name, unique per partner.
    pub name: String,
    pub partner: String,
    pub sites: Vec<String>,
    pub dimensions: Vec<String>,
    pub metrics: Vec<String>,
    /// Release period: "month" (default), "week" or "day".
    #[serde(default = "default_period")]
    pub period: String,
    #[serde(default = "default_k")]
    pub min_visitors: u64,
    #[serde(default)]
    pub round_to: Option<u64>,
    /// How wide (in visitors) the interval a partner can narrow a withheld
    /// small cell to must stay, across everything it received; default k,
    /// never below k/2.
    #[serde(default)]
    pub protection: Option<u64>,
    /// How the audit across the partner's releases treats a cell of this
    /// export that reaches a cell an earlier release withheld: "fast"
    /// (default) or "full".
    #[serde(default)]
    pub audit: Option<String>,
    #[serde(default)]
    pub epsilon: Option<f64>,
    /// Epsilon per partner per calendar month.
    #[serde(default)]
    pub budget: Option<f64>,
    /// Refused: the sensitivity is derived from the release's structure
    /// (kept only to name the replacement keys in the error).
    #[serde(default)]
    pub sensitivity: Option<u64>,
    /// Contribution bound: each visitor's events, page views and visits
    /// counted in one cell, at most (with epsilon set).
    #[serde(default = "default_one")]
    pub max_events_per_cell: u64,
    /// Contribution bound: cells one visitor counts in per day, at most
    /// (its first ones that day; with epsilon set).
    #[serde(default = "default_one")]
    pub max_cells_per_day: u64,
    /// The privacy-budget account the partner's releases charge; default
    /// the partner's name. Keeps the account across a partner rename.
    #[serde(default)]
    pub budget_account: Option<String>,
    /// How long after a period's end it may be released when no collector
    /// reports its write-ahead log (and how recent a report must be to be
    /// waited for); default 300, at least twice the sink's flush interval
    /// plus 30.
    #[serde(default = "default_settle")]
    pub settle_seconds: u64,
    #[serde(default = "default_format")]
    pub format: String,
    /// Add a total row computed over the released cells only.
    #[serde(default)]
    pub totals: bool,
    /// `city` may be a dimension only with this set and k >= 50.
    #[serde(default)]
    pub allow_city: bool,
    /// Custom property keys whose values may be exported (`prop:<key>`).
    #[serde(default)]
    pub allowed_properties: Vec<String>,
    /// SHA-256 (hex) of the bearer tokens that may fetch this export.
    #[serde(default)]
    pub token_sha256: Vec<String>,
    #[serde(default = "default_rate")]
    pub rate_limit_per_minute: u32,
}

fn default_period() -> String {
    "month".into()
}
fn default_k() -> u64 {
    10
}
/// Default `settle_seconds`.
pub const DEFAULT_SETTLE_SECONDS: u64 = 300;

fn default_settle() -> u64 {
    DEFAULT_SETTLE_SECONDS
}

fn default_one() -> u64 {
    1
}
fn default_format() -> String {
    "csv".into()
}
fn default_rate() -> u32 {
    10
}
