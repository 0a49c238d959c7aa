//! The partner's system: its unknowns (atoms, unions over visitor groups,
//! counts) and the relations over them: those that hold whatever is
//! released, each known figure, and tacit's own counts.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Count {
    Visits,
    Pageviews,
    Events,
}

pub(super) const COUNTS: [Count; 3] = [Count::Visits, Count::Pageviews, Count::Events];

pub(super) fn count_of(c: &LinkedCell, count: Count) -> Option<u64> {
    match count {
        Count::Visits => c.visits,
        Count::Pageviews => c.pageviews,
        Count::Events => c.events,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Var {
    /// Visitors of an atom.
    X(usize),
    /// Visitors of a union of atoms of one visitor group.
    U(usize),
    /// A count of an atom.
    M(Count, usize),
}

/// `lo <= sum(terms) <= hi`, coefficients ±1.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub(super) terms: Vec<(usize, i64)>,
    pub(super) lo: i64,
    pub(super) hi: i64,
    /// A figure of the release being audited (or, once reduced, a row that
    /// such a figure changed): only groups with one can have changed.
    pub(super) new: bool,
    /// The release whose figure it is (`None`: a relation that holds
    /// whatever is released).
    pub(super) release: Option<usize>,
    /// A figure of a file (a released row), not a margin.
    pub(super) file: bool,
}

impl Row {
    pub(super) fn at_least(terms: Vec<(usize, i64)>, lo: i64) -> Self {
        Row {
            terms,
            lo,
            hi: i64::MAX,
            new: false,
            release: None,
            file: false,
        }
    }

    pub(super) fn holds(&self, value: impl Fn(usize) -> i64) -> bool {
        let s: i64 = self.terms.iter().map(|&(v, c)| c * value(v)).sum();
        s >= self.lo && s <= self.hi
    }
}

/// The unknowns of the partner's system and the relations that hold
/// whatever is released (unions, counts).
pub(super) struct Model {
    pub(super) n_vars: usize,
    /// Per cell: the unknowns its visitors sum.
    pub(super) visitors: Vec<Vec<usize>>,
    /// Per cell and count (visits, page views, events): the unknowns it
    /// sums, when the cell carries that count.
    pub(super) counts: Vec<[Option<Vec<usize>>; 3]>,
    pub(super) structural: Vec<Row>,
}

pub(super) struct Builder {
    pub(super) vars: HashMap<Var, usize>,
    pub(super) unions: HashMap<Vec<usize>, usize>,
    pub(super) rows: Vec<Row>,
}

impl Builder {
    pub(super) fn var(&mut self, v: Var) -> (usize, bool) {
        let next = self.vars.len();
        let mut fresh = false;
        let id = *self.vars.entry(v).or_insert_with(|| {
            fresh = true;
            next
        });
        (id, fresh)
    }

    pub(super) fn x(&mut self, a: usize) -> usize {
        self.var(Var::X(a)).0
    }

    /// The unknown counting the visitors of a set of atoms of one group.
    pub(super) fn union(&mut self, atoms: Vec<usize>) -> usize {
        if atoms.len() == 1 {
            return self.x(atoms[0]);
        }
        let next = self.unions.len();
        let id = *self.unions.entry(atoms.clone()).or_insert(next);
        let (u, fresh) = self.var(Var::U(id));
        if fresh {
            let xs: Vec<usize> = atoms.iter().map(|&a| self.x(a)).collect();
            for &x in &xs {
                self.rows.push(Row::at_least(vec![(u, 1), (x, -1)], 0));
            }
            let mut terms: Vec<(usize, i64)> = xs.iter().map(|&x| (x, 1)).collect();
            terms.push((u, -1));
            self.rows.push(Row::at_least(terms, 0));
        }
        u
    }

    /// The unknowns a cell's visitors sum: per visitor group, the union of
    /// its atoms there.
    pub(super) fn visitors(&mut self, c: &LinkedCell, groups: &[usize]) -> Vec<usize> {
        let mut by_group: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &a in &c.atoms {
            by_group.entry(groups[a]).or_default().push(a);
        }
        let mut out: Vec<usize> = by_group
            .into_values()
            .map(|mut atoms| {
                atoms.sort_unstable();
                atoms.dedup();
                self.union(atoms)
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

pub(super) fn model(cells: &[LinkedCell], groups: &[usize]) -> Model {
    let mut b = Builder {
        vars: HashMap::new(),
        unions: HashMap::new(),
        rows: Vec::new(),
    };
    let visitors: Vec<Vec<usize>> = cells.iter().map(|c| b.visitors(c, groups)).collect();
    // A union of atoms of one group counts no more visitors than a union
    // of more of them: `union(S) <= union(T)` for S within T.
    let mut by_group: BTreeMap<usize, Vec<(Vec<usize>, usize)>> = BTreeMap::new();
    for (set, &id) in &b.unions {
        by_group
            .entry(groups[set[0]])
            .or_default()
            .push((set.clone(), b.vars[&Var::U(id)]));
    }
    for sets in by_group.values_mut() {
        sets.sort();
        for (s, us) in sets.iter() {
            for (t, ut) in sets.iter() {
                if s.len() < t.len() && s.iter().all(|a| t.binary_search(a).is_ok()) {
                    b.rows.push(Row::at_least(vec![(*ut, 1), (*us, -1)], 0));
                }
            }
        }
        // And no more than two smaller sets that cover it hold together:
        // `union(A ∪ B) <= union(A) + union(B)` (single atoms included).
        let mut parts: Vec<(Vec<usize>, usize)> = sets.clone();
        let mut atoms: Vec<usize> = sets.iter().flat_map(|(s, _)| s.iter().copied()).collect();
        atoms.sort_unstable();
        atoms.dedup();
        parts.extend(atoms.into_iter().map(|a| (vec![a], b.x(a))));
        for (c, uc) in sets.iter() {
            let inside: Vec<&(Vec<usize>, usize)> = parts
                .iter()
                .filter(|(p, _)| p.len() < c.len() && p.iter().all(|a| c.binary_search(a).is_ok()))
                .collect();
            for (i, (pa, ua)) in inside.iter().enumerate() {
                for (pb, ub) in &inside[i + 1..] {
                    // Two atoms are within `union <= sum(x)` already.
                    if pa.len() == 1 && pb.len() == 1 || pa.len() + pb.len() < c.len() {
                        continue;
                    }
                    let covers = c
                        .iter()
                        .all(|a| pa.binary_search(a).is_ok() || pb.binary_search(a).is_ok());
                    if covers {
                        b.rows
                            .push(Row::at_least(vec![(*ua, 1), (*ub, 1), (*uc, -1)], 0));
                    }
                }
            }
        }
    }
    let mut counts: Vec<[Option<Vec<usize>>; 3]> = Vec::with_capacity(cells.len());
    for c in cells {
        let mut per = [None, None, None];
        for (i, count) in COUNTS.into_iter().enumerate() {
            if count_of(c, count).is_some() {
                let mut v: Vec<usize> =
                    c.atoms.iter().map(|&a| b.var(Var::M(count, a)).0).collect();
                v.sort_unstable();
                v.dedup();
                per[i] = Some(v);
            }
        }
        counts.push(per);
    }
    // Relations between the counts of an atom and of a visitor group.
    let mut counted: Vec<(Count, usize)> = b
        .vars
        .keys()
        .filter_map(|v| match v {
            Var::M(c, a) => Some((*c, *a)),
            _ => None,
        })
        .collect();
    counted.sort_unstable_by_key(|&(c, a)| (a, c as u8));
    let mut visits_of_group: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (count, a) in counted {
        let m = b.vars[&Var::M(count, a)];
        match count {
            Count::Events => {
                let x = b.x(a);
                b.rows.push(Row::at_least(vec![(m, 1), (x, -1)], 0));
            }
            Count::Visits | Count::Pageviews => {
                if let Some(&e) = b.vars.get(&Var::M(Count::Events, a)) {
                    b.rows.push(Row::at_least(vec![(e, 1), (m, -1)], 0));
                }
                if count == Count::Visits {
                    visits_of_group.entry(groups[a]).or_default().push(a);
                }
            }
        }
    }
    // Visitors <= visits per visitor group: every visitor unknown of a
    // group (an atom, or a union of its atoms) counts no more visitors
    // than the group's visits, where every atom of the group has its
    // visits in the system. Written for each unknown, not only for the
    // whole group's union: the relation holds whatever cells exist.
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for (a, &g) in groups.iter().enumerate() {
        members.entry(g).or_default().push(a);
    }
    // A union's group is its first atom's.
    let group_of_union: HashMap<usize, usize> = b
        .unions
        .iter()
        .map(|(set, &u)| (u, groups[set[0]]))
        .collect();
    let mut unknowns_of_group: HashMap<usize, Vec<usize>> = HashMap::new();
    for (v, &id) in &b.vars {
        let g = match v {
            Var::X(a) => groups[*a],
            Var::U(u) => group_of_union[u],
            Var::M(..) => continue,
        };
        unknowns_of_group.entry(g).or_default().push(id);
    }
    for (g, atoms) in visits_of_group {
        if atoms.len() != members[&g].len() {
            continue;
        }
        let visits: Vec<(usize, i64)> = atoms
            .iter()
            .map(|&a| (b.vars[&Var::M(Count::Visits, a)], 1))
            .collect();
        let mut who = unknowns_of_group.remove(&g).unwrap_or_default();
        who.sort_unstable();
        for u in who {
            let mut terms = visits.clone();
            terms.push((u, -1));
            b.rows.push(Row::at_least(terms, 0));
        }
    }
    Model {
        n_vars: b.vars.len(),
        visitors,
        counts,
        structural: b.rows,
    }
}

/// The integer values a partner cannot tell apart from `value` once it is
/// rounded to `round_to` (round half up, as `table` does).
pub(super) fn published_range(value: u64, round_to: u64) -> (i64, i64) {
    let r = round_to.max(1);
    if r == 1 {
        return (value as i64, value as i64);
    }
    let published = (value + r / 2) / r * r;
    let lo = published.saturating_sub(r / 2);
    let hi = published + r - 1 - r / 2;
    (lo as i64, hi as i64)
}

/// Does a cell's value enter the partner's system?
pub(super) fn known(c: &LinkedCell) -> bool {
    if c.margin {
        // A margin below k is not public: tacit's to know only.
        !c.small
    } else {
        c.exact && !c.withheld
    }
}

pub(super) fn figure(terms: &[usize], (lo, hi): (i64, i64), new: bool, cell: &LinkedCell) -> Row {
    Row {
        terms: terms.iter().map(|&v| (v, 1)).collect(),
        lo,
        hi,
        new,
        release: Some(cell.release),
        file: !cell.margin,
    }
}

/// The partner's figures: every known cell's counts.
/// `redundant`: cells whose figures are sums of the partner's other
/// figures (`implied_plan`), left out (the solutions are the same).
pub(super) fn partner_rows(
    m: &Model,
    cells: &[LinkedCell],
    new: Option<usize>,
    redundant: &HashSet<usize>,
) -> Vec<Row> {
    let mut rows = m.structural.clone();
    for (c, cell) in cells.iter().enumerate() {
        // A cell that cannot be mapped onto the atoms is left out.
        if !known(cell) || cell.atoms.is_empty() || redundant.contains(&c) {
            continue;
        }
        let round = if cell.margin { 1 } else { cell.round_to };
        let is_new = Some(cell.release) == new;
        rows.push(figure(
            &m.visitors[c],
            published_range(cell.visitors, round),
            is_new,
            cell,
        ));
        for (i, count) in COUNTS.into_iter().enumerate() {
            if let (Some(terms), Some(v)) = (&m.counts[c][i], count_of(cell, count)) {
                rows.push(figure(terms, published_range(v, round), is_new, cell));
            }
        }
    }
    rows
}

/// What tacit knows: every cell's exact counts, withheld or not. Its
/// integer solutions are solutions of the partner's system.
pub(super) fn truth_rows(m: &Model, cells: &[LinkedCell]) -> Vec<Row> {
    let mut rows = m.structural.clone();
    for (c, cell) in cells.iter().enumerate() {
        // Noisy cells are counted with bounded contributions: not the
        // partner's business, and not needed (it gets no equation of them).
        if cell.atoms.is_empty() || !(cell.exact || cell.margin) {
            continue;
        }
        let v = cell.visitors as i64;
        rows.push(figure(&m.visitors[c], (v, v), false, cell));
        for (i, count) in COUNTS.into_iter().enumerate() {
            if let (Some(terms), Some(v)) = (&m.counts[c][i], count_of(cell, count)) {
                rows.push(figure(terms, (v as i64, v as i64), false, cell));
            }
        }
    }
    rows
}

/// Each figure of a known cell: the unknowns it sums (its visitors, then
/// each count it carries) and the range the partner reads of it.
pub(super) fn figures_of<'m>(
    m: &'m Model,
    c: usize,
    cell: &LinkedCell,
) -> Vec<(&'m [usize], (i64, i64))> {
    let round = if cell.margin { 1 } else { cell.round_to };
    let mut out: Vec<(&[usize], (i64, i64))> =
        vec![(&m.visitors[c], published_range(cell.visitors, round))];
    for (i, count) in COUNTS.into_iter().enumerate() {
        if let (Some(terms), Some(v)) = (&m.counts[c][i], count_of(cell, count)) {
            out.push((terms, published_range(v, round)));
        }
    }
    out
}
