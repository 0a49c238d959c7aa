//! Cell suppression. Primary: a cell with fewer than k distinct visitors
//! (exact counts) is not released. Complementary: a partner may know any
//! coarser breakdown of the same data (another export with fewer
//! dimensions, a coarser period, public figures): the sums over the cells
//! that agree on any subset of the dimensions, down to the grand total. Released cells plus such totals must
//! not pin down a suppressed cell. A suppressed cell is pinned exactly when
//! its unit vector lies in the row space of the known marginals restricted
//! to the suppressed cells; we test that per connected component by
//! Gaussian elimination, and suppress more cells until no small (primary)
//! cell is pinned; a complementary cell has k visitors or more, so working
//! it out harms no one. Marginals whose visitor sum is below k are treated as
//! unknown: tacit would suppress them too.

use std::collections::HashMap;

/// What suppression needs to know of a cell.
pub trait CellKeys {
    fn keys(&self) -> &[String];
    fn visitors(&self) -> u64;
}

/// Above this many suppressed cells in one linked component the exact check
/// would be slow; the release is refused instead (coarsen the dimensions).
pub const MAX_COMPONENT: usize = 1500;

/// At most this many dimensions per export (2^d coarser breakdowns are
/// checked); config validation refuses more.
pub use crate::model::export::MAX_DIMENSIONS;

/// Why suppression could not be decided (the release is refused).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TooManySmallCells {
    #[error("{0} small cells are linked through shared totals; too many to check. Coarsen the export's dimensions or lengthen its period")]
    Linked(usize),
    #[error("{0} dimensions: at most {MAX_DIMENSIONS} can be checked")]
    Dimensions(usize),
}

/// Groups of cell indices whose sum is a marginal a partner may know: for
/// every proper subset of the dimensions (down to none, the grand total),
/// the cells that agree on that subset, each with its visitor sum. These are
/// the cells of every coarser breakdown of the same data, e.g. another
/// export of the same partner with fewer dimensions.
fn groups<C: CellKeys>(cells: &[C]) -> Vec<(Vec<usize>, u64)> {
    let dims = cells.first().map_or(0, |c| c.keys().len());
    let mut out = Vec::new();
    if dims == 0 {
        return out;
    }
    debug_assert!(dims <= MAX_DIMENSIONS, "checked by `suppress`");
    let full: u32 = (1 << dims) - 1;
    for keep in 0..full {
        let mut by: HashMap<Vec<&str>, (Vec<usize>, u64)> = HashMap::new();
        for (i, c) in cells.iter().enumerate() {
            let k: Vec<&str> = c
                .keys()
                .iter()
                .enumerate()
                .filter(|(j, _)| keep & (1 << j) != 0)
                .map(|(_, s)| s.as_str())
                .collect();
            let e = by.entry(k).or_default();
            e.0.push(i);
            e.1 += c.visitors();
        }
        let mut v: Vec<_> = by.into_values().collect();
        v.sort();
        out.extend(v);
    }
    out
}

/// Which cells to suppress: `true` for suppressed. Deterministic.
pub fn suppress<C: CellKeys>(cells: &[C], k: u64) -> Result<Vec<bool>, TooManySmallCells> {
    suppress_from(cells, k, vec![false; cells.len()])
}

