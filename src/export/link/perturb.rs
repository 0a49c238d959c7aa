//! Integer certificates by perturbation: the cheap search of the audit.
//!
//! A withheld small cell keeps at least `protection` visitors of doubt if
//! two integer solutions of the partner's system give it values that far
//! apart. Both are built here from the *base point* (an integer solution,
//! see `link::base_point`) by adding integer multiples of *cube moves*: pick
//! one of the cell's atoms and, along a set `J` of axes (site, day, each
//! finest dimension), one other value per axis; the 2^|J| atoms so named
//! get +1 or -1 by the parity of the axes on which they differ from the
//! first. A cell of any release or margin fixes some axes and sums the
//! others out: where it leaves an axis of `J` free, its atoms in the cube
//! cancel; where it fixes every axis of `J`, it holds one atom of the cube.
//! So a cube in which every known figure cancels and the cell does not is
//! a direction along which every released figure and public margin stays
//! put while the cell moves. Every unknown moves with its atoms (an atom's
//! visitors, visits, page views and events by its sign; a union of atoms
//! by their sum), and the move is scaled as far as every relation of the
//! system (the bounds `max(part) <= union <= sum(parts)`, `visitors <=
//! visits <= events`, non-negativity) still holds at the new point, which
//! is checked in integer arithmetic on every relation the move touches.
//! Moves are added up until the two points are `protection` apart.
//!
//! A point that passes the check *is* an integer solution: the proof is
//! the point, whatever way it was found, so the search can be as greedy
//! and bounded as it likes. Finding nothing proves nothing: the caller
//! then withholds more (the cubes that failed only on cells of the release
//! being made name which cells would complete them) or refuses.

use std::collections::HashMap;

use super::{LinkedCell, Point, Row, CAP};

/// Search nodes per cell before giving up.
const NODES: usize = 4_000;

/// Atoms in one move at most.
const ATOMS: usize = 24;

/// Candidates tried per figure to balance.
const BRANCH: usize = 4;

/// Moves added up per direction.
const MOVES: usize = 24;

/// Cells of the new release one completion may withhold.
const OPEN: usize = 3;

/// A solution of the partner's system: the base point plus sparse changes
/// (per unknown, and the resulting change of each relation's sum).
#[derive(Debug, Clone, Default)]
pub(super) struct Shift {
    var: HashMap<usize, i64>,
    row: HashMap<usize, i64>,
}

/// The partner's system around the base point, indexed for local moves.
pub(super) struct Space<'a> {
    rows: &'a [Row],
    /// Per unknown: the relations it is in, with its coefficient.
    rows_of_var: Vec<Vec<(usize, i64)>>,
    base: &'a Point,
    /// Per relation: its sum at the base point (`None` if an unknown of it
    /// has no base value).
    base_sum: Vec<Option<i64>>,
    /// Per atom: the unknowns that move with it (its own counts and every
    /// union that holds it).
    atom_vars: &'a [Vec<usize>],
    /// Per unknown: the atoms it sums.
    var_atoms: &'a [Vec<usize>],
    cells_of_atom: Vec<Vec<usize>>,
}

/// A cube that every known figure but some cells of the new release
/// cancels on: withholding those completes it.
#[derive(Debug, Clone)]
pub(super) struct Completion {
    pub cells: Vec<usize>,
    pub cost: u64,
}

