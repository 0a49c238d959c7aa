//! Suppression across everything one partner has received.
//!
//! A partner keeps every file. Visitor ids are daily, so visitors add up
//! over days; breakdowns are modelled as adding up over their finer values
//! too (which gives the partner more than it has, so the check errs on the
//! safe side where it is not exact). Every released cell is then a sum of
//! atoms: one site, one
//! day, one combination of the finest dimensions any of the partner's
//! exports uses, that held at least one visitor. Atoms that every cell
//! treats alike are merged into one variable; a variable is only known to
//! be non-negative (a withheld cell does not show how many atoms it holds).
//!
//! The partner's knowledge is a linear system: each exact released cell
//! fixes the sum of its atoms (a rounded one, to within half the rounding
//! step). Coarser breakdowns a partner receives are modelled by the
//! releases that carry them; figures it may know from elsewhere (a table's
//! margins, a site's total) are guarded within each table by `suppress`.
//! For each withheld small cell of any release, two linear programs give
//! the least and the most visitors it can hold; the interval must be at
//! least the protection level wide. Linear programming is the attacker's
//! strongest tractable tool and the standard audit of statistical offices;
//! integrality can only narrow an interval by less than one visitor on each
//! side, so a width of at least `protection` is required of the LP bounds.
//!
//! When a cell of the new release fails the audit, its cheapest released
//! neighbour in the new release is withheld as well, and the audit runs
//! again; earlier releases never change. Noisy releases add no equation
//! (their noise is what protects them).

use std::collections::{BTreeMap, HashMap};

use microlp::{ComparisonOp, OptimizationDirection, Problem};

use super::suppress::find;

/// More variables than this in one linked group: refuse rather than
/// release unchecked.
pub const MAX_VARIABLES: usize = 4000;

/// One cell of a release, in the atom model.
#[derive(Debug, Clone)]
pub struct LinkedCell {
    /// Which release it belongs to (index into the caller's list).
    pub release: usize,
    /// Indices of the atoms it sums.
    pub atoms: Vec<usize>,
    /// Exact visitors (known to tacit, not to the partner if withheld).
    pub visitors: u64,
    pub withheld: bool,
    /// Its published value is exact (no noise) and enters the system.
    pub exact: bool,
    /// Rounding step of the published value (1: none).
    pub round_to: u64,
    /// Its visitors are the sum of its atoms' visitors (a visitor falls in
    /// one atom: the finest dimensions it lacks are fixed per visitor and
    /// day). Otherwise a visitor may fall in several of its atoms, and the
    /// atoms only sum to at least its visitors.
    pub additive: bool,
    /// Below k: a cell the audit protects.
    pub small: bool,
}

/// Why the linked check could not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkCheckError {
    #[error("{0} unknowns are linked across this partner's releases; too many to audit. Coarsen the exports' dimensions")]
    TooLinked(usize),
    #[error("a withheld small cell of an earlier release can be narrowed to {width} visitors whatever this release withholds; refusing to release")]
    Unprotectable { width: u64 },
    #[error("the audit's linear program failed: {0}")]
    Solver(String),
}

/// The audit's verdict on one withheld small cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub low: f64,
    /// `f64::INFINITY` when nothing bounds it from above.
    pub high: f64,
}

impl Bounds {
    pub fn width(&self) -> f64 {
        self.high - self.low
    }
}

/// Variables: atoms grouped by the set of cells that contain them.
struct System {
    /// How many variables there are.
    n_vars: usize,
    /// Per cell: its variables.
    vars: Vec<Vec<usize>>,
}