/// [`suppress`] with some cells withheld already (by the audit across
/// releases): the per-table pass checks them again with the rest, so the
/// two passes reach a common fixpoint.
pub fn suppress_from<C: CellKeys>(
    cells: &[C],
    k: u64,
    start: Vec<bool>,
) -> Result<Vec<bool>, TooManySmallCells> {
    let dims = cells.first().map_or(0, |c| c.keys().len());
    if dims > MAX_DIMENSIONS {
        return Err(TooManySmallCells::Dimensions(dims));
    }
    let mut hidden: Vec<bool> = cells
        .iter()
        .zip(start)
        .map(|(c, h)| h || c.visitors() < k)
        .collect();
    let groups: Vec<(Vec<usize>, u64)> =
        groups(cells).into_iter().filter(|(_, v)| *v >= k).collect();
    let mut of_cell: Vec<Vec<usize>> = vec![Vec::new(); cells.len()];
    for (g, (members, _)) in groups.iter().enumerate() {
        for &i in members {
            of_cell[i].push(g);
        }
    }
    // Smallest released cell of a group (ties broken by position).
    let smallest_released = |hidden: &[bool], g: usize| -> Option<usize> {
        groups[g]
            .0
            .iter()
            .copied()
            .filter(|&i| !hidden[i])
            .min_by_key(|&i| (cells[i].visitors(), i))
    };
    // Small cells that the margins alone determine (even with every cell
    // withheld): no suppression inside this table can protect them; only
    // withholding those margins elsewhere can. They do not drive the loop.
    let inherent: Vec<bool> = {
        let mut v = vec![false; cells.len()];
        for i in pinned_cells(&vec![true; cells.len()], &groups, &of_cell)? {
            v[i] = true;
        }
        v
    };
    loop {
        // Cheap rule first: no known marginal may have exactly one hidden cell.
        let mut changed = true;
        while changed {
            changed = false;
            for (g, (members, _)) in groups.iter().enumerate() {
                let n = members.iter().filter(|&&i| hidden[i]).count();
                if n == 1 {
                    if let Some(j) = smallest_released(&hidden, g) {
                        hidden[j] = true;
                        changed = true;
                    }
                }
            }
        }
        // Exact rule: no hidden cell is determined by the known marginals.
        // A complementary cell (k visitors or more) that can be worked out
        // harms no one; a small one must not be.
        let pinned: Vec<usize> = pinned_cells(&hidden, &groups, &of_cell)?
            .into_iter()
            .filter(|&i| cells[i].visitors() < k && !inherent[i])
            .collect();
        let Some(&p) = pinned.first() else {
            return Ok(hidden);
        };
        let fix = of_cell[p]
            .iter()
            .filter_map(|&g| smallest_released(&hidden, g))
            .min_by_key(|&i| (cells[i].visitors(), i));
        match fix {
            Some(j) => hidden[j] = true,
            // Every cell around it is hidden already; hide the whole
            // export rather than release something pinned.
            None => {
                hidden.iter_mut().for_each(|h| *h = true);
                return Ok(hidden);
            }
        }
    }
}

/// The root of `x` in a union-find forest, compressing the path.
pub(crate) fn find(p: &mut [usize], x: usize) -> usize {
    let mut r = x;
    while p[r] != r {
        r = p[r];
    }
    let mut y = x;
    while p[y] != r {
        let next = p[y];
        p[y] = r;
        y = next;
    }
    r
}

/// Hidden cells whose value follows from the known marginals and the
/// released cells. Public so tests can state the property directly.
pub fn pinned_cells(
    hidden: &[bool],
    groups: &[(Vec<usize>, u64)],
    of_cell: &[Vec<usize>],
) -> Result<Vec<usize>, TooManySmallCells> {
    // Components of hidden cells linked by shared groups (union-find).
    let n = hidden.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for (members, _) in groups {
        let mut first = None;
        for &i in members.iter().filter(|&&i| hidden[i]) {
            match first {
                None => first = Some(i),
                Some(f) => {
                    let (a, b) = (find(&mut parent, f), find(&mut parent, i));
                    parent[a] = b;
                }
            }
        }
    }
    let mut comps: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in (0..n).filter(|&i| hidden[i]) {
        let r = find(&mut parent, i);
        comps.entry(r).or_default().push(i);
    }
    let mut comps: Vec<Vec<usize>> = comps.into_values().collect();
    comps.sort();
    let mut pinned = Vec::new();
    for comp in comps {
        if comp.len() > MAX_COMPONENT {
            return Err(TooManySmallCells::Linked(comp.len()));
        }
        let col: HashMap<usize, usize> = comp.iter().enumerate().map(|(c, &i)| (i, c)).collect();
        let mut gs: Vec<usize> = comp
            .iter()
            .flat_map(|&i| of_cell[i].iter().copied())
            .collect();
        gs.sort_unstable();
        gs.dedup();
        let mut rows: Vec<Vec<f64>> = gs
            .iter()
            .map(|&g| {
                let mut r = vec![0.0; comp.len()];
                for &i in groups[g].0.iter().filter(|&&i| hidden[i]) {
                    r[col[&i]] = 1.0;
                }
                r
            })
            .collect();
        for c in determined_columns(&mut rows, comp.len()) {
            pinned.push(comp[c]);
        }
    }
    pinned.sort_unstable();
    Ok(pinned)
}