impl<'a> Space<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        rows: &'a [Row],
        n_vars: usize,
        base: &'a Point,
        atom_vars: &'a [Vec<usize>],
        var_atoms: &'a [Vec<usize>],
        cells: &[LinkedCell],
    ) -> Self {
        let mut rows_of_var: Vec<Vec<(usize, i64)>> = vec![Vec::new(); n_vars];
        let base_sum = rows
            .iter()
            .enumerate()
            .map(|(r, row)| {
                let mut s = Some(0i64);
                for &(v, c) in &row.terms {
                    rows_of_var[v].push((r, c));
                    s = s.and_then(|s| base[v].map(|x| s + c * x));
                }
                s
            })
            .collect();
        let mut cells_of_atom: Vec<Vec<usize>> = vec![Vec::new(); atom_vars.len()];
        for (i, c) in cells.iter().enumerate() {
            for &a in &c.atoms {
                cells_of_atom[a].push(i);
            }
        }
        for list in &mut cells_of_atom {
            list.sort_unstable();
            list.dedup();
        }
        Space {
            rows,
            rows_of_var,
            base,
            base_sum,
            atom_vars,
            var_atoms,
            cells_of_atom,
        }
    }

    /// The value of a sum of unknowns at a point.
    pub(super) fn value(&self, s: &Shift, terms: &[usize]) -> Option<i64> {
        terms.iter().try_fold(0i64, |acc, v| {
            self.base[*v].map(|b| acc + b + s.var.get(v).copied().unwrap_or(0))
        })
    }

    /// A solution given by the values of some unknowns (found by a linear
    /// program; the rest at the base): its changes, if it is one (every
    /// relation it touches checked again here).
    pub(super) fn shift_of(&self, values: &[(usize, i64)]) -> Option<Shift> {
        let mut s = Shift::default();
        for &(v, x) in values {
            let b = self.base[v]?;
            if x != b {
                if !(0..=CAP).contains(&x) {
                    return None;
                }
                s.var.insert(v, x - b);
                for &(r, c) in &self.rows_of_var[v] {
                    *s.row.entry(r).or_default() += c * (x - b);
                }
            }
        }
        for (&r, &delta) in &s.row {
            let sum = self.base_sum[r]? + delta;
            if sum < self.rows[r].lo || sum > self.rows[r].hi {
                return None;
            }
        }
        Some(s)
    }

    /// `s` moved by `t` times the cube `d` (atom, sign), if every relation
    /// it touches still holds: a new solution.
    fn moved(&self, s: &Shift, d: &[(usize, i64)], t: i64) -> Option<Shift> {
        let sign: HashMap<usize, i64> = d.iter().copied().collect();
        let mut dv: HashMap<usize, i64> = HashMap::new();
        for &(a, _) in d {
            for &v in &self.atom_vars[a] {
                dv.entry(v).or_insert_with(|| {
                    t * self.var_atoms[v]
                        .iter()
                        .map(|x| sign.get(x).copied().unwrap_or(0))
                        .sum::<i64>()
                });
            }
        }
        let mut out = s.clone();
        let mut dr: HashMap<usize, i64> = HashMap::new();
        for (&v, &dx) in &dv {
            if dx == 0 {
                continue;
            }
            let now = self.base[v]? + s.var.get(&v).copied().unwrap_or(0) + dx;
            if !(0..=CAP).contains(&now) {
                return None;
            }
            *out.var.entry(v).or_default() += dx;
            for &(r, c) in &self.rows_of_var[v] {
                *dr.entry(r).or_default() += c * dx;
            }
        }
        for (&r, &delta) in &dr {
            if delta == 0 {
                continue;
            }
            let sum = self.base_sum[r]? + s.row.get(&r).copied().unwrap_or(0) + delta;
            if sum < self.rows[r].lo || sum > self.rows[r].hi {
                return None;
            }
            *out.row.entry(r).or_default() += delta;
        }
        Some(out)
    }

    /// The farthest `s + t * d` for `t` in `1..=most` that is a solution.
    /// The solutions along a line through a solution form an interval, so
    /// the largest feasible `t` is found by bisection.
    fn farthest(&self, s: &Shift, d: &[(usize, i64)], most: i64) -> Option<(i64, Shift)> {
        let mut best = None;
        let (mut lo, mut hi) = (1, most);
        while lo <= hi {
            let mid = (lo + hi) / 2;
            match self.moved(s, d, mid) {
                Some(p) => {
                    best = Some((mid, p));
                    lo = mid + 1;
                }
                None => hi = mid - 1,
            }
        }
        best
    }

    /// An atom's room to go down at a point: the least of its own counts.
    fn room(&self, s: &Shift, a: usize) -> i64 {
        self.atom_vars[a]
            .iter()
            .filter(|&&v| self.var_atoms[v].len() == 1)
            .filter_map(|&v| self.base[v].map(|b| b + s.var.get(&v).copied().unwrap_or(0)))
            .min()
            .unwrap_or(0)
    }

    /// Search moves around cell `t` (its visitors: the unknowns `target`)
    /// for two solutions `protection` apart. Returns the two points; `best`
    /// gets the cheapest set of cells of release `new` whose withholding
    /// would let a move through.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn search(
        &self,
        cells: &[LinkedCell],
        known: &[bool],
        t: usize,
        target: &[usize],
        protection: u64,
        new: Option<usize>,
        best: &mut Option<Completion>,
    ) -> Option<(Shift, Shift)> {
        let p = protection as i64;
        let base = self.value(&Shift::default(), target)?;
        let mut points = [Shift::default(), Shift::default()];
        let width = |pts: &[Shift; 2]| {
            self.value(&pts[0], target).unwrap_or(base) - self.value(&pts[1], target).unwrap_or(base)
        };
        for (side, dir) in [(0usize, 1i64), (1, -1)] {
            // Atoms of moves that broke a relation: not tried again.
            let mut banned: Vec<usize> = Vec::new();
            for _ in 0..MOVES {
                let need = p - width(&points);
                if need <= 0 {
                    return Some((points[0].clone(), points[1].clone()));
                }
                let mut budget = NODES;
                let mut c = Circuit {
                    space: self,
                    cells,
                    known,
                    t,
                    new: None,
                    point: &points[side],
                    d: Vec::new(),
                    sums: HashMap::new(),
                    opened: Vec::new(),
                    banned: &banned,
                    budget: &mut budget,
                };
                let Some((d, moves)) = c.find(dir) else {
                    if std::env::var("TACIT_AUDIT_DEBUG").is_ok() {
                        eprintln!("    t {t} dir {dir}: no circuit (budget left {budget}), width {}", width(&points));
                    }
                    break;
                };
                if std::env::var("TACIT_AUDIT_DEBUG").is_ok() {
                    eprintln!("    t {t} dir {dir}: circuit of {} atoms, farthest {:?}", d.len(), self.farthest(&points[side], &d, 5).map(|x| x.0));
                }
                let per = moves.abs();
                match self.farthest(&points[side], &d, (need + per - 1) / per) {
                    Some((_, s)) => points[side] = s,
                    None => banned.extend(d.iter().skip(1).map(|(a, _)| *a)),
                }
            }
        }
        if width(&points) >= p {
            return Some((points[0].clone(), points[1].clone()));
        }
        // Which cells of the new release, withheld, would let a move through.
        if new.is_some() {
            let start = Shift::default();
            let mut spare = NODES;
            let mut c = Circuit {
                space: self,
                cells,
                known,
                t,
                new,
                point: &start,
                d: Vec::new(),
                sums: HashMap::new(),
                opened: Vec::new(),
                banned: &[],
                budget: &mut spare,
            };
            if c.find(1).is_some() && !c.opened.is_empty() {
                let cost = c.opened.iter().map(|&c| cells[c].visitors).sum();
                if best.as_ref().is_none_or(|b| cost < b.cost) {
                    *best = Some(Completion {
                        cells: c.opened.clone(),
                        cost,
                    });
                }
            }
        }
        None
    }
}

