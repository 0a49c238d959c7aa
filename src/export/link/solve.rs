//! Linear and integer programs over a linked group: bounds of a cell,
//! repaired and branch-and-bound integer solutions, and tacit's own
//! integer solution (the base point).

use std::collections::{BTreeMap, HashMap};

use super::*;

/// Optima already solved, by group, target and direction: a group no
/// withholding changed keeps its bounds between rounds.
#[derive(Default)]
pub struct Cache {
    pub(super) lp: HashMap<Key, Option<LinearOptimum>>,
    pub(super) int: HashMap<Key, (Option<i64>, bool)>,
    /// Per group (its hash): a solved program over it, for warm starts.
    pub(super) feasible: HashMap<u64, Option<Warm>>,
    /// Per group (its hash): the integer solutions found so far (values in
    /// the group's order of unknowns), tacit's own counts first.
    pub(super) points: HashMap<u64, Vec<Vec<i64>>>,
    /// Integer solutions of the partner's whole system found in earlier
    /// rounds (every unknown; tacit's counts outside the group searched).
    /// Withholding more only drops relations, so they stay solutions for
    /// the rest of the audit of a release.
    pub(super) pool: Vec<Vec<i64>>,
}

/// A solved linear program over a group (no objective) and its unknowns'
/// columns: adding one bound to it and re-solving from its basis (the dual
/// simplex) is far cheaper than a program solved anew.
#[derive(Clone)]
pub(super) struct Warm {
    pub(super) solution: microlp::Solution,
    pub(super) xs: Vec<microlp::Variable>,
    pub(super) col: HashMap<usize, usize>,
}

pub(super) fn direction(max: bool) -> OptimizationDirection {
    if max {
        OptimizationDirection::Maximize
    } else {
        OptimizationDirection::Minimize
    }
}

/// The linear optimum of `sum(target)` over the group (`None`: no
/// solution), and its value in integers when the optimum found is an
/// integer solution (then it is the integer optimum too).
pub(super) fn solve_lp(
    comp: &Component,
    target: &[usize],
    max: bool,
    cache: &mut Cache,
) -> Result<Option<LinearOptimum>, LinkCheckError> {
    let key = (comp.sig, target.to_vec(), max);
    if let Some(hit) = cache.lp.get(&key) {
        return Ok(hit.clone());
    }
    if comp.vars.len() > MAX_VARIABLES {
        return Err(LinkCheckError::TooLinked(comp.vars.len()));
    }
    let (p, xs) = comp.program(target, direction(max), false);
    let out = match p.solve() {
        Ok(out) => match out.solution() {
            Some(s) => {
                let values: Vec<f64> = xs.iter().map(|&x| s[x]).collect();
                let point = comp
                    .integer_point(&values)
                    .map(|at| target.iter().map(|v| at[v]).sum());
                let values = comp.vars.iter().copied().zip(values).collect();
                Some((s.objective(), point, values))
            }
            None => return Err(LinkCheckError::Solver("interrupted".into())),
        },
        Err(microlp::Error::Infeasible) => None,
        Err(e) => return Err(LinkCheckError::Solver(e.to_string())),
    };
    cache.lp.insert(key, out.clone());
    Ok(out)
}

/// The integer optimum by branch and bound (the linear one was
/// fractional), within `BRANCH_NODES`: the best integer point found and
/// whether it is proven optimal.
pub(super) fn solve_int(
    comp: &Component,
    target: &[usize],
    max: bool,
    cache: &mut Cache,
) -> Result<(Option<i64>, bool), LinkCheckError> {
    let key = (comp.sig, target.to_vec(), max);
    if let Some(&hit) = cache.int.get(&key) {
        return Ok(hit);
    }
    let (p, xs) = comp.program(target, direction(max), true);
    let mut options = microlp::SolveOptions::default();
    options.node_limit = Some(BRANCH_NODES);
    options.presolve = std::env::var("TACIT_AUDIT_PRESOLVE").is_ok();
    let out = match p.solve_with(options) {
        Ok(out) => match out.solution() {
            Some(s) => {
                let values: Vec<f64> = xs.iter().map(|&x| s[x]).collect();
                let point = comp
                    .integer_point(&values)
                    .map(|at| target.iter().map(|v| at[v]).sum::<i64>());
                let exact = point.is_some() && s.status() == microlp::SolutionStatus::Optimal;
                (point, exact)
            }
            None => (None, false),
        },
        // Cut short, or no integer point: nothing certified on this side.
        Err(microlp::Error::Infeasible) => (None, false),
        Err(e) => return Err(LinkCheckError::Solver(e.to_string())),
    };
    cache.int.insert(key, out);
    Ok(out)
}

