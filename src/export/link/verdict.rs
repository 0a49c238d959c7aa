//! The verdict on each withheld small cell: two integer solutions far
//! enough apart, cheapest first (solutions found, probes, neighbourhoods,
//! the full search).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::*;

/// What one pass of the audit looks at, and how.
pub(super) struct Pass<'a> {
    /// The release being audited: a cell of an earlier one whose linked
    /// groups no figure of it reaches is left out.
    pub(super) new: Option<usize>,
    /// The cells to audit.
    pub(super) wanted: &'a dyn Fn(usize) -> bool,
    /// What each cell needs (the protection, or less where the public
    /// margins alone leave less).
    pub(super) required: &'a dyn Fn(usize) -> u64,
    /// Give narrow cells the linear bounds of their width too.
    pub(super) widths: bool,
    /// The system is a relaxation of the partner's (the margins alone):
    /// its solutions are not kept for later passes.
    pub(super) relaxed: bool,
    /// Cells left out of the system, their figures implied by others.
    pub(super) redundant: &'a HashSet<usize>,
}

/// The verdicts on the withheld small cells of `cells` that `wanted` picks.
/// With `new`, a cell of an earlier release whose linked groups no figure
/// of release `new` reaches is left out (as audited with its release).
///
/// Per cell, in order, until two integer solutions are what the cell needs
/// (`required`) apart: the solutions found so far; the probes
/// (`cheap_sides`), which may also prove it narrower than that; integer
/// programs over neighbourhoods of the cell (`LEVELS`), the rest of its
/// group at the base point; then the linear bounds over the whole group
/// and, for a group of at most `WHOLE_VARIABLES`, the integer programs
/// over it. With `widths`, a cell proven narrow gets the linear bounds of
/// its width too. `relaxed`: the system is not the partner's (the margins
/// alone), so its solutions are not kept for later rounds.
pub(super) fn audit_cells(
    cells: &[LinkedCell],
    m: &Model,
    base: &[Option<i64>],
    protection: u64,
    pass: Pass<'_>,
    cache: &mut Cache,
) -> Result<BTreeMap<usize, Bounds>, LinkCheckError> {
    let Pass {
        new,
        wanted,
        required,
        widths,
        relaxed,
        redundant,
    } = pass;
    let rows = partner_rows(m, cells, new, redundant);
    let red = reduce(&rows, m.n_vars)?;
    // The base completed with what the partner's figures pin (the same
    // values, since the base is a solution of the partner's system).
    let base: Vec<Option<i64>> = base.iter().zip(&red.fixed).map(|(b, f)| f.or(*b)).collect();
    let mut out = BTreeMap::new();
    // Per cell: its visitors pinned, and its free unknowns by linked group.
    let mut targets: Vec<(usize, i64, BTreeMap<usize, Vec<usize>>)> = Vec::new();
    let mut needed: HashSet<usize> = HashSet::new();
    for (t, c) in cells.iter().enumerate() {
        if !(c.withheld && c.small && !c.margin) || c.atoms.is_empty() || !wanted(t) {
            continue;
        }
        let mut pinned = 0i64;
        let mut parts: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &v in &m.visitors[t] {
            match red.fixed[v] {
                Some(x) => pinned += x,
                None => parts.entry(red.root[v]).or_default().push(v),
            }
        }
        if parts.is_empty() {
            out.insert(t, Bounds::point(pinned));
            continue;
        }
        needed.extend(parts.keys().copied());
        targets.push((t, pinned, parts));
    }
    if targets.is_empty() {
        return Ok(out);
    }
    let debug = std::env::var("TACIT_AUDIT_DEBUG").is_ok();
    let started = std::time::Instant::now();
    let mut comp_vars: HashMap<usize, Vec<usize>> = HashMap::new();
    for v in (0..m.n_vars).filter(|&v| red.fixed[v].is_none()) {
        let r = red.root[v];
        if needed.contains(&r) {
            comp_vars.entry(r).or_default().push(v);
        }
    }
    let mut comp_rows: HashMap<usize, Vec<Row>> = HashMap::new();
    for r in red.rows {
        let root = red.root[r.terms[0].0];
        if needed.contains(&root) {
            comp_rows.entry(root).or_default().push(r);
        }
    }
    let comps: HashMap<usize, Component> = needed
        .iter()
        .map(|&r| {
            let comp = Component::new(
                comp_vars.remove(&r).unwrap_or_default(),
                comp_rows.remove(&r).unwrap_or_default(),
            );
            (r, comp)
        })
        .collect();
    for (t, pinned, parts) in targets {
        if let Some(n) = new {
            if cells[t].release != n && parts.keys().all(|r| !comps[r].new) {
                continue;
            }
        }
        // Groups are independent: the cell's least and most are the sums
        // of its parts' over each group.
        let sum = |found: &[(Option<i64>, Option<i64>, bool)]| {
            let mut b = Bounds::point(pinned);
            b.low = f64::NAN;
            b.high = f64::NAN;
            for &(lo, hi, exact) in found {
                b.least = b.least.zip(lo).map(|(a, p)| a + p);
                b.most = b.most.zip(hi).map(|(a, p)| a + p);
                b.exact &= exact;
            }
            b
        };
        let mut verdict = None;
        let mut last = None;
        // First the cheap search (warm-started programs): one part moved
        // what the cell needs away, the other parts at tacit's own counts.
        let need = required(t);
        let at_base: Option<Vec<i64>> = parts
            .iter()
            .map(|(r, target)| base_value(&comps[r], target, &base))
            .collect();
        if let Some(values) = at_base {
            let total = pinned + values.iter().sum::<i64>();
            let single = parts.len() == 1;
            for ((r, target), b) in parts.iter().zip(values) {
                let comp = &comps[r];
                if comp.vars.len() > MAX_VARIABLES {
                    continue;
                }
                let Cache {
                    feasible,
                    points,
                    pool,
                    ..
                } = &mut *cache;
                let Some(w) = warm(comp, feasible) else {
                    continue;
                };
                let found = points.entry(comp.sig).or_insert_with(|| {
                    let mut seed: Vec<Vec<i64>> =
                        vec![comp.vars.iter().map(|&v| base[v].unwrap_or(0)).collect()];
                    seed.extend(
                        pool.iter()
                            .map(|p| comp.vars.iter().map(|&v| p[v]).collect()),
                    );
                    seed
                });
                let known = found.len();
                let bounds = |l: i64, h: i64| Bounds {
                    low: f64::NAN,
                    high: f64::NAN,
                    least: Some(total - b + l),
                    most: Some(total - b + h),
                    exact: false,
                };
                if relaxed && widths && single {
                    // The margins alone: only how narrow they leave it
                    // matters (a width of the protection or more, or one
                    // not bounded, counts as the protection).
                    let mut v = bounds(b, b);
                    if let Some((lo, hi)) = narrow_bounds(comp, w, target, found, b, protection) {
                        v.low = (total - b + lo) as f64;
                        v.high = (total - b + hi) as f64;
                    } else {
                        (v.least, v.most) = (None, None);
                    }
                    verdict = Some(v);
                    break;
                }
                // Solutions found for other cells may already do.
                let c = match spread(w, found, target) {
                    Some((l, h)) if h - l >= need as i64 => Cheap::Wide(l, h),
                    _ => cheap_sides(comp, w, target, found, b, need),
                };
                if !relaxed {
                    keep(pool, &base, &comp.vars, &found[known..]);
                }
                match c {
                    Cheap::Wide(l, h) => {
                        verdict = Some(bounds(l, h));
                        break;
                    }
                    // Proven narrower than it needs to be: withheld more.
                    // With `widths`, also how narrow: linear bounds, probed
                    // one integer at a time.
                    Cheap::Narrow(l, h) if single => {
                        let mut v = bounds(l, h);
                        if widths {
                            if let Some((lo, hi)) =
                                narrow_bounds(comp, w, target, found, b, protection)
                            {
                                v.low = (total - b + lo) as f64;
                                v.high = (total - b + hi) as f64;
                            }
                        }
                        verdict = Some(v);
                    }
                    Cheap::Unknown if comp.vars.len() > NEAR_VARIABLES => {
                        // Undecided in a large group: the same probes over
                        // a neighbourhood of the cell, the rest of the
                        // group at tacit's counts (its solutions, so
                        // completed, are the group's: it only certifies).
                        let Some(sub) = comp.around(target, NEAR_VARIABLES, &base) else {
                            continue;
                        };
                        let Some(sw) = warm(&sub, feasible) else {
                            continue;
                        };
                        let mut near: Vec<Vec<i64>> =
                            vec![sub.vars.iter().map(|&v| base[v].unwrap_or(0)).collect()];
                        if let Cheap::Wide(l, h) = cheap_sides(&sub, sw, target, &mut near, b, need)
                        {
                            verdict = Some(bounds(l, h));
                            if !relaxed {
                                keep(pool, &base, &sub.vars, &near[1..]);
                            }
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
        let found_cheaply = verdict.is_some();
        let whole = parts.keys().all(|r| comps[r].vars.len() <= WHOLE_VARIABLES);
        for cap in LEVELS.into_iter().filter(|_| !found_cheaply) {
            let mut found = Vec::with_capacity(parts.len());
            for (r, target) in &parts {
                let comp = &comps[r];
                if comp.vars.len() <= cap {
                    found.push(integer_sides(comp, target, &base, protection, cache)?);
                    continue;
                }
                match comp.around(target, cap, &base) {
                    Some(sub) => {
                        let (lo, hi, _) = integer_sides(&sub, target, &base, protection, cache)?;
                        found.push((lo, hi, false));
                    }
                    None => found.push((None, None, false)),
                }
            }
            let b = sum(&found);
            if debug {
                eprintln!(
                    "  cell {t} cap {cap}: {found:?} parts {:?}",
                    parts
                        .iter()
                        .map(|(r, v)| (comps[r].vars.len(), v.len()))
                        .collect::<Vec<_>>()
                );
            }
            if b.certified() >= need || b.exact {
                verdict = Some(b);
                break;
            }
            last = Some(b);
        }
        let b = match verdict {
            Some(b) => b,
            None if !whole => {
                // Too large for programs over the whole groups: the
                // neighbourhoods' points are all the audit has (the cell
                // counts as narrow unless they are far enough apart).
                last.unwrap_or(Bounds {
                    low: f64::NAN,
                    high: f64::NAN,
                    least: None,
                    most: None,
                    exact: false,
                })
            }
            None => {
                // The linear bounds over the whole groups.
                let mut low = pinned as f64;
                let mut high = pinned as f64;
                let mut found = Vec::with_capacity(parts.len());
                for (r, target) in &parts {
                    let comp = &comps[r];
                    let (Some(hi), Some(lo)) = (
                        solve_lp(comp, target, true, cache)?,
                        solve_lp(comp, target, false, cache)?,
                    ) else {
                        return Err(LinkCheckError::Inconsistent(format!(
                            "no solution of a linked group of {} unknowns",
                            comp.vars.len()
                        )));
                    };
                    low += lo.0;
                    high += hi.0;
                    found.push((comp, target));
                }
                // Narrower than the protection level: proven narrow. The
                // integer points still say how narrow, for a cell the
                // public margins alone narrow as much (`protect`).
                let mut sides = Vec::with_capacity(found.len());
                for (comp, target) in found {
                    sides.push(integer_sides(comp, target, &base, protection, cache)?);
                }
                let mut b = sum(&sides);
                (b.low, b.high) = (low, high);
                b
            }
        };
        out.insert(t, b);
    }
    if debug {
        let mut sizes: Vec<(usize, usize, bool)> = comps
            .values()
            .map(|c| (c.vars.len(), c.rows.len(), c.new))
            .collect();
        sizes.sort_unstable();
        eprintln!(
            "audit: {} cells, {} groups (vars, rows, new) {:?}, {:?}",
            out.len(),
            sizes.len(),
            &sizes[sizes.len().saturating_sub(6)..],
            started.elapsed()
        );
    }
    Ok(out)
}
