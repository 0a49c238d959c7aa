//! Export definitions: the `[[exports]]` tables of `tacit.toml`, and their
//! pure validation into an [`ExportSpec`]. Validation refuses anything that
//! could identify a person (identifiers, IPs, full URLs, query strings,
//! free-form property values), weak thresholds, and differential privacy
//! without a budget; every error names the export and the field.
//!
//! `raw.rs`: the `[[exports]]` table as written; `spec.rs`: a validated
//! export; `validate.rs`: the validation of every export (and its config
//! hash); `checks.rs`: the check of each field. This file holds the error.

mod checks;
mod raw;
mod spec;
mod validate;

pub use raw::{RawExport, DEFAULT_SETTLE_SECONDS};
pub use spec::{Dp, ExportSpec, LinkAudit};
pub use validate::{validate_all, with_site_properties};

// The validation reaches the configured sites and the partners' checks
// through `super::`.
use super::{partners, Site};

pub use crate::model::export::{
    Dimension, Field, Format, Granularity, Metric, Source, MAX_DIMENSIONS,
};

/// A refused `[[exports]]` entry: which export, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("exports[{index}] ({name}).{field}: {reason}")]
pub struct SpecError {
    pub index: usize,
    pub name: String,
    pub field: String,
    pub reason: String,
}
/// At most this many distinct non-time dimensions across one partner's
/// exports: the linked audit works on their combinations.
pub const MAX_LINKED_DIMENSIONS: usize = 4;

pub(super) fn err(i: usize, name: &str, field: &str, reason: impl Into<String>) -> SpecError {
    SpecError {
        index: i,
        name: name.to_string(),
        field: field.to_string(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests;