/// An integer solution near a fractional linear optimum `values`: the
/// unknowns at an integer value stay there, the fractional ones (at most
/// `REPAIR_VARIABLES`) are solved for in integers, and the whole point is
/// checked against every relation. Returns `sum(target)` there.
pub(super) fn repair(
    comp: &Component,
    values: &HashMap<usize, f64>,
    target: &[usize],
    max: bool,
) -> Result<Option<i64>, LinkCheckError> {
    let frac: Vec<usize> = comp
        .vars
        .iter()
        .copied()
        .filter(|v| (values[v] - values[v].round()).abs() > 1e-6)
        .collect();
    if frac.is_empty() || frac.len() > REPAIR_VARIABLES {
        return Ok(None);
    }
    let mut at: Vec<Option<i64>> = Vec::new();
    let top = comp.vars.iter().max().copied().unwrap_or(0);
    at.resize(top + 1, None);
    for &v in &comp.vars {
        at[v] = Some(values[&v].round() as i64);
    }
    for &v in &frac {
        at[v] = None;
    }
    let Some(sub) = comp.restrict(&frac, &at) else {
        return Ok(None);
    };
    let inner: Vec<usize> = target
        .iter()
        .copied()
        .filter(|v| frac.contains(v))
        .collect();
    let outer: i64 = target
        .iter()
        .filter(|v| !frac.contains(v))
        .map(|&v| at[v].unwrap_or(0))
        .sum();
    let (p, xs) = sub.program(&inner, direction(max), true);
    let mut options = microlp::SolveOptions::default();
    options.node_limit = Some(BRANCH_NODES);
    options.presolve = false;
    let Ok(out) = p.solve_with(options) else {
        return Ok(None);
    };
    let Some(s) = out.solution() else {
        return Ok(None);
    };
    let vals: Vec<f64> = xs.iter().map(|&x| s[x]).collect();
    let Some(point) = sub.integer_point(&vals) else {
        return Ok(None);
    };
    // The whole point, checked against every relation of the group.
    let mut full: HashMap<usize, i64> =
        comp.vars.iter().map(|&v| (v, at[v].unwrap_or(0))).collect();
    full.extend(point.iter().map(|(&v, &x)| (v, x)));
    if !comp.rows.iter().all(|r| r.holds(|v| full[&v])) {
        return Ok(None);
    }
    Ok(Some(outer + inner.iter().map(|v| point[v]).sum::<i64>()))
}

