//! A validated export: what it releases (hashed into its config hash),
//! its differential privacy settings, and who may fetch it.

use serde::Serialize;

use super::{Dimension, Format, Granularity, Metric, Source};

/// Differential privacy settings of an export. Epsilon and the budget are
/// exact in millionths (at most six decimals are accepted), so the sampler
/// and the budget account never round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dp {
    pub epsilon: f64,
    pub budget: f64,
    pub epsilon_micros: u64,
    pub budget_micros: u64,
    /// Each visitor counts at most this many events (page views, visits)
    /// in one cell.
    pub max_events_per_cell: u64,
    /// Each visitor counts in at most this many cells per day (1 when every
    /// dimension is fixed per visitor).
    pub max_cells_per_day: u64,
}
/// How the audit across a partner's releases treats the cells of a new
/// release that reach a cell an earlier release withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkAudit {
    /// Released only when the partner's earlier figures already imply
    /// them: the earlier releases' cells need no new audit (seconds for a
    /// month of daily and weekly releases), fewer cells released.
    #[default]
    Fast,
    /// Released when a search over everything the partner holds shows
    /// every earlier withheld cell still protected: more cells released,
    /// minutes for a month of a large breakdown.
    Full,
}

impl LinkAudit {
    fn is_fast(&self) -> bool {
        *self == LinkAudit::Fast
    }
}

/// A validated export definition.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSpec {
    pub name: String,
    pub partner: String,
    pub sites: Vec<String>,
    pub dimensions: Vec<Dimension>,
    pub metrics: Vec<Metric>,
    /// Web (events) or email (opens and clicks); from the dimensions.
    #[serde(skip)]
    pub source: Source,
    pub period: Granularity,
    pub min_visitors: u64,
    pub round_to: Option<u64>,
    /// Protection level of the linked audit (visitors).
    pub protection: u64,
    /// How the linked audit decides on the cells that reach an earlier
    /// release's withheld cells (left out of the hash when the default).
    #[serde(skip_serializing_if = "LinkAudit::is_fast")]
    pub audit: LinkAudit,
    pub dp: Option<Dp>,
    pub format: Format,
    pub totals: bool,
    /// SHA-256 digests of the accepted bearer tokens (configured as hex).
    #[serde(skip)]
    pub token_sha256: Vec<[u8; 32]>,
    #[serde(skip)]
    pub rate_limit_per_minute: u32,
    /// SHA-256 of what the export releases (not of who may fetch it).
    pub config_hash: String,
    /// The finest dimensions across this partner's exports (the atoms of
    /// the linked audit), set once every export is validated.
    #[serde(skip)]
    pub finest: Vec<Dimension>,
    /// The privacy-budget account (`budget_account`, default the partner).
    #[serde(skip)]
    pub budget_account: String,
    /// `settle_seconds`, in milliseconds (`export::settle`).
    #[serde(skip)]
    pub settle_ms: i64,
}
