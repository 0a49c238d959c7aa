//! A release's audit: what its figures add to the partner's system
//! (`implied_plan`), then rounds that withhold a neighbour of each cell
//! that fails until every one passes.

use std::collections::{HashMap, HashSet};

use super::*;

/// What the public margins alone leave: every row of every file withheld.
pub(super) fn bare(cells: &[LinkedCell]) -> Vec<LinkedCell> {
    let mut bare = cells.to_vec();
    for c in bare.iter_mut().filter(|c| !c.margin) {
        c.withheld = true;
    }
    bare
}

/// Can `terms` be split into figures the partner holds (`held`), with no
/// unknown in two of them, whose ranges add up to one inside `range`? Then
/// the partner already knows the sum at least that well: a figure over
/// `terms` read as `range` tells it nothing. Greedy, the largest fitting
/// figure first, the narrowest of those (exact for the nested periods of
/// days, weeks and months; a cover it misses only makes the check
/// stricter).
pub(super) fn covered(
    terms: &[usize],
    range: (i64, i64),
    held: &[(&[usize], (i64, i64))],
    of_var: &HashMap<usize, Vec<usize>>,
) -> bool {
    let inside: HashSet<usize> = terms.iter().copied().collect();
    let mut taken: HashSet<usize> = HashSet::with_capacity(terms.len());
    let (mut lo, mut hi) = (0i64, 0i64);
    for &v in terms {
        if taken.contains(&v) {
            continue;
        }
        let best = of_var
            .get(&v)
            .into_iter()
            .flatten()
            .map(|&f| held[f])
            .filter(|(f, _)| f.iter().all(|u| inside.contains(u) && !taken.contains(u)))
            .max_by_key(|(f, (l, h))| (f.len(), std::cmp::Reverse(h - l)));
        match best {
            Some((f, (l, h))) => {
                taken.extend(f.iter().copied());
                lo += l;
                hi += h;
            }
            None => return false,
        }
    }
    range.0 <= lo && hi <= range.1
}

/// What a new release adds to the partner's system (`implied_plan`).
pub(super) struct Plan {
    /// Its released cells with a figure that reaches the unknowns of a
    /// cell an earlier release withheld and is not implied by the
    /// partner's earlier figures.
    pub(super) withhold: Vec<usize>,
    /// Its known cells whose every figure is implied: they add nothing.
    pub(super) redundant: HashSet<usize>,
    /// A public margin of it (which cannot be withheld) reaches those
    /// unknowns and is not implied.
    pub(super) margins_tell_more: bool,
}

/// Which figures of release `new` tell the partner something new about
/// the cells earlier releases withheld. A figure implied by figures the
/// partner already holds (a sum of them, known at least as well) tells
/// nothing; one that reaches no unknown of such a cell (through earlier
/// figures, or the relations that hold whatever is released) cannot
/// narrow it. With `withhold` withheld and no margin telling more, the
/// partner's system over those unknowns is the same as before the
/// release, and so are the bounds of every cell withheld earlier: only the
/// release's own withheld cells need the audit.
pub(super) fn implied_plan(m: &Model, cells: &[LinkedCell], new: usize) -> Plan {
    let mut parent: Vec<usize> = (0..m.n_vars).collect();
    let join = |parent: &mut Vec<usize>, terms: &[usize]| {
        for w in terms.windows(2) {
            let (a, b) = (find(parent, w[0]), find(parent, w[1]));
            parent[a] = b;
        }
    };
    for r in &m.structural {
        let terms: Vec<usize> = r.terms.iter().map(|&(v, _)| v).collect();
        join(&mut parent, &terms);
    }
    let mut old: Vec<usize> = Vec::new();
    let mut held: Vec<(&[usize], (i64, i64))> = Vec::new();
    for (c, cell) in cells.iter().enumerate() {
        if cell.release == new || cell.atoms.is_empty() {
            continue;
        }
        if known(cell) {
            for (terms, range) in figures_of(m, c, cell) {
                join(&mut parent, terms);
                held.push((terms, range));
            }
        }
        if cell.withheld && cell.small && !cell.margin {
            old.extend_from_slice(&m.visitors[c]);
        }
    }
    let old_roots: HashSet<usize> = old.iter().map(|&v| find(&mut parent, v)).collect();
    let mut of_var: HashMap<usize, Vec<usize>> = HashMap::new();
    for (f, (terms, _)) in held.iter().enumerate() {
        for &v in *terms {
            of_var.entry(v).or_default().push(f);
        }
    }
    let mut plan = Plan {
        withhold: Vec::new(),
        redundant: HashSet::new(),
        margins_tell_more: false,
    };
    for (c, cell) in cells.iter().enumerate() {
        if cell.release != new || cell.atoms.is_empty() || !known(cell) {
            continue;
        }
        let (mut all_implied, mut news) = (true, false);
        for (terms, range) in figures_of(m, c, cell) {
            let implied = covered(terms, range, &held, &of_var);
            all_implied &= implied;
            news |= !implied
                && terms
                    .iter()
                    .any(|&v| old_roots.contains(&find(&mut parent, v)));
        }
        if all_implied {
            plan.redundant.insert(c);
        } else if news && cell.margin {
            if std::env::var("TACIT_AUDIT_DEBUG").is_ok() {
                eprintln!(
                    "implied: margin {c} of {} atoms tells more",
                    cell.atoms.len()
                );
            }
            plan.margins_tell_more = true;
        } else if news {
            plan.withhold.push(c);
        }
    }
    plan
}

