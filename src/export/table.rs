//! The released table, from exact cells and the suppression decision:
//! withheld cells are left out, then released counts get noise (if the
//! export has an epsilon: the whole epsilon, scaled to the release's L1
//! sensitivity over all its counts, `bound`) and rounding, then ratios and
//! the optional total row are computed from the released numbers only.

use rand::{CryptoRng, Rng};

use super::cells::Cell;
use super::format::{ReleasedTable, Value};
use super::noise::DiscreteLaplace;
use crate::config::exports::ExportSpec;
use crate::model::export::Metric;

/// Noise then rounding, as configured for one export.
struct Protect<'a, R: ?Sized> {
    mech: Option<DiscreteLaplace>,
    round_to: Option<u64>,
    rng: &'a mut R,
}

impl<R: Rng + CryptoRng + ?Sized> Protect<'_, R> {
    fn count(&mut self, x: u64) -> u64 {
        let x = match &self.mech {
            Some(m) => m.apply(x, self.rng),
            None => x,
        };
        match self.round_to {
            Some(r) if r > 1 => (x + r / 2) / r * r,
            _ => x,
        }
    }
}

/// Sums over the released cells (for the total row).
#[derive(Default)]
struct Totals {
    visits: u64,
    pageviews: u64,
    events: u64,
    /// Exact, for ratios: bounces and durations are never released as counts.
    exact_visits: u64,
    bounces: u64,
    duration_ms: u64,
}

fn ratio(num: f64, visits: u64) -> Value {
    if visits > 0 {
        Value::Ratio(num / visits as f64)
    } else {
        Value::Null
    }
}

fn column_type(m: Metric) -> &'static str {
    if m.is_count() {
        "Nullable(UInt64)"
    } else {
        "Nullable(Float64)"
    }
}

/// One released cell's metric values, adding its counts to `t`.
fn cell_values<R: Rng + CryptoRng + ?Sized>(
    spec: &ExportSpec,
    c: &Cell,
    p: &mut Protect<'_, R>,
    t: &mut Totals,
) -> Vec<Value> {
    let values = spec
        .metrics
        .iter()
        .map(|m| match m {
            Metric::Visitors => Value::Count(p.count(c.visitors)),
            Metric::Visits => {
                let v = p.count(c.visits);
                t.visits += v;
                Value::Count(v)
            }
            Metric::Pageviews => {
                let v = p.count(c.pageviews);
                t.pageviews += v;
                Value::Count(v)
            }
            Metric::Events => {
                let v = p.count(c.events);
                t.events += v;
                Value::Count(v)
            }
            Metric::BounceRate => ratio(c.bounces as f64, c.visits),
            Metric::VisitDuration => ratio(c.duration_ms as f64 / 1000.0, c.visits),
        })
        .collect();
    t.exact_visits += c.visits;
    t.bounces += c.bounces;
    t.duration_ms += c.duration_ms;
    values
}

/// The total row's metric values.
fn total_values(spec: &ExportSpec, t: &Totals) -> Vec<Value> {
    spec.metrics
        .iter()
        .map(|m| match m {
            // Distinct visitors do not add up across rows.
            Metric::Visitors => Value::Null,
            Metric::Visits => Value::Count(t.visits),
            Metric::Pageviews => Value::Count(t.pageviews),
            Metric::Events => Value::Count(t.events),
            Metric::BounceRate => ratio(t.bounces as f64, t.exact_visits),
            Metric::VisitDuration => ratio(t.duration_ms as f64 / 1000.0, t.exact_visits),
        })
        .collect()
}

/// The released table: suppression, then noise, then rounding, then
/// ratios and totals from the released numbers only. `sensitivity` is the
/// release's L1 sensitivity (`bound::Sensitivity::total`).
pub fn build_table<R: Rng + CryptoRng + ?Sized>(
    spec: &ExportSpec,
    cells: &[Cell],
    hidden: &[bool],
    sensitivity: u64,
    rng: &mut R,
) -> ReleasedTable {
    let mut protect = Protect {
        mech: spec
            .dp
            .map(|dp| DiscreteLaplace::new(dp.epsilon_micros, sensitivity)),
        round_to: spec.round_to,
        rng,
    };
    let mut columns: Vec<String> = spec.dimensions.iter().map(|d| d.name()).collect();
    columns.extend(spec.metrics.iter().map(|m| m.as_str().to_string()));
    let mut types: Vec<&'static str> = vec!["String"; spec.dimensions.len()];
    types.extend(spec.metrics.iter().map(|m| column_type(*m)));
    let mut totals = Totals::default();
    let mut rows = Vec::new();
    for (c, _) in cells.iter().zip(hidden).filter(|(_, h)| !**h) {
        let mut row: Vec<Value> = c.keys.iter().cloned().map(Value::Text).collect();
        row.extend(cell_values(spec, c, &mut protect, &mut totals));
        rows.push(row);
    }
    if spec.totals && !rows.is_empty() {
        let mut row: Vec<Value> = spec
            .dimensions
            .iter()
            .map(|_| Value::Text("(total of released rows)".into()))
            .collect();
        row.extend(total_values(spec, &totals));
        rows.push(row);
    }
    ReleasedTable {
        columns,
        types,
        rows,
    }
}
