//! The cheap search: one program per linked group solved once, each cell
//! probed from its basis with one bound added; integer solutions found
//! are kept and certify other cells.

use std::collections::HashMap;

use super::*;

/// Integer bounds `[lo, hi]` of `sum(target)` over the linear relaxation of
/// `comp`, when they are less than `protection` apart: `lo` the least value
/// at which `sum <= lo` has a (linear) solution, `hi` the last value
/// before `sum >= hi + 1` has none. `None` when the relaxation reaches `protection`
/// apart (the interval may be that wide). Each bound rests only on
/// programs reported without solution: a solver wrongly reporting a
/// solution can only widen them.
pub(super) fn narrow_bounds(
    comp: &Component,
    warm: &Warm,
    target: &[usize],
    found: &mut Vec<Vec<i64>>,
    at_base: i64,
    protection: u64,
) -> Option<(i64, i64)> {
    let w = protection as i64;
    let mut probe = |op, rhs| probe(comp, warm, target, found, op, rhs, at_base);
    let lo = (0..=at_base)
        .find(|&l| !matches!(probe(ComparisonOp::Le, l), Probe::Infeasible))
        .unwrap_or(at_base);
    // At or below tacit's own value there is a solution (its own).
    (1..=w)
        .filter(|&j| lo + j > at_base)
        .find(|&j| matches!(probe(ComparisonOp::Ge, lo + j), Probe::Infeasible))
        .map(|j| (lo, lo + j - 1))
}

/// `sum(target)` at tacit's own counts, when they are a solution of every
/// relation of `comp` (checked here in integers).
pub(super) fn base_value(comp: &Component, target: &[usize], base: &[Option<i64>]) -> Option<i64> {
    comp.rows
        .iter()
        .all(|r| {
            r.terms.iter().all(|&(v, _)| base[v].is_some()) && r.holds(|v| base[v].unwrap_or(0))
        })
        .then(|| target.iter().map(|&v| base[v]).sum::<Option<i64>>())
        .flatten()
}

/// A solved program over `comp` (cached per group), maximizing the sum of
/// its unknowns: any objective would do for the probes, and this one,
/// kept through their re-solves, lands on integer solutions more often
/// than none on this structure (tables and their margins).
pub(super) fn warm<'a>(
    comp: &Component,
    feasible: &'a mut HashMap<u64, Option<Warm>>,
) -> Option<&'a Warm> {
    feasible
        .entry(comp.sig)
        .or_insert_with(|| {
            let (p, xs) = comp.program(&comp.vars, OptimizationDirection::Maximize, false);
            p.solve()
                .ok()
                .and_then(|o| o.into_solution().ok())
                .map(|solution| Warm {
                    solution,
                    xs,
                    col: comp.vars.iter().enumerate().map(|(i, &v)| (v, i)).collect(),
                })
        })
        .as_ref()
}

/// Keep `points` (solutions over `vars`, a group or a neighbourhood of
/// one) as solutions of the whole system: tacit's counts everywhere else.
pub(super) fn keep(
    pool: &mut Vec<Vec<i64>>,
    base: &[Option<i64>],
    vars: &[usize],
    points: &[Vec<i64>],
) {
    for p in points {
        let mut full: Vec<i64> = base.iter().map(|b| b.unwrap_or(0)).collect();
        for (&v, &x) in vars.iter().zip(p) {
            full[v] = x;
        }
        pool.push(full);
    }
}

/// The least and most of `sum(target)` over the integer solutions found.
pub(super) fn spread(warm: &Warm, found: &[Vec<i64>], target: &[usize]) -> Option<(i64, i64)> {
    let cols: Vec<usize> = target.iter().map(|v| warm.col[v]).collect();
    found
        .iter()
        .map(|p| cols.iter().map(|&c| p[c]).sum::<i64>())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((l, h)) => Some((l.min(v), h.max(v))),
        })
}

/// What a warm-started program says of `sum(target)` with one bound added.
pub(super) enum Probe {
    /// No solution, not even a fractional one.
    Infeasible,
    /// An integer solution of every relation: `sum(target)` there.
    Integer(i64),
    /// A fractional solution (the values of the group's unknowns).
    Fractional(Vec<f64>),
    /// The solver stopped: nothing either way.
    Unknown,
}