/// The rounds of [`protect_with`]: audit, withhold a neighbour of each
/// cell that fails, again.
#[allow(clippy::too_many_arguments)]
pub(super) fn protect_rounds(
    cells: &mut [LinkedCell],
    m: &Model,
    base: &[Option<i64>],
    new: usize,
    protection: u64,
    cache: &mut Cache,
    passed: &mut [bool],
    required: &mut HashMap<usize, u64>,
    redundant: &HashSet<usize>,
) -> Result<Vec<usize>, LinkCheckError> {
    let mut added = Vec::new();
    let mut of_atom: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, c) in cells.iter().enumerate() {
        for &a in &c.atoms {
            of_atom.entry(a).or_default().push(i);
        }
    }
    let debug = std::env::var("TACIT_AUDIT_DEBUG").is_ok();
    for _ in 0..MAX_ROUNDS {
        let mut results = audit_cells(
            cells,
            m,
            base,
            protection,
            Pass {
                new: Some(new),
                wanted: &|t| !passed[t],
                required: &|t| required.get(&t).copied().unwrap_or(protection),
                widths: false,
                relaxed: false,
                redundant,
            },
            cache,
        )?;
        let unknown: Vec<usize> = results
            .iter()
            .filter(|(t, b)| !b.protected(protection) && !required.contains_key(t))
            .map(|(t, _)| *t)
            .collect();
        if !unknown.is_empty() {
            let alone = audit_cells(
                &bare(cells),
                m,
                base,
                protection,
                Pass {
                    new: None,
                    wanted: &|t| unknown.contains(&t),
                    required: &|_| protection,
                    widths: true,
                    relaxed: true,
                    redundant: &HashSet::new(),
                },
                cache,
            )?;
            for &t in &unknown {
                let w = alone.get(&t).map_or(protection, |b| b.width_at_most());
                required.insert(t, w.min(protection));
            }
            // Cells that may pass with less than the protection: searched
            // again in full (the cheap search only proved them narrower
            // than the protection).
            let again: Vec<usize> = unknown
                .iter()
                .copied()
                .filter(|t| required[t] < protection)
                // The two solutions found may already be far enough apart.
                .filter(|t| results.get(t).is_none_or(|b| b.certified() < required[t]))
                .collect();
            if !again.is_empty() {
                let redone = audit_cells(
                    cells,
                    m,
                    base,
                    protection,
                    Pass {
                        new: Some(new),
                        wanted: &|t| again.contains(&t),
                        required: &|t| required.get(&t).copied().unwrap_or(protection),
                        widths: false,
                        relaxed: false,
                        redundant,
                    },
                    cache,
                )?;
                results.extend(redone);
            }
        }
        let mut chosen: Vec<usize> = Vec::new();
        let mut stuck: Option<u64> = None;
        for (&t, b) in &results {
            if b.certified() >= required.get(&t).copied().unwrap_or(protection) {
                // Withholding more only widens it: no need to look again.
                passed[t] = true;
                continue;
            }
            match neighbour(cells, &of_atom, new, t, &chosen) {
                Some(c) => chosen.push(c),
                None => stuck = Some(stuck.map_or(b.certified(), |w| w.min(b.certified()))),
            }
        }
        if debug && stuck.is_some() {
            for (&t, b) in &results {
                if !passed[t] {
                    let c = &cells[t];
                    eprintln!(
                        "stuck? {t} release {} atoms {:?} visitors {} {b:?} required {:?}",
                        c.release,
                        c.atoms,
                        c.visitors,
                        required.get(&t)
                    );
                }
            }
        }
        if chosen.is_empty() {
            return match stuck {
                Some(width) => Err(LinkCheckError::Unprotectable { width }),
                None => Ok(added),
            };
        }
        for c in chosen {
            if !cells[c].withheld {
                cells[c].withheld = true;
                added.push(c);
            }
        }
    }
    Err(LinkCheckError::Unprotectable { width: 0 })
}

/// A released cell of release `new` to withhold for cell `t`: the cheapest
/// sharing an atom with it, else the cheapest in the smallest known figure
/// (a released cell or a margin) that shares an atom with it.
pub(super) fn neighbour(
    cells: &[LinkedCell],
    of_atom: &HashMap<usize, Vec<usize>>,
    new: usize,
    t: usize,
    taken: &[usize],
) -> Option<usize> {
    let free = |c: usize| {
        let cell = &cells[c];
        cell.release == new && !cell.withheld && !cell.margin && !taken.contains(&c)
    };
    let near = |atoms: &[usize]| -> HashSet<usize> {
        atoms
            .iter()
            .flat_map(|a| of_atom.get(a).into_iter().flatten().copied())
            .collect()
    };
    let pick = |set: &HashSet<usize>| {
        set.iter()
            .copied()
            .filter(|&c| free(c))
            .min_by_key(|&c| (cells[c].visitors, c))
    };
    let direct = near(&cells[t].atoms);
    if let Some(c) = pick(&direct) {
        return Some(c);
    }
    let mut figures: Vec<usize> = direct
        .iter()
        .copied()
        .filter(|&k| known(&cells[k]))
        .collect();
    figures.sort_by_key(|&k| (cells[k].atoms.len(), k));
    figures
        .into_iter()
        .find_map(|k| pick(&near(&cells[k].atoms)))
}
