//! Unknowns an equation pins are substituted; the rest split into linked
//! groups (`Component`), each with its relations.

use std::collections::{HashMap, HashSet, VecDeque};

use super::*;

/// The system after fixing every unknown that an equation with one free
/// unknown determines: the free unknowns, the rows over them, and their
/// linked groups.
pub(super) struct Reduced {
    pub(super) fixed: Vec<Option<i64>>,
    pub(super) rows: Vec<Row>,
    /// Union-find root of each unknown.
    pub(super) root: Vec<usize>,
}

pub(super) fn reduce(rows: &[Row], n_vars: usize) -> Result<Reduced, LinkCheckError> {
    let mut fixed: Vec<Option<i64>> = vec![None; n_vars];
    let mut tainted = vec![false; n_vars];
    // Fixed through a figure of a file (not margins alone).
    let mut by_file = vec![false; n_vars];
    let eqs: Vec<usize> = (0..rows.len())
        .filter(|&r| rows[r].lo == rows[r].hi)
        .collect();
    let mut of_var: Vec<Vec<usize>> = vec![Vec::new(); n_vars];
    let mut free: Vec<usize> = vec![0; rows.len()];
    let mut queue: VecDeque<usize> = VecDeque::new();
    for &r in &eqs {
        for &(v, _) in &rows[r].terms {
            of_var[v].push(r);
        }
        free[r] = rows[r].terms.len();
        if free[r] == 1 {
            queue.push_back(r);
        }
    }
    while let Some(r) = queue.pop_front() {
        let row = &rows[r];
        let Some(&(v, c)) = row.terms.iter().find(|(v, _)| fixed[*v].is_none()) else {
            continue;
        };
        let rest: i64 = row
            .terms
            .iter()
            .filter_map(|&(u, k)| fixed[u].map(|x| k * x))
            .sum();
        let value = (row.lo - rest) * c;
        if !(0..=CAP).contains(&value) {
            return Err(LinkCheckError::Inconsistent(format!(
                "a figure of {} unknowns leaves one at {value}",
                row.terms.len()
            )));
        }
        tainted[v] = row.new || row.terms.iter().any(|&(u, _)| u != v && tainted[u]);
        by_file[v] = row.file || row.terms.iter().any(|&(u, _)| u != v && by_file[u]);
        fixed[v] = Some(value);
        for &s in &of_var[v] {
            free[s] -= 1;
            if free[s] == 1 {
                queue.push_back(s);
            }
        }
    }
    let mut out = Vec::new();
    for r in rows {
        let mut rest = 0i64;
        let new = r.new
            || r.terms
                .iter()
                .any(|&(v, _)| fixed[v].is_some() && tainted[v]);
        let file = r.file
            || r.terms
                .iter()
                .any(|&(v, _)| fixed[v].is_some() && by_file[v]);
        let terms: Vec<(usize, i64)> = r
            .terms
            .iter()
            .filter(|&&(v, c)| match fixed[v] {
                Some(x) => {
                    rest += c * x;
                    false
                }
                None => true,
            })
            .copied()
            .collect();
        let lo = if r.lo == i64::MIN { r.lo } else { r.lo - rest };
        let hi = if r.hi == i64::MAX { r.hi } else { r.hi - rest };
        if terms.is_empty() {
            if lo > 0 || hi < 0 {
                return Err(LinkCheckError::Inconsistent(format!(
                    "a figure of {} unknowns is off by {}",
                    r.terms.len(),
                    if lo > 0 { lo } else { hi }
                )));
            }
            continue;
        }
        out.push(Row {
            terms,
            lo,
            hi,
            new,
            release: r.release,
            file,
        });
    }
    let mut parent: Vec<usize> = (0..n_vars).collect();
    for r in &out {
        for w in r.terms.windows(2) {
            let (a, b) = (find(&mut parent, w[0].0), find(&mut parent, w[1].0));
            parent[a] = b;
        }
    }
    let root = (0..n_vars).map(|v| find(&mut parent, v)).collect();
    Ok(Reduced {
        fixed,
        rows: out,
        root,
    })
}

/// One linked group of free unknowns and the relations over them (or a
/// neighbourhood of a cell in one, the rest of the group at the base
/// point).
pub(super) struct Component {
    pub(super) vars: Vec<usize>,
    pub(super) rows: Vec<Row>,
    /// Per unknown: its rows, shortest first.
    pub(super) of_var: HashMap<usize, Vec<usize>>,
    /// A figure of the release being audited reaches it.
    pub(super) new: bool,
    /// A hash of its relations: the same between rounds when unchanged.
    pub(super) sig: u64,
}