/// The least and most of `sum(target)` at integer solutions of `comp`
/// found, and whether both are the integer optima. `base` (tacit's own
/// counts, an integer solution) is one of them; the other side is looked
/// for only when the first does not reach `protection` from it.
pub(super) fn integer_sides(
    comp: &Component,
    target: &[usize],
    base: &[Option<i64>],
    protection: u64,
    cache: &mut Cache,
) -> Result<(Option<i64>, Option<i64>, bool), LinkCheckError> {
    let at_base = base_value(comp, target, base);
    let side = |max: bool, cache: &mut Cache| -> Result<(Option<i64>, bool), LinkCheckError> {
        match solve_lp(comp, target, max, cache)? {
            None => Ok((None, false)),
            // An integral linear optimum is the integer optimum; only a
            // fractional one needs branching.
            Some((_, Some(p), _)) => Ok((Some(p), true)),
            Some((_, None, values)) => {
                if let Some(p) = repair(comp, &values, target, max)? {
                    return Ok((Some(p), false));
                }
                // Branch and bound over a neighbourhood of the cell, the
                // rest of the group at tacit's own counts.
                for cap in LEVELS {
                    if comp.vars.len() <= BRANCH_VARIABLES {
                        break;
                    }
                    if let Some(sub) = comp.around(target, cap, base) {
                        if let (Some(p), _) = solve_int(&sub, target, max, cache)? {
                            let better = match (max, at_base) {
                                (true, Some(b)) => p > b,
                                (false, Some(b)) => p < b,
                                _ => true,
                            };
                            if better {
                                return Ok((Some(p), false));
                            }
                        }
                    }
                }
                if comp.vars.len() > BRANCH_VARIABLES {
                    // Too large to branch on within the audit's time: no
                    // further point on this side (more is withheld).
                    return Ok((None, false));
                }
                solve_int(comp, target, max, cache)
            }
        }
    };
    let (most, e1) = side(true, cache)?;
    if let (Some(b), Some(h)) = (at_base, most) {
        if h - b >= protection as i64 {
            return Ok((Some(b), Some(h), false));
        }
    }
    let (least, e2) = side(false, cache)?;
    let least = match (least, at_base) {
        (Some(l), Some(b)) => Some(l.min(b)),
        (l, b) => l.or(b),
    };
    let most = match (most, at_base) {
        (Some(h), Some(b)) => Some(h.max(b)),
        (h, b) => h.or(b),
    };
    Ok((least, most, e1 && e2))
}

/// An integer solution of tacit's own system (every cell's exact counts),
/// which the partner's system admits too: what a neighbourhood's search
/// keeps fixed outside it. Unknowns without one stay `None`.
pub(super) fn base_point(
    m: &Model,
    cells: &[LinkedCell],
) -> Result<Vec<Option<i64>>, LinkCheckError> {
    let red = reduce(&truth_rows(m, cells), m.n_vars)?;
    let mut base = red.fixed.clone();
    let mut comp_vars: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for v in (0..m.n_vars).filter(|&v| red.fixed[v].is_none()) {
        comp_vars.entry(red.root[v]).or_default().push(v);
    }
    let mut comp_rows: HashMap<usize, Vec<Row>> = HashMap::new();
    for r in red.rows {
        comp_rows.entry(red.root[r.terms[0].0]).or_default().push(r);
    }
    for (root, vars) in comp_vars {
        let rows = comp_rows.remove(&root).unwrap_or_default();
        if rows.is_empty() {
            // Unconstrained: any value does, zero included.
            for v in vars {
                base[v] = Some(0);
            }
            continue;
        }
        let comp = Component::new(vars, rows);
        if comp.vars.len() > MAX_VARIABLES {
            continue;
        }
        for integer in [false, true] {
            let t0 = std::time::Instant::now();
            let (p, xs) = comp.program(&[], OptimizationDirection::Minimize, integer);
            let mut options = microlp::SolveOptions::default();
            options.node_limit = Some(BRANCH_NODES);
            let found = match p.solve_with(options) {
                Ok(out) => out.solution().and_then(|s| {
                    let values: Vec<f64> = xs.iter().map(|&x| s[x]).collect();
                    comp.integer_point(&values)
                }),
                Err(microlp::Error::Infeasible) => {
                    return Err(LinkCheckError::Inconsistent(format!(
                        "tacit's own counts admit no solution over {} unknowns",
                        comp.vars.len()
                    )))
                }
                Err(e) => return Err(LinkCheckError::Solver(e.to_string())),
            };
            if std::env::var("TACIT_AUDIT_DEBUG").is_ok() {
                eprintln!(
                    "  base {} vars {} rows integer {integer}: {} {:?}",
                    comp.vars.len(),
                    comp.rows.len(),
                    found.is_some(),
                    t0.elapsed()
                );
            }
            if let Some(at) = found {
                for (v, x) in at {
                    base[v] = Some(x);
                }
                break;
            }
        }
    }
    Ok(base)
}