/// The depth-first search for one move: atoms with signs such that every
/// known figure sums to zero over them and cell `t` does not.
struct Circuit<'s, 'a> {
    space: &'s Space<'a>,
    cells: &'s [LinkedCell],
    known: &'s [bool],
    t: usize,
    /// When set: cells of this release (rows of its file, released) may be
    /// opened (withheld) instead of balanced, at most [`OPEN`] of them.
    new: Option<usize>,
    point: &'s Shift,
    d: Vec<(usize, i64)>,
    /// Per known figure touched: its sum over the move.
    sums: HashMap<usize, i64>,
    opened: Vec<usize>,
    /// Atoms left out of the search.
    banned: &'s [usize],
    budget: &'s mut usize,
}

impl Circuit<'_, '_> {
    fn apply(&mut self, a: usize, s: i64) {
        self.d.push((a, s));
        for &c in &self.space.cells_of_atom[a] {
            if self.known[c] {
                *self.sums.entry(c).or_default() += s;
            }
        }
    }

    fn undo(&mut self) {
        let (a, s) = self.d.pop().expect("applied");
        for &c in &self.space.cells_of_atom[a] {
            if self.known[c] {
                *self.sums.entry(c).or_default() -= s;
            }
        }
    }

    fn may_open(&self, c: usize) -> bool {
        let cell = &self.cells[c];
        Some(cell.release) == self.new && !cell.margin && !cell.withheld
    }

