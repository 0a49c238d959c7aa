//! Contribution bounding and the sensitivity of a noisy release, derived
//! from its structure. The unit of privacy is a visitor id: one site, one
//! address and browser, one UTC day (a person on two devices is two). In a
//! release of D days over S sites, one person has at most D × S visitor
//! ids; each counts in at most C cells (its first C cells of the day; C = 1
//! when every dimension is fixed per visitor: site, location, device,
//! browser, OS), and in each cell adds at most 1 to `visitors` and at most
//! L (`max_events_per_cell`) to each of `pageviews`, `events`, `visits`.
//! So the release's L1 sensitivity, over all its counts, is
//! D × S × C × (per-cell sum), and the noise of every count is scaled to
//! it. The counting query enforces C and L (`export::cells`). Here, in
//! the configuration layer, so that `tacit policy` can state it.

use super::exports::{Dimension, ExportSpec, Field, Granularity};
use crate::model::export::Metric;

/// How far back (days) a new partner release is linked to earlier ones
/// (`export::linked::HORIZON_DAYS`; a test keeps them equal). The audit
/// store is kept the event retention plus this long (`store::tiers`).
pub const LINK_HORIZON_DAYS: u32 = 62;

/// Dimensions with one value per visitor id and day: the id hashes the
/// site, the address (so the location) and the user agent (so the
/// device, browser and OS); time dimensions are fixed within a day.
pub fn fixed_per_visitor(d: &Dimension) -> bool {
    matches!(
        d,
        Dimension::Field(
            Field::Site
                | Field::Country
                | Field::Region
                | Field::City
                | Field::Device
                | Field::Browser
                | Field::Os
                | Field::Date
                | Field::Week
                | Field::Month
        )
    )
}

/// The structure behind a release's sensitivity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Sensitivity {
    /// Days of the period (visitor ids are daily).
    pub days: u64,
    /// Sites of the export (visitor ids are per site).
    pub sites: u64,
    /// Cells one visitor id counts in, at most.
    pub cells_per_day: u64,
    /// Most one visitor id adds to one cell, summed over the counts.
    pub per_cell: u64,
    /// L1 sensitivity of the release: the product.
    pub total: u64,
}

impl Sensitivity {
    /// For `spec` over a period of `days` days; `None` without epsilon.
    pub fn of(spec: &ExportSpec, days: u64) -> Option<Self> {
        let dp = spec.dp?;
        let cells_per_day = cells_per_day(spec);
        let per_cell: u64 = spec
            .metrics
            .iter()
            .filter(|m| m.is_count())
            .map(|m| match m {
                Metric::Visitors => 1,
                _ => dp.max_events_per_cell,
            })
            .sum::<u64>()
            .max(1);
        let sites = spec.sites.len() as u64;
        Some(Self {
            days,
            sites,
            cells_per_day,
            per_cell,
            total: days * sites * cells_per_day * per_cell,
        })
    }

    /// The most it can be for the export's granularity (31-day months).
    pub fn at_most(spec: &ExportSpec) -> Option<Self> {
        let days = match spec.period {
            Granularity::Day => 1,
            Granularity::Week => 7,
            Granularity::Month => 31,
        };
        Self::of(spec, days)
    }

    /// In words, for the ledger and `tacit policy`.
    pub fn describe(&self, spec: &ExportSpec) -> String {
        let l = spec.dp.map_or(1, |d| d.max_events_per_cell);
        format!(
            "L1 sensitivity {} = {} day(s) × {} site(s) × {} cell(s) per visitor and day × {} per cell (each visitor counts once in visitors and at most {l} event(s) in each other count of a cell)",
            self.total, self.days, self.sites, self.cells_per_day, self.per_cell
        )
    }
}

/// Cells one visitor id may count in per day: 1 if every dimension is
/// fixed per visitor, else `max_cells_per_day`.
pub fn cells_per_day(spec: &ExportSpec) -> u64 {
    if spec.dimensions.iter().all(fixed_per_visitor) {
        1
    } else {
        spec.dp.map_or(1, |d| d.max_cells_per_day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::exports::{validate_all, RawExport};

    fn spec(dims: &[&str], metrics: &[&str], period: &str, k: u64, l: u64) -> ExportSpec {
        let mut raw: RawExport = toml::from_str(
            "name = \"e\"\npartner = \"p\"\nsites = [\"example.com\"]\ndimensions = []\nmetrics = []\nepsilon = 1.0\nbudget = 2.0\n",
        )
        .unwrap();
        raw.dimensions = dims.iter().map(|s| s.to_string()).collect();
        raw.metrics = metrics.iter().map(|s| s.to_string()).collect();
        raw.period = period.into();
        raw.max_cells_per_day = k;
        raw.max_events_per_cell = l;
        validate_all(&[raw], &["example.com".to_string()])
            .unwrap()
            .remove(0)
    }

    #[test]
    fn a_weekly_release_by_page_counts_seven_days_of_k_cells() {
        let s = spec(&["pathname"], &["visitors"], "week", 3, 1);
        let d = Sensitivity::at_most(&s).unwrap();
        assert_eq!(
            (d.days, d.cells_per_day, d.per_cell, d.total),
            (7, 3, 1, 21)
        );
        // Fixed-per-visitor dimensions: one cell a day, whatever K is.
        let s = spec(&["country", "date"], &["visitors", "events"], "month", 3, 4);
        let d = Sensitivity::at_most(&s).unwrap();
        assert_eq!(
            (d.days, d.cells_per_day, d.per_cell, d.total),
            (31, 1, 5, 155)
        );
        assert!(d.describe(&s).contains("155 = 31 day(s)"));
        let s = spec(&["pathname"], &["visitors"], "day", 2, 1);
        assert_eq!(Sensitivity::of(&s, 1).unwrap().total, 2);
    }
}