fn system(cells: &[LinkedCell], n_atoms: usize) -> System {
    let mut member: Vec<Vec<usize>> = vec![Vec::new(); n_atoms];
    for (c, cell) in cells.iter().enumerate() {
        for &a in &cell.atoms {
            member[a].push(c);
        }
    }
    let mut by_sig: HashMap<&[usize], usize> = HashMap::new();
    let mut of_atom = vec![usize::MAX; n_atoms];
    for (a, sig) in member.iter().enumerate() {
        if sig.is_empty() {
            continue;
        }
        let next = by_sig.len();
        of_atom[a] = *by_sig.entry(sig.as_slice()).or_insert(next);
    }
    let vars = cells
        .iter()
        .map(|c| {
            let mut v: Vec<usize> = c.atoms.iter().map(|&a| of_atom[a]).collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    System {
        n_vars: by_sig.len(),
        vars,
    }
}

/// Does a cell's value enter the partner's system of equations?
fn known(c: &LinkedCell) -> bool {
    c.exact && !c.withheld
}

/// The root of each variable's group: variables are grouped when a known
/// cell sums them together (union-find).
fn roots(sys: &System, cells: &[LinkedCell]) -> Vec<usize> {
    let n = sys.n_vars;
    let mut parent: Vec<usize> = (0..n).collect();
    for (c, cell) in cells.iter().enumerate() {
        if !known(cell) {
            continue;
        }
        let vs = &sys.vars[c];
        for w in vs.windows(2) {
            let (a, b) = (find(&mut parent, w[0]), find(&mut parent, w[1]));
            parent[a] = b;
        }
    }
    (0..n).map(|v| find(&mut parent, v)).collect()
}

/// The variables grouped with any of `start`, in order.
fn component(root: &[usize], start: &[usize]) -> Vec<usize> {
    let mut rs: Vec<usize> = start.iter().map(|&v| root[v]).collect();
    rs.sort_unstable();
    rs.dedup();
    (0..root.len())
        .filter(|&v| rs.binary_search(&root[v]).is_ok())
        .collect()
}

/// Least and most visitors cell `t` can hold, given every known cell.
fn bounds(
    sys: &System,
    cells: &[LinkedCell],
    root: &[usize],
    t: usize,
) -> Result<Bounds, LinkCheckError> {
    let comp = component(root, &sys.vars[t]);
    if comp.len() > MAX_VARIABLES {
        return Err(LinkCheckError::TooLinked(comp.len()));
    }
    let col: HashMap<usize, usize> = comp.iter().enumerate().map(|(i, &v)| (v, i)).collect();
    let rows: Vec<&LinkedCell> = cells
        .iter()
        .enumerate()
        .filter(|(c, cell)| known(cell) && sys.vars[*c].iter().any(|v| col.contains_key(v)))
        .map(|(_, cell)| cell)
        .collect();
    let row_vars: Vec<Vec<usize>> = cells
        .iter()
        .enumerate()
        .filter(|(c, cell)| known(cell) && sys.vars[*c].iter().any(|v| col.contains_key(v)))
        .map(|(c, _)| sys.vars[c].iter().map(|v| col[v]).collect())
        .collect();
    let mut in_target = vec![false; comp.len()];
    for v in &sys.vars[t] {
        in_target[col[v]] = true;
    }
    let solve = |dir: OptimizationDirection| -> Result<f64, LinkCheckError> {
        let mut p = Problem::new(dir);
        let xs: Vec<_> = in_target
            .iter()
            .map(|&t| p.add_var(if t { 1.0 } else { 0.0 }, (0.0, f64::INFINITY)))
            .collect();
        for (cell, vars) in rows.iter().zip(&row_vars) {
            let expr: Vec<_> = vars.iter().map(|&i| (xs[i], 1.0)).collect();
            let v = cell.visitors as f64;
            if !cell.additive {
                p.add_constraint(&expr[..], ComparisonOp::Ge, v);
            } else if cell.round_to > 1 {
                // The partner sees round(v): v lies within half a step.
                let published =
                    ((cell.visitors + cell.round_to / 2) / cell.round_to * cell.round_to) as f64;
                let half = cell.round_to as f64 / 2.0;
                p.add_constraint(&expr[..], ComparisonOp::Ge, (published - half).max(0.0));
                p.add_constraint(&expr[..], ComparisonOp::Le, published + half);
            } else {
                p.add_constraint(&expr[..], ComparisonOp::Eq, v);
            }
        }
        match p.solve() {
            Ok(out) => out
                .into_solution()
                .map(|s| s.objective())
                .map_err(|_| LinkCheckError::Solver("interrupted".into())),
            Err(microlp::Error::Unbounded) => Ok(f64::INFINITY),
            Err(e) => Err(LinkCheckError::Solver(e.to_string())),
        }
    };
    Ok(Bounds {
        low: solve(OptimizationDirection::Minimize)?,
        high: solve(OptimizationDirection::Maximize)?,
    })
}

/// The bounds of every withheld small cell (cell index → bounds).
pub fn audit(
    cells: &[LinkedCell],
    n_atoms: usize,
) -> Result<BTreeMap<usize, Bounds>, LinkCheckError> {
    let sys = system(cells, n_atoms);
    let root = roots(&sys, cells);
    let mut out = BTreeMap::new();
    for (t, c) in cells.iter().enumerate() {
        if c.withheld && c.small && !sys.vars[t].is_empty() {
            out.insert(t, bounds(&sys, cells, &root, t)?);
        }
    }
    Ok(out)
}

/// Withhold more cells of release `new` until every withheld small cell of
/// every release is at least `protection` visitors wide. Returns the cells
/// newly withheld (indices into `cells`, which is updated).
pub fn protect(
    cells: &mut [LinkedCell],
    n_atoms: usize,
    new: usize,
    protection: u64,
) -> Result<Vec<usize>, LinkCheckError> {
    let mut added = Vec::new();
    let mut passed = vec![false; cells.len()];
    loop {
        let sys = system(cells, n_atoms);
        let root = roots(&sys, cells);
        // Only groups the new release's figures reach can have changed
        // since the earlier releases were audited.
        let mut touched: Vec<usize> = cells
            .iter()
            .enumerate()
            .filter(|(_, c)| c.release == new && known(c))
            .flat_map(|(i, _)| sys.vars[i].iter().map(|&v| root[v]))
            .collect();
        touched.sort_unstable();
        touched.dedup();
        let mut failing = None;
        for (t, c) in cells.iter().enumerate() {
            if !(c.withheld && c.small) || sys.vars[t].is_empty() || passed[t] {
                continue;
            }
            let reached = sys.vars[t]
                .iter()
                .any(|&v| touched.binary_search(&root[v]).is_ok());
            if c.release != new && !reached {
                continue;
            }
            let b = bounds(&sys, cells, &root, t)?;
            if b.width() + 1e-6 < protection as f64 {
                failing = Some((t, b));
                break;
            }
            // Withholding more can only widen it: no need to look again.
            passed[t] = true;
        }
        let Some((t, b)) = failing else {
            return Ok(added);
        };
        // The new release's cheapest released cell sharing a variable with
        // the failing cell, else anywhere in its linked group.
        let tv = &sys.vars[t];
        let comp = component(&root, tv);
        let candidates = |direct: bool| {
            cells
                .iter()
                .enumerate()
                .filter(|(c, cell)| {
                    cell.release == new
                        && !cell.withheld
                        && sys.vars[*c].iter().any(|v| {
                            if direct {
                                tv.contains(v)
                            } else {
                                comp.binary_search(v).is_ok()
                            }
                        })
                })
                .min_by_key(|(c, cell)| (cell.visitors, *c))
                .map(|(c, _)| c)
        };
        match candidates(true).or_else(|| candidates(false)) {
            Some(c) => {
                cells[c].withheld = true;
                added.push(c);
            }
            None => {
                return Err(LinkCheckError::Unprotectable {
                    width: b.width().max(0.0).floor() as u64,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(release: usize, atoms: &[usize], visitors: u64, k: u64) -> LinkedCell {
        LinkedCell {
            release,
            atoms: atoms.to_vec(),
            visitors,
            withheld: visitors < k,
            exact: true,
            round_to: 1,
            small: visitors < k,
            additive: true,
        }
    }

    /// Seven days of one key: day 3 holds 3 visitors (withheld), the
    /// others 20; the week is released too.
    fn week(k: u64) -> Vec<LinkedCell> {
        let mut cells: Vec<LinkedCell> = (0..7)
            .map(|d| cell(0, &[d], if d == 3 { 3 } else { 20 }, k))
            .collect();
        cells.push(cell(1, &[0, 1, 2, 3, 4, 5, 6], 123, k));
        cells
    }

    #[test]
    fn the_week_minus_the_days_pins_a_withheld_day() {
        let cells = week(10);
        let b = audit(&cells, 7).unwrap();
        let day3 = b[&3];
        assert!(
            (day3.low - 3.0).abs() < 1e-6 && (day3.high - 3.0).abs() < 1e-6,
            "{day3:?}"
        );
    }

    #[test]
    fn withholding_a_neighbour_in_the_new_release_protects_it() {
        let mut cells = week(10);
        // The week is the new release: withholding it is the only fix.
        let added = protect(&mut cells, 7, 1, 10).unwrap();
        assert_eq!(added, vec![7]);
        let b = audit(&cells, 7).unwrap();
        assert!(b[&3].width() >= 10.0, "{:?}", b[&3]);
    }

    #[test]
    fn when_the_days_are_new_a_second_day_is_withheld() {
        let mut cells = week(10);
        for c in cells.iter_mut().take(7) {
            c.release = 1;
        }
        cells[7].release = 0;
        let added = protect(&mut cells, 7, 1, 10).unwrap();
        assert_eq!(added.len(), 1);
        let b = audit(&cells, 7).unwrap();
        assert!(b[&3].width() >= 10.0, "{:?}", b[&3]);
    }

    #[test]
    fn a_pair_summing_to_little_is_narrow_though_not_determined() {
        // Two withheld cells of 1 and 2 visitors, their sum 3 released (by
        // another release): algebra cannot pin either, the bounds say each
        // lies in [0, 3].
        let cells = vec![
            cell(0, &[0], 1, 10),
            cell(0, &[1], 2, 10),
            LinkedCell {
                small: false,
                withheld: false,
                ..cell(0, &[0, 1], 3, 10)
            },
        ];
        let b = audit(&cells, 2).unwrap();
        assert!(b[&0].width() < 10.0 && b[&1].width() < 10.0, "{b:?}");
    }
}
