//! What an export's source allows, and what one partner's exports must
//! share. An email export (one with an `email_*` dimension) counts
//! readers' opens and clicks, so it breaks down only by time, site and
//! email dimensions, and releases only `visitors` (distinct daily readers)
//! and `events` (opens and clicks). A partner's exports share one source
//! and one linked system, whose atoms combine every non-time dimension the
//! partner receives, so their releases are checked together.

use super::exports::{err, ExportSpec, SpecError, MAX_LINKED_DIMENSIONS};
use crate::model::export::{source_of, Dimension, Field, Metric, Source};

/// Check an export's dimensions and metrics against its source.
pub fn check_source(
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

/// Check that each partner's exports share a source, and set each one's
/// `finest` dimensions: every non-time dimension of the partner's exports.
pub fn link(out: &mut [ExportSpec]) -> Result<(), SpecError> {
    for (k, e) in out.iter().enumerate() {
        if let Some(other) = out[..k]
            .iter()
            .find(|o| o.partner == e.partner && o.source != e.source)
        {
            return Err(err(
                k,
                &e.name,
                "dimensions",
                format!("partner {:?} also receives {:?}, from the other source; a partner's exports are all web or all email, so that their releases can be checked together", e.partner, other.name),
            ));
        }
    }
    for i in 0..out.len() {
        let partner = out[i].partner.clone();
        let mut finest: Vec<Dimension> = out
            .iter()
            .filter(|e| e.partner == partner)
            .flat_map(|e| e.dimensions.iter().cloned())
            .filter(|d| {
                !matches!(
                    d,
                    Dimension::Field(Field::Date | Field::Week | Field::Month | Field::Site)
                )
            })
            .collect();
        finest.sort_by_key(|d| d.name());
        finest.dedup();
        if finest.len() > MAX_LINKED_DIMENSIONS {
            let names: Vec<&str> = out
                .iter()
                .filter(|e| e.partner == partner)
                .map(|e| e.name.as_str())
                .collect();
            return Err(err(
                i,
                &out[i].name,
                "dimensions",
                format!(
                    "partner {partner:?}'s exports ({}) together break down by {} dimensions ({}); releases to one partner are checked together, over the combinations of all of them, and more than {MAX_LINKED_DIMENSIONS} cannot be checked in reasonable time. Use fewer dimensions across these exports",
                    names.join(", "),
                    finest.len(),
                    finest.iter().map(|d| d.name()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        out[i].finest = finest;
    }
    Ok(())
}