/// Each integer solution found is kept in `found`: it may certify other
/// cells of the group.
pub(super) fn probe(
    comp: &Component,
    warm: &Warm,
    target: &[usize],
    found: &mut Vec<Vec<i64>>,
    op: ComparisonOp,
    rhs: i64,
    at_base: i64,
) -> Probe {
    // One unknown bounded beyond tacit's own value: the group's solutions
    // are convex and include tacit's, so `sum >= rhs` (`<=`) has one
    // exactly when `sum = rhs` has one; fixing the unknown re-solves from
    // the basis without refactorizing for a new row.
    let beyond = match op {
        ComparisonOp::Ge => rhs > at_base,
        ComparisonOp::Le => rhs <= at_base,
        _ => false,
    };
    let solved = if target.len() == 1 && beyond {
        let x = warm.xs[warm.col[&target[0]]];
        warm.solution.clone().fix_var(x, rhs as f64)
    } else {
        let expr: Vec<(microlp::Variable, f64)> =
            target.iter().map(|v| (warm.xs[warm.col[v]], 1.0)).collect();
        warm.solution
            .clone()
            .add_constraint(&expr[..], op, rhs as f64)
    };
    match solved {
        Err(microlp::Error::Infeasible) => Probe::Infeasible,
        Err(_) => Probe::Unknown,
        Ok(out) => match out.solution() {
            None => Probe::Unknown,
            Some(s) => {
                let values: Vec<f64> = warm.xs.iter().map(|&x| s[x]).collect();
                match comp.integer_point(&values) {
                    Some(at) => {
                        found.push(comp.vars.iter().map(|v| at[v]).collect());
                        Probe::Integer(target.iter().map(|t| at[t]).sum())
                    }
                    None => Probe::Fractional(values),
                }
            }
        },
    }
}

/// The cheap search on one linked group, from tacit's own counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cheap {
    /// Two integer solutions, `sum(target)` at least the protection apart
    /// there (least, most).
    Wide(i64, i64),
    /// The integer interval is proven narrower than the protection; two
    /// integer solutions found in it (least, most).
    Narrow(i64, i64),
    /// Undecided: the full search decides.
    Unknown,
}

/// Two integer solutions of `comp` at least `protection` apart in
/// `sum(target)`, looked for by warm-started programs with one bound
/// added: first `at_base + protection` or more (tacit's counts, also a
/// solution, the other point), else the least integer value `l` (the first
/// `sum <= lo`, `lo = 0, 1, ...`, with a solution, that solution integral)
/// and then `l + protection` or more. When that last program has no
/// solution at all, the partner's integer interval lies within `[l, l +
/// protection)`: proven narrow. Points are checked in integers; a solver
/// wrongly reporting no solution can only make a cell look narrower (more
/// withheld).
pub(super) fn cheap_sides(
    comp: &Component,
    warm: &Warm,
    target: &[usize],
    found: &mut Vec<Vec<i64>>,
    at_base: i64,
    protection: u64,
) -> Cheap {
    let w = protection as i64;
    // An integer solution for a probe: its own, or a fractional one
    // repaired (its integral unknowns kept, the rest solved in integers
    // toward `max`, checked against every relation), or, upward, that of
    // a probe a little further (another vertex). `None`: no solution.
    let mut point = |op, rhs: i64, max: bool| -> Option<Option<i64>> {
        let tries = if matches!(op, ComparisonOp::Ge) { 4 } else { 1 };
        for extra in 0..tries {
            match probe(comp, warm, target, found, op, rhs + extra, at_base) {
                Probe::Infeasible if extra == 0 => return None,
                Probe::Infeasible => return Some(None),
                Probe::Integer(v) => return Some(Some(v)),
                Probe::Fractional(values) => {
                    let at: HashMap<usize, f64> = comp.vars.iter().copied().zip(values).collect();
                    if let Ok(Some(v)) = repair(comp, &at, target, max) {
                        return Some(Some(v));
                    }
                }
                Probe::Unknown => return Some(None),
            }
        }
        Some(None)
    };
    if let Some(Some(v)) = point(ComparisonOp::Ge, at_base + w, true) {
        if v - at_base >= w {
            return Cheap::Wide(at_base, v);
        }
    }
    for lo in 0..=at_base {
        // No solution below `lo`: every integer solution gives `lo` or
        // more.
        let Some(low) = point(ComparisonOp::Le, lo, false) else {
            continue;
        };
        if let Some(l) = low.filter(|&l| at_base - l >= w) {
            return Cheap::Wide(l, at_base);
        }
        if lo + w <= at_base {
            return Cheap::Unknown;
        }
        return match (point(ComparisonOp::Ge, lo + w, true), low) {
            (Some(Some(h)), Some(l)) if h - l >= w => Cheap::Wide(l, h),
            (None, _) => Cheap::Narrow(low.unwrap_or(at_base).min(at_base), at_base),
            // Every solution found so far, this search's included.
            _ => match spread(warm, found, target) {
                Some((l, h)) if h - l >= w => Cheap::Wide(l, h),
                _ => Cheap::Unknown,
            },
        };
    }
    Cheap::Unknown
}