    /// A move in direction `dir` (+1: the cell grows) from the point, and
    /// how much the cell moves along it.
    fn find(&mut self, dir: i64) -> Option<(Vec<(usize, i64)>, i64)> {
        let atoms = self.cells[self.t].atoms.clone();
        for a0 in atoms {
            if dir < 0 && self.space.room(self.point, a0) < 1 {
                continue;
            }
            self.apply(a0, dir);
            let found = self.dfs();
            if found {
                let moves: i64 = self
                    .d
                    .iter()
                    .filter(|(a, _)| self.cells[self.t].atoms.contains(a))
                    .map(|(_, s)| s)
                    .sum();
                if moves * dir > 0 {
                    return Some((self.d.clone(), moves));
                }
            }
            while !self.d.is_empty() {
                self.undo();
            }
            self.opened.clear();
            if *self.budget == 0 {
                break;
            }
        }
        None
    }

    fn dfs(&mut self) -> bool {
        if *self.budget == 0 {
            return false;
        }
        *self.budget -= 1;
        // The unbalanced figure with the fewest atoms (opened ones aside).
        let next = self
            .sums
            .iter()
            .filter(|&(c, &s)| s != 0 && !self.opened.contains(c))
            .map(|(&c, &s)| (self.cells[c].atoms.len(), c, s))
            .min();
        let Some((_, f, sum)) = next else {
            return true;
        };
        if self.d.len() >= ATOMS {
            return false;
        }
        let sign = -sum.signum();
        let used: Vec<usize> = self.d.iter().map(|(a, _)| *a).collect();
        // Candidates: atoms of the figure not in the move yet that can go
        // the needed way, best first (figures fixed minus figures broken).
        let mut cand: Vec<(i64, usize)> = self.cells[f]
            .atoms
            .iter()
            .copied()
            .filter(|a| !used.contains(a) && !self.banned.contains(a))
            .filter(|&a| sign > 0 || self.space.room(self.point, a) >= 1)
            .map(|a| {
                let score: i64 = self.space.cells_of_atom[a]
                    .iter()
                    .filter(|&&c| self.known[c])
                    .map(|c| {
                        let s = self.sums.get(c).copied().unwrap_or(0);
                        (s.abs() - (s + sign).abs()).signum()
                    })
                    .sum();
                (-score, a)
            })
            .collect();
        cand.sort_unstable();
        cand.truncate(BRANCH);
        for (_, a) in cand {
            self.apply(a, sign);
            if self.dfs() {
                return true;
            }
            self.undo();
            if *self.budget == 0 {
                return false;
            }
        }
        // Open the figure instead, if it is a row of the new release.
        if self.may_open(f) && self.opened.len() < OPEN {
            self.opened.push(f);
            if self.dfs() {
                return true;
            }
            self.opened.pop();
        }
        false
    }
}

/// Do the two points give `target` values at least `protection` apart?
pub(super) fn spread(space: &Space<'_>, pool: &[Shift], target: &[usize]) -> u64 {
    let (lo, hi) = pool
        .iter()
        .filter_map(|p| space.value(p, target))
        .fold((i64::MAX, i64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    if lo > hi {
        0
    } else {
        (hi - lo) as u64
    }
}
