//! Partner exports: aggregate releases that identify no one, and the
//! ledger of every release.
//!
//! A release runs in a fixed order: parse the period (it must be over, and
//! within the event retention, since exact visitor counts need events) →
//! count every cell exactly (`cells`) → withhold cells under k and their
//! complements (`suppress`) → add discrete Laplace noise to the released
//! counts if the export has an epsilon, charging the partner's monthly
//! budget (`noise`) → round → write the file (`format`) → append to the
//! ledger (`ledger`) → hand the file over. Suppression is decided on exact
//! counts before noise, within the table (`suppress`) and then across every
//! release the partner already holds (`link`, on the store of `linked`);
//! rounding is applied after noise. A period is released once per export
//! and definition: later requests, concurrent ones and other replicas
//! included, get the same bytes and spend nothing.

pub use crate::config::bound;
pub mod budget;
pub mod cells;
pub mod format;
pub mod ledger;
pub mod link;
pub mod linked;
pub mod noise;
pub mod period;
mod release;
pub mod settle;
pub mod suppress;
pub mod table;

use crate::config::exports::ExportSpec;
use crate::model::clock::{day_of, format_day};
use period::Period;
pub use release::{release, release_with, Linking};
pub use table::build_table;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("no export for partner {partner:?}{}", name.as_ref().map(|n| format!(" named {n:?}")).unwrap_or_default())]
    UnknownExport {
        partner: String,
        name: Option<String>,
    },
    #[error("partner {0:?} has several exports; name one ({1})")]
    Ambiguous(String, String),
    #[error(transparent)]
    Period(#[from] period::PeriodError),
    #[error("period {period} is not over yet (it ends {ends}); a partial period could be subtracted from the full one later")]
    NotOver { period: String, ends: String },
    #[error("period {period} starts on or before the day the event retention ({days} days) is deleting: exports need exact visitor counts, which only complete event days hold")]
    Expired { period: String, days: u64 },
    #[error("period {period} is not settled yet: {reason}; a release now could differ from a later one by the rows still arriving")]
    NotSettled { period: String, reason: String },
    #[error("privacy budget exceeded for partner {partner:?} (budget_account {account:?}): {spent:.6} of {budget:.6} epsilon spent on {month} (every release whose period touches the month counts); this release needs {epsilon:.6}")]
    Budget {
        partner: String,
        account: String,
        month: String,
        spent: f64,
        budget: f64,
        epsilon: f64,
    },
    #[error("this period is being released by another request that did not finish; try again")]
    InProgress,
    #[error(transparent)]
    Linked(#[from] link::LinkCheckError),
    #[error(transparent)]
    TooManySmallCells(#[from] suppress::TooManySmallCells),
    #[error("clickhouse: {}", crate::store::log_safe(.0))]
    ClickHouse(#[from] clickhouse::error::Error),
}

/// How a release was requested (recorded in the ledger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum ReleaseChannel {
    Cli,
    Api,
}

crate::model::named::named!(ReleaseChannel);

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub partner: String,
    pub export: String,
    pub period: String,
    pub rows: u64,
    pub suppressed: u64,
    pub epsilon_spent: f64,
    pub sha256: String,
    /// A repeat of an earlier noisy release.
    pub repeat: bool,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} {}: {} rows, {} suppressed cells, epsilon spent {}{}, sha256 {}",
            self.partner,
            self.export,
            self.period,
            self.rows,
            self.suppressed,
            self.epsilon_spent,
            if self.repeat {
                " (repeat of an earlier noisy release)"
            } else {
                ""
            },
            self.sha256
        )
    }
}

pub struct Released {
    pub bytes: Vec<u8>,
    pub summary: Summary,
}

/// Find a partner's export by name, or its only one.
pub fn find<'a>(
    exports: &'a [ExportSpec],
    partner: &str,
    name: Option<&str>,
) -> Result<&'a ExportSpec, ExportError> {
    let mine: Vec<&ExportSpec> = exports.iter().filter(|e| e.partner == partner).collect();
    match name {
        Some(n) => mine.into_iter().find(|e| e.name == n),
        None if mine.len() > 1 => {
            return Err(ExportError::Ambiguous(
                partner.into(),
                mine.iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ))
        }
        None => mine.into_iter().next(),
    }
    .ok_or_else(|| ExportError::UnknownExport {
        partner: partner.into(),
        name: name.map(Into::into),
    })
}

/// Parse and check a period against the clock and the event retention.
pub fn check_period(
    spec: &ExportSpec,
    period: &str,
    now_ms: i64,
    event_ttl_days: u64,
) -> Result<Period, ExportError> {
    let p = period::parse(period, spec.period)?;
    let today = day_of(now_ms);
    if p.end > today {
        return Err(ExportError::NotOver {
            period: p.label,
            ends: format_day(p.end),
        });
    }
    // The oldest retained day is being deleted today (its TTL expires
    // during the day): a period starting on it would count a partial day.
    if p.start <= today - event_ttl_days as i32 {
        return Err(ExportError::Expired {
            period: p.label,
            days: event_ttl_days,
        });
    }
    Ok(p)
}

/// Default file name of a release.
pub fn file_name(spec: &ExportSpec, period: &str) -> String {
    format!(
        "{}_{}_{}.{}",
        spec.partner,
        spec.name,
        period,
        spec.format.extension()
    )
}