/// Columns x_c fixed by the linear system `rows · x = b` for any b: those
/// whose unit vector is in the row space. Reduced row echelon form: a pivot
/// column is determined when its row has no entry in a free column.
fn determined_columns(rows: &mut [Vec<f64>], ncols: usize) -> Vec<usize> {
    const EPS: f64 = 1e-9;
    let mut pivots: Vec<(usize, usize)> = Vec::new();
    let mut r = 0;
    for c in 0..ncols {
        if r == rows.len() {
            break;
        }
        let Some(p) =
            (r..rows.len()).max_by(|&a, &b| rows[a][c].abs().total_cmp(&rows[b][c].abs()))
        else {
            break;
        };
        if rows[p][c].abs() < EPS {
            continue;
        }
        rows.swap(r, p);
        let pv = rows[r][c];
        for x in rows[r].iter_mut() {
            *x /= pv;
        }
        let pivot_row = rows[r].clone();
        for (i, row) in rows.iter_mut().enumerate() {
            if i != r && row[c].abs() > EPS {
                let f = row[c];
                for (x, y) in row.iter_mut().zip(&pivot_row) {
                    *x -= f * y;
                }
            }
        }
        pivots.push((r, c));
        r += 1;
    }
    let is_pivot: Vec<bool> = {
        let mut v = vec![false; ncols];
        for &(_, c) in &pivots {
            v[c] = true;
        }
        v
    };
    pivots
        .into_iter()
        .filter(|&(r, _)| (0..ncols).all(|j| is_pivot[j] || rows[r][j].abs() < EPS))
        .map(|(_, c)| c)
        .collect()
}

/// The marginal groups suppression protects, for tests and audits.
pub fn known_marginals<C: CellKeys>(cells: &[C], k: u64) -> Vec<(Vec<usize>, u64)> {
    groups(cells).into_iter().filter(|(_, v)| *v >= k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct C(Vec<String>, u64);
    impl CellKeys for C {
        fn keys(&self) -> &[String] {
            &self.0
        }
        fn visitors(&self) -> u64 {
            self.1
        }
    }
    fn c(a: &str, b: &str, v: u64) -> C {
        C(vec![a.into(), b.into()], v)
    }

    #[test]
    fn a_lone_small_cell_gets_a_complement() {
        let cells = vec![
            c("DE", "desktop", 40),
            c("DE", "mobile", 3),
            c("FR", "desktop", 30),
            c("FR", "mobile", 25),
        ];
        let h = suppress(&cells, 10).unwrap();
        assert!(h[1], "primary");
        assert_eq!(
            h.iter().filter(|&&x| x).count(),
            4,
            "{h:?}: a 2x2 table needs all four"
        );
    }

    #[test]
    fn rectangle_of_four_is_enough_in_a_larger_table() {
        let mut cells = Vec::new();
        for (i, co) in ["DE", "FR", "IT"].iter().enumerate() {
            for (j, dev) in ["desktop", "mobile", "tablet"].iter().enumerate() {
                cells.push(c(
                    co,
                    dev,
                    if i == 0 && j == 0 {
                        2
                    } else {
                        20 + (i * 3 + j) as u64
                    },
                ));
            }
        }
        let h = suppress(&cells, 10).unwrap();
        let groups = known_marginals(&cells, 10);
        let mut of_cell = vec![Vec::new(); cells.len()];
        for (g, (m, _)) in groups.iter().enumerate() {
            for &i in m {
                of_cell[i].push(g);
            }
        }
        assert!(pinned_cells(&h, &groups, &of_cell).unwrap().is_empty());
        assert_eq!(h.iter().filter(|&&x| x).count(), 4, "{h:?}");
    }

    #[test]
    fn nothing_small_nothing_hidden() {
        let cells = vec![c("DE", "desktop", 40), c("FR", "mobile", 30)];
        assert_eq!(suppress(&cells, 10).unwrap(), vec![false, false]);
    }
}