impl Component {
    pub(super) fn new(mut vars: Vec<usize>, rows: Vec<Row>) -> Self {
        vars.sort_unstable();
        let mut h = DefaultHasher::new();
        for r in &rows {
            r.terms.hash(&mut h);
            r.lo.hash(&mut h);
            r.hi.hash(&mut h);
        }
        vars.hash(&mut h);
        let mut of_var: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            for &(v, _) in &r.terms {
                of_var.entry(v).or_default().push(i);
            }
        }
        for list in of_var.values_mut() {
            list.sort_by_key(|&i| (rows[i].terms.len(), i));
        }
        Component {
            new: rows.iter().any(|r| r.new),
            sig: h.finish(),
            vars,
            rows,
            of_var,
        }
    }

    /// The unknowns reached from `start` through the shortest relations
    /// first, up to `cap`: a relation that fits is taken whole, of a longer
    /// one the few unknowns sharing the most relations with those taken.
    pub(super) fn neighbourhood(&self, start: &[usize], cap: usize) -> Vec<usize> {
        let mut seen: HashSet<usize> = start.iter().copied().collect();
        let mut touched: HashSet<usize> = start
            .iter()
            .flat_map(|v| self.of_var.get(v).into_iter().flatten().copied())
            .collect();
        let mut queue: VecDeque<usize> = start.iter().copied().collect();
        while let Some(v) = queue.pop_front() {
            for &r in self.of_var.get(&v).into_iter().flatten() {
                let room = cap.saturating_sub(seen.len());
                if room == 0 {
                    break;
                }
                let mut fresh: Vec<usize> = self.rows[r]
                    .terms
                    .iter()
                    .map(|&(u, _)| u)
                    .filter(|u| !seen.contains(u))
                    .collect();
                if fresh.len() > room {
                    let score = |u: &usize| {
                        self.of_var
                            .get(u)
                            .into_iter()
                            .flatten()
                            .filter(|r| touched.contains(r))
                            .count()
                    };
                    fresh.sort_by_key(|u| (std::cmp::Reverse(score(u)), *u));
                    fresh.truncate(room.min(4));
                }
                for u in fresh {
                    seen.insert(u);
                    touched.extend(self.of_var.get(&u).into_iter().flatten().copied());
                    queue.push_back(u);
                }
            }
        }
        seen.into_iter().collect()
    }

    /// The group restricted to a neighbourhood of `start` of at most `cap`
    /// unknowns, every other unknown at `base`: its integer solutions,
    /// completed by the base, are solutions of the whole group. `None`
    /// where the base lacks a value it needs.
    pub(super) fn around(
        &self,
        start: &[usize],
        cap: usize,
        base: &[Option<i64>],
    ) -> Option<Component> {
        let free = self.neighbourhood(start, cap);
        self.restrict(&free, base)
    }

    /// The group with every unknown but `free` at `base`.
    pub(super) fn restrict(&self, free: &[usize], base: &[Option<i64>]) -> Option<Component> {
        let free = free.to_vec();
        let inside: HashSet<usize> = free.iter().copied().collect();
        let mut idx: Vec<usize> = free
            .iter()
            .flat_map(|v| self.of_var.get(v).into_iter().flatten().copied())
            .collect();
        idx.sort_unstable();
        idx.dedup();
        let mut rows = Vec::with_capacity(idx.len());
        for i in idx {
            let r = &self.rows[i];
            let mut rest = 0i64;
            let mut terms = Vec::with_capacity(r.terms.len());
            for &(v, c) in &r.terms {
                if inside.contains(&v) {
                    terms.push((v, c));
                } else {
                    rest += c * base[v]?;
                }
            }
            rows.push(Row {
                terms,
                lo: if r.lo == i64::MIN { r.lo } else { r.lo - rest },
                hi: if r.hi == i64::MAX { r.hi } else { r.hi - rest },
                ..r.clone()
            });
        }
        Some(Component::new(free, rows))
    }

    /// The program `dir sum(target)` over the group's relations, its
    /// unknowns continuous or integer.
    pub(super) fn program(
        &self,
        target: &[usize],
        dir: OptimizationDirection,
        integer: bool,
    ) -> (Problem, Vec<microlp::Variable>) {
        let col: HashMap<usize, usize> =
            self.vars.iter().enumerate().map(|(i, &v)| (v, i)).collect();
        let mut obj = vec![0.0; self.vars.len()];
        for v in target {
            obj[col[v]] += 1.0;
        }
        let mut p = Problem::new(dir);
        let xs: Vec<_> = obj
            .iter()
            .map(|&o| {
                if integer {
                    p.add_integer_var(o, (0, CAP as i32))
                } else {
                    p.add_var(o, (0.0, CAP as f64))
                }
            })
            .collect();
        for r in &self.rows {
            let expr: Vec<_> = r
                .terms
                .iter()
                .map(|&(v, c)| (xs[col[&v]], c as f64))
                .collect();
            if r.lo == r.hi {
                p.add_constraint(&expr[..], ComparisonOp::Eq, r.lo as f64);
                continue;
            }
            if r.lo != i64::MIN {
                p.add_constraint(&expr[..], ComparisonOp::Ge, r.lo as f64);
            }
            if r.hi != i64::MAX {
                p.add_constraint(&expr[..], ComparisonOp::Le, r.hi as f64);
            }
        }
        (p, xs)
    }

    /// `values` rounded, if every relation holds with them exactly in
    /// integers: the values of `vars` at that integer solution.
    pub(super) fn integer_point(&self, values: &[f64]) -> Option<HashMap<usize, i64>> {
        let mut at: HashMap<usize, i64> = HashMap::with_capacity(self.vars.len());
        for (&v, &x) in self.vars.iter().zip(values) {
            let r = x.round();
            if !(0.0..=CAP as f64).contains(&r) {
                return None;
            }
            at.insert(v, r as i64);
        }
        self.rows.iter().all(|r| r.holds(|v| at[&v])).then_some(at)
    }
}

/// A program: its group's hash, the target's unknowns, maximize.
pub(super) type Key = (u64, Vec<usize>, bool);

/// A linear optimum: its value, its value in integers when the optimum
/// found is an integer solution, and the unknowns' values.
pub(super) type LinearOptimum = (f64, Option<i64>, HashMap<usize, f64>);
