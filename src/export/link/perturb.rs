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

/// Cube candidates looked at per cell before giving up.
const CANDIDATES: usize = 6_000;

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
    coords: &'a [Vec<u32>],
    at: HashMap<&'a [u32], usize>,
    /// Per axis: the values atoms take on it.
    domain: Vec<Vec<u32>>,
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
        coords: &'a [Vec<u32>],
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
        let mut cells_of_atom: Vec<Vec<usize>> = vec![Vec::new(); coords.len()];
        for (i, c) in cells.iter().enumerate() {
            for &a in &c.atoms {
                cells_of_atom[a].push(i);
            }
        }
        for list in &mut cells_of_atom {
            list.sort_unstable();
            list.dedup();
        }
        let axes = coords.first().map_or(0, Vec::len);
        let mut domain: Vec<Vec<u32>> = vec![Vec::new(); axes];
        for c in coords {
            for (j, &x) in c.iter().enumerate() {
                domain[j].push(x);
            }
        }
        for d in &mut domain {
            d.sort_unstable();
            d.dedup();
        }
        let at = coords
            .iter()
            .enumerate()
            .map(|(a, c)| (c.as_slice(), a))
            .collect();
        Space {
            rows,
            rows_of_var,
            base,
            base_sum,
            atom_vars,
            var_atoms,
            cells_of_atom,
            coords,
            at,
            domain,
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

    /// Search cubes around cell `t` (its visitors: the unknowns `target`)
    /// for two solutions `protection` apart, starting from `up` and `down`
    /// (solutions already found). Returns the two points reached; `best`
    /// gets the cheapest cube that only cells of release `new` block.
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
        let mut up = Shift::default();
        let mut down = Shift::default();
        let base = self.value(&up, target)?;
        let mut budget = CANDIDATES;
        let in_target: HashMap<usize, ()> = cells[t].atoms.iter().map(|&a| (a, ())).collect();
        let axes = self.domain.len();
        // Smaller cubes first (fewer atoms to move), every axis set.
        let mut sets: Vec<u32> = (1..(1u32 << axes)).collect();
        sets.sort_by_key(|s| (s.count_ones(), *s));
        for &a0 in &cells[t].atoms {
            for &set in &sets {
                let axes_of: Vec<usize> = (0..axes).filter(|j| set & (1 << j) != 0).collect();
                let mut cube: Vec<(usize, i64)> = vec![(a0, 1)];
                let mut done = false;
                self.grow(
                    &axes_of,
                    &mut cube,
                    &mut budget,
                    &mut |cube: &[(usize, i64)]| {
                        // Signed sums over every figure and the target.
                        let mut sums: HashMap<usize, i64> = HashMap::new();
                        for &(a, s) in cube {
                            for &c in &self.cells_of_atom[a] {
                                if known[c] || c == t {
                                    *sums.entry(c).or_default() += s;
                                }
                            }
                        }
                        let moves: i64 = cube
                            .iter()
                            .filter(|(a, _)| in_target.contains_key(a))
                            .map(|(_, s)| s)
                            .sum();
                        if moves == 0 {
                            return false;
                        }
                        let blockers: Vec<usize> = sums
                            .iter()
                            .filter(|&(&c, &s)| s != 0 && c != t)
                            .map(|(&c, _)| c)
                            .collect();
                        if !blockers.is_empty() {
                            let open = blockers.iter().all(|&c| {
                                let cell = &cells[c];
                                Some(cell.release) == new && !cell.margin && !cell.withheld
                            });
                            if open {
                                let cost = blockers.iter().map(|&c| cells[c].visitors).sum();
                                if best.as_ref().is_none_or(|b| cost < b.cost) {
                                    let mut list = blockers;
                                    list.sort_unstable();
                                    *best = Some(Completion { cells: list, cost });
                                }
                            }
                            return false;
                        }
                        // Oriented so the cell grows.
                        let d: Vec<(usize, i64)> = cube
                            .iter()
                            .map(|&(a, s)| (a, if moves > 0 { s } else { -s }))
                            .collect();
                        let per = moves.abs();
                        let width = |up: &Shift, down: &Shift| {
                            self.value(up, target).unwrap_or(base)
                                - self.value(down, target).unwrap_or(base)
                        };
                        let need = p - width(&up, &down);
                        if let Some((_, s)) = self.farthest(&up, &d, (need + per - 1) / per) {
                            up = s;
                        }
                        let need = p - width(&up, &down);
                        if need > 0 {
                            let back: Vec<(usize, i64)> = d.iter().map(|&(a, s)| (a, -s)).collect();
                            if let Some((_, s)) =
                                self.farthest(&down, &back, (need + per - 1) / per)
                            {
                                down = s;
                            }
                        }
                        done = width(&up, &down) >= p;
                        done
                    },
                );
                if done {
                    return Some((up, down));
                }
                if budget == 0 {
                    return None;
                }
            }
        }
        None
    }

    /// Extend `cube` along `axes` (one other value per axis, atoms that
    /// exist), calling `found` on each whole cube until it returns true.
    fn grow(
        &self,
        axes: &[usize],
        cube: &mut Vec<(usize, i64)>,
        budget: &mut usize,
        found: &mut dyn FnMut(&[(usize, i64)]) -> bool,
    ) -> bool {
        let Some((&j, rest)) = axes.split_first() else {
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            return found(cube);
        };
        let start = cube[0].0;
        let own = self.coords[start][j];
        // Values near the cell's own first (days close by).
        let mut values: Vec<u32> = self.domain[j].iter().copied().filter(|&x| x != own).collect();
        values.sort_by_key(|&x| (x.abs_diff(own), x));
        let half = cube.len();
        let mut key: Vec<u32> = Vec::with_capacity(self.coords[start].len());
        for x in values {
            cube.truncate(half);
            let mut whole = true;
            for i in 0..half {
                let (a, s) = cube[i];
                key.clear();
                key.extend_from_slice(&self.coords[a]);
                key[j] = x;
                match self.at.get(key.as_slice()) {
                    Some(&b) => cube.push((b, -s)),
                    None => {
                        whole = false;
                        break;
                    }
                }
            }
            if whole && self.grow(rest, cube, budget, found) {
                return true;
            }
            if *budget == 0 {
                break;
            }
        }
        cube.truncate(half);
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
