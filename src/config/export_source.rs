//! Which figures an export's source can give: an email export (one with an
//! `email_*` dimension) counts readers' opens and clicks, so it breaks
//! down only by time, site and email dimensions, and releases only
//! `visitors` (distinct daily readers) and `events` (opens and clicks).
//! One partner's exports share one source, so their releases are checked
//! together over the same rows.

use super::exports::{err, SpecError};
use crate::model::export::{source_of, Dimension, Metric, Source};

/// Check an export's dimensions and metrics against its source.
pub fn check(
    i: usize,
    name: &str,
    dims: &[Dimension],
    metrics: &[Metric],
) -> Result<Source, SpecError> {
    let source = source_of(dims);
    if source == Source::Web {
        return Ok(source);
    }
    if let Some(d) = dims.iter().find(|d| d.source() == Some(Source::Web)) {
        return Err(err(
            i,
            name,
            "dimensions",
            format!("{} is a web dimension; an email export (email_campaign, email_variant, email_kind) breaks down only by date, week, month, site and email dimensions", d.name()),
        ));
    }
    if let Some(m) = metrics
        .iter()
        .find(|m| !matches!(m, Metric::Visitors | Metric::Events))
    {
        return Err(err(
            i,
            name,
            "metrics",
            format!("{m} is not an email figure; an email export releases visitors (distinct daily readers) and events (opens and clicks)"),
        ));
    }
    Ok(source)
}

/// Every export of a partner has the same source.
pub fn same_per_partner(specs: &[(usize, &str, &str, Source)]) -> Result<(), SpecError> {
    for (k, &(i, name, partner, source)) in specs.iter().enumerate() {
        if let Some(other) = specs[..k]
            .iter()
            .find(|(_, _, p, s)| *p == partner && *s != source)
        {
            return Err(err(
                i,
                name,
                "dimensions",
                format!("partner {partner:?} also receives {:?}, from the other source; a partner's exports are all web or all email, so that their releases can be checked together", other.1),
            ));
        }
    }
    Ok(())
}
