//! The audit of everything one partner holds.
//!
//! A partner keeps every file, knows the method and every public margin of
//! every table it receives (down to the grand total), and solves linear and
//! integer programs. Its knowledge is modelled as one system per partner
//! over integer unknowns:
//!
//! - `x` per *atom* (one site, one UTC day, one combination of the finest
//!   dimensions of the partner's exports): its visitors. Visitor ids are
//!   daily and per site, so visitors add up over days and sites.
//! - A *visitor group* is a site, a day and the values of the finest
//!   dimensions that held one value per visitor id that day (location,
//!   device, browser, OS, when the data shows it: `linked::visitor_groups`).
//!   Each visitor falls in exactly one group. Where a cell covers several
//!   atoms of one group, its visitors there are the *union* of those atoms:
//!   one unknown per group and set of atoms, with `max(x) <= union <=
//!   sum(x)`. The same set in two cells (a day's country and the same
//!   country in the week) is the same unknown, so those cells still add up
//!   exactly over groups.
//! - Visits, page views and events per atom: they add up over everything.
//!   Per atom `visitors <= events`, `visits <= events`, `pageviews <=
//!   events`; per visitor group `visitors <= visits`.
//!
//! Every released count that is exact enters as an equation (a rounded one
//! as the integer range that rounds to it), every public margin too; noisy
//! counts enter as nothing.
//!
//! **Integer soundness.** A withheld small cell passes only with a
//! certificate: two assignments of non-negative integers that satisfy every
//! relation of the partner's system exactly (checked in integer arithmetic)
//! and give the cell values at least `protection` apart. Both are possible
//! for the partner, so its integer interval is at least that wide whatever
//! it solves. Linear programs only search for such points; a cell is
//! *proven* narrow when the linear-programming bounds of a relaxation (a
//! subset of the relations) are less than `protection` apart, since the
//! integer interval lies inside them. A cell neither certified nor proven
//! narrow is treated as narrow (more is withheld): a weak search costs
//! withheld cells, never protection.
//!
//! **Speed.** The system is built once per audit and every unknown an
//! equation pins is substituted. A *base point* is found once: an integer
//! solution of the tacit-side system (every cell's exact counts, withheld
//! ones included), which is also a solution of the partner's system. The
//! search for a cell's certificate then frees only a neighbourhood of the
//! cell (the unknowns reached through the fewest, shortest relations, up
//! to a cap) and keeps the rest at the base point: a solution of this small
//! program is a solution of the whole system. The neighbourhood grows
//! (16, 64, 256 unknowns) and only then is the cell's whole linked group
//! solved.
//!
//! When cells fail, the cheapest released cell of the new release next to
//! each is withheld too, and the audit runs again; earlier releases never
//! change.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use microlp::{ComparisonOp, OptimizationDirection, Problem};

use super::suppress::find;

mod perturb;

use perturb::{Completion, Shift};

/// More unknowns than this in one linked group searched at once: refuse
/// rather than release unchecked.
pub const MAX_VARIABLES: usize = 20_000;

/// Upper bound given to every unknown (a count no cell reaches); it only
/// keeps the programs bounded and can only make the audit stricter.
const CAP: i64 = 100_000_000;

/// Branch-and-bound nodes per program when the linear optimum is
/// fractional.
const BRANCH_NODES: u64 = 40;

/// Neighbourhood sizes of the linear-programming search (after the cube
/// moves): the first while withholding, both before refusing.
const LEVELS: [usize; 2] = [16, 64];

/// Relations longer than this are left out of the relaxation that proves
/// a cell narrow (leaving relations out only loosens it).
const RELAXATION_TERMS: usize = 64;

/// A linked group of at most this many unknowns is searched whole (one
/// program), larger ones only by moves and neighbourhoods.
const WHOLE_VARIABLES: usize = 256;

/// Unknowns at most in the program that proves a cell narrowed by its own
/// release's public margins.
const PROOF_VARIABLES: usize = 400;

/// How hard the audit looks at one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effort {
    /// While withholding (`protect`): cube moves, the smallest
    /// neighbourhood.
    Quick,
    /// Cube moves, every neighbourhood level (`audit`, and before a
    /// release is refused).
    Full,
    /// Only the proof of narrowness (the public margins alone).
    Proof,
}

/// One cell of a release (or a public margin of it), in the atom model.
#[derive(Debug, Clone, Default)]
pub struct LinkedCell {
    /// Which release it belongs to (index into the caller's list).
    pub release: usize,
    /// Indices of the atoms it covers.
    pub atoms: Vec<usize>,
    /// Exact visitors (known to tacit, not to the partner if withheld).
    pub visitors: u64,
    /// Exact visits, page views and events, when the partner receives them.
    pub visits: Option<u64>,
    pub pageviews: Option<u64>,
    pub events: Option<u64>,
    pub withheld: bool,
    /// Its published values are exact (no noise) and enter the system.
    pub exact: bool,
    /// Rounding step of the published values (1: none).
    pub round_to: u64,
    /// Below k: a cell the audit protects.
    pub small: bool,
    /// A margin of the release, not a row of its file: never withheld,
    /// never protected; known to the partner unless `small` (then it only
    /// pins tacit's own solution).
    pub margin: bool,
}

/// Why the audit could not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkCheckError {
    #[error("{0} unknowns are linked across this partner's releases; too many to audit. Coarsen the exports' dimensions")]
    TooLinked(usize),
    #[error("a withheld small cell can be narrowed to {width} visitors whatever this release withholds; refusing to release")]
    Unprotectable { width: u64 },
    #[error("the partner's releases contradict each other ({0}); refusing to release until this is looked into")]
    Inconsistent(String),
    #[error("the audit's linear program failed: {0}")]
    Solver(String),
}

/// The audit's verdict on one withheld small cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Linear-programming bounds of its visitors, where the verdict needed
    /// them (NaN otherwise): the integer interval lies inside.
    pub low: f64,
    pub high: f64,
    /// The widest gap between two integer solutions found (a lower bound of
    /// the partner's integer interval's width).
    pub certified: u64,
    /// The interval is proven narrower than the protection level (not only
    /// unproven wide).
    pub proven: bool,
    /// The partner knows nothing of the cell's linked group but public
    /// margins of the cell's own release (every row near it withheld, no
    /// other release linked): whatever its interval, the files add nothing
    /// to what the margins alone say.
    pub margins_only: bool,
}

impl Bounds {
    /// Does the cell keep at least `protection` visitors of doubt, for a
    /// partner solving integer programs?
    pub fn protected(&self, protection: u64) -> bool {
        self.certified >= protection
    }

    fn narrow(low: f64, high: f64) -> Self {
        Bounds {
            low,
            high,
            certified: 0,
            proven: true,
            margins_only: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Count {
    Visits,
    Pageviews,
    Events,
}

const COUNTS: [Count; 3] = [Count::Visits, Count::Pageviews, Count::Events];

fn count_of(c: &LinkedCell, count: Count) -> Option<u64> {
    match count {
        Count::Visits => c.visits,
        Count::Pageviews => c.pageviews,
        Count::Events => c.events,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Var {
    /// Visitors of an atom.
    X(usize),
    /// Visitors of a union of atoms of one visitor group.
    U(usize),
    /// A count of an atom.
    M(Count, usize),
}

/// `lo <= sum(terms) <= hi`, coefficients ±1.
#[derive(Debug, Clone)]
struct Row {
    terms: Vec<(usize, i64)>,
    lo: i64,
    hi: i64,
    /// A figure of the release being audited (or, once reduced, a row that
    /// such a figure changed): only groups with one can have changed.
    new: bool,
    /// The release whose figure it is (`None`: a relation that holds
    /// whatever is released).
    release: Option<usize>,
    /// A figure of a file (a released row), not a margin.
    file: bool,
}

impl Row {
    fn at_least(terms: Vec<(usize, i64)>, lo: i64) -> Self {
        Row {
            terms,
            lo,
            hi: i64::MAX,
            new: false,
            release: None,
            file: false,
        }
    }

    fn holds(&self, value: impl Fn(usize) -> i64) -> bool {
        let s: i64 = self.terms.iter().map(|&(v, c)| c * value(v)).sum();
        s >= self.lo && s <= self.hi
    }
}

/// The unknowns of the partner's system and the relations that hold
/// whatever is released (unions, counts).
struct Model {
    n_vars: usize,
    /// Per cell: the unknowns its visitors sum.
    visitors: Vec<Vec<usize>>,
    /// Per cell and count (visits, page views, events): the unknowns it
    /// sums, when the cell carries that count.
    counts: Vec<[Option<Vec<usize>>; 3]>,
    structural: Vec<Row>,
    /// Per unknown: the atoms it sums (one, or a union's).
    var_atoms: Vec<Vec<usize>>,
    /// Per atom: the unknowns that sum it.
    atom_vars: Vec<Vec<usize>>,
}

struct Builder {
    vars: HashMap<Var, usize>,
    unions: HashMap<Vec<usize>, usize>,
    rows: Vec<Row>,
}

impl Builder {
    fn var(&mut self, v: Var) -> (usize, bool) {
        let next = self.vars.len();
        let mut fresh = false;
        let id = *self.vars.entry(v).or_insert_with(|| {
            fresh = true;
            next
        });
        (id, fresh)
    }

    fn x(&mut self, a: usize) -> usize {
        self.var(Var::X(a)).0
    }

    /// The unknown counting the visitors of a set of atoms of one group.
    fn union(&mut self, atoms: Vec<usize>) -> usize {
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
    fn visitors(&mut self, c: &LinkedCell, groups: &[usize]) -> Vec<usize> {
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

fn model(cells: &[LinkedCell], groups: &[usize]) -> Model {
    let mut b = Builder {
        vars: HashMap::new(),
        unions: HashMap::new(),
        rows: Vec::new(),
    };
    let visitors: Vec<Vec<usize>> = cells.iter().map(|c| b.visitors(c, groups)).collect();
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
    // Visitors <= visits per visitor group, where the group's visitors are
    // an unknown of the system (a lone atom, or the union of all its atoms)
    // and every atom of the group has its visits in the system.
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for (a, &g) in groups.iter().enumerate() {
        members.entry(g).or_default().push(a);
    }
    for (g, atoms) in visits_of_group {
        let all = &members[&g];
        if atoms.len() != all.len() {
            continue;
        }
        let who = if all.len() == 1 {
            b.vars.get(&Var::X(all[0])).copied()
        } else {
            b.unions
                .get(all)
                .and_then(|&u| b.vars.get(&Var::U(u)).copied())
        };
        if let Some(who) = who {
            let mut terms: Vec<(usize, i64)> = atoms
                .iter()
                .map(|&a| (b.vars[&Var::M(Count::Visits, a)], 1))
                .collect();
            terms.push((who, -1));
            b.rows.push(Row::at_least(terms, 0));
        }
    }
    let sets: HashMap<usize, &Vec<usize>> = b.unions.iter().map(|(s, &u)| (u, s)).collect();
    let mut var_atoms: Vec<Vec<usize>> = vec![Vec::new(); b.vars.len()];
    for (v, &id) in &b.vars {
        var_atoms[id] = match v {
            Var::X(a) | Var::M(_, a) => vec![*a],
            Var::U(u) => sets[u].clone(),
        };
    }
    let mut atom_vars: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
    for (v, atoms) in var_atoms.iter().enumerate() {
        for &a in atoms {
            atom_vars[a].push(v);
        }
    }
    Model {
        n_vars: b.vars.len(),
        visitors,
        counts,
        structural: b.rows,
        var_atoms,
        atom_vars,
    }
}

/// The integer values a partner cannot tell apart from `value` once it is
/// rounded to `round_to` (round half up, as `table` does).
fn published_range(value: u64, round_to: u64) -> (i64, i64) {
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
fn known(c: &LinkedCell) -> bool {
    if c.margin {
        // A margin below k is not public: tacit's to know only.
        !c.small
    } else {
        c.exact && !c.withheld
    }
}

fn figure(terms: &[usize], (lo, hi): (i64, i64), new: bool, cell: &LinkedCell) -> Row {
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
fn partner_rows(m: &Model, cells: &[LinkedCell], new: Option<usize>) -> Vec<Row> {
    let mut rows = m.structural.clone();
    for (c, cell) in cells.iter().enumerate() {
        // A cell that cannot be mapped onto the atoms is left out.
        if !known(cell) || cell.atoms.is_empty() {
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
                rows.push(figure(
                    terms,
                    published_range(v, round),
                    is_new,
                    cell,
                ));
            }
        }
    }
    rows
}

/// What tacit knows: every cell's exact counts, withheld or not. Its
/// solutions are solutions of the partner's system.
fn truth_rows(m: &Model, cells: &[LinkedCell]) -> Vec<Row> {
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

/// The system after fixing every unknown that an equation with one free
/// unknown determines: the free unknowns, the rows over them, and their
/// linked groups.
struct Reduced {
    fixed: Vec<Option<i64>>,
    rows: Vec<Row>,
    /// Union-find root of each unknown.
    root: Vec<usize>,
}

fn reduce(rows: &[Row], n_vars: usize) -> Result<Reduced, LinkCheckError> {
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

/// An integer solution of the partner's system found once (`None` where
/// an unknown has none yet).
type Point = Vec<Option<i64>>;

/// Optimum of `objective` over the unknowns `free` (global ids), subject
/// to `rows` with every other unknown at `base`: the linear program, or,
/// with `nodes`, a bounded branch and bound. The values are of `free`.
fn optimum(
    rows: &[&Row],
    free: &[usize],
    base: &Point,
    objective: &[usize],
    dir: OptimizationDirection,
    nodes: Option<u64>,
) -> Result<Option<(f64, Vec<f64>)>, LinkCheckError> {
    if free.len() > MAX_VARIABLES {
        return Err(LinkCheckError::TooLinked(free.len()));
    }
    let col: HashMap<usize, usize> = free.iter().enumerate().map(|(i, &v)| (v, i)).collect();
    let mut obj = vec![0.0; free.len()];
    for v in objective {
        obj[col[v]] += 1.0;
    }
    let mut p = Problem::new(dir);
    let xs: Vec<_> = obj
        .iter()
        .map(|&o| match nodes {
            Some(_) => p.add_integer_var(o, (0, CAP as i32)),
            None => p.add_var(o, (0.0, f64::INFINITY)),
        })
        .collect();
    for r in rows {
        let mut expr = Vec::with_capacity(r.terms.len());
        let mut rest = 0i64;
        for &(v, c) in &r.terms {
            match col.get(&v) {
                Some(&i) => expr.push((xs[i], c as f64)),
                None => match base[v] {
                    Some(x) => rest += c * x,
                    None => return Ok(None),
                },
            }
        }
        if expr.is_empty() {
            continue;
        }
        let (lo, hi) = (
            r.lo.saturating_sub(rest).max(i64::MIN / 2),
            r.hi.saturating_sub(rest).min(i64::MAX / 2),
        );
        if lo == hi {
            p.add_constraint(&expr[..], ComparisonOp::Eq, lo as f64);
            continue;
        }
        if r.lo != i64::MIN {
            p.add_constraint(&expr[..], ComparisonOp::Ge, lo as f64);
        }
        if r.hi != i64::MAX {
            p.add_constraint(&expr[..], ComparisonOp::Le, hi as f64);
        }
    }
    let mut options = microlp::SolveOptions::default();
    options.node_limit = nodes;
    match p.solve_with(options) {
        Ok(out) => match out.solution() {
            Some(s) => Ok(Some((
                s.objective(),
                xs.iter().map(|&x| s[x]).collect::<Vec<f64>>(),
            ))),
            None if nodes.is_some() => Ok(None),
            None => Err(LinkCheckError::Solver("interrupted".into())),
        },
        Err(microlp::Error::Infeasible) => Ok(None),
        Err(microlp::Error::Unbounded) => Ok(Some((f64::INFINITY, Vec::new()))),
        Err(e) => Err(LinkCheckError::Solver(e.to_string())),
    }
}

/// `values` (of `free`) rounded, if every row holds exactly in integers
/// with them and the rest at `base`: a solution of the system (the values
/// of `free`).
fn integer_point(
    rows: &[&Row],
    free: &[usize],
    base: &Point,
    values: &[f64],
) -> Option<Vec<(usize, i64)>> {
    if values.len() != free.len() {
        return None;
    }
    let mut p: HashMap<usize, i64> = HashMap::with_capacity(free.len());
    for (&v, &x) in free.iter().zip(values) {
        let r = x.round();
        if !(0.0..=CAP as f64).contains(&r) {
            return None;
        }
        p.insert(v, r as i64);
    }
    let at = |v: usize| p.get(&v).copied().or(base[v]);
    rows.iter()
        .all(|r| r.terms.iter().all(|&(v, _)| at(v).is_some()) && r.holds(|v| at(v).unwrap_or(0)))
        .then(|| free.iter().map(|&v| (v, p[&v])).collect())
}

/// One linked group of free unknowns of the partner's system.
struct Component<'a> {
    vars: Vec<usize>,
    rows: Vec<&'a Row>,
    /// Per unknown (global id): the rows of the group it is in.
    of_var: HashMap<usize, Vec<usize>>,
}

impl<'a> Component<'a> {
    fn new(vars: Vec<usize>, rows: Vec<&'a Row>) -> Self {
        let mut of_var: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            for &(v, _) in &r.terms {
                of_var.entry(v).or_default().push(i);
            }
        }
        for list in of_var.values_mut() {
            list.sort_by_key(|&i| (rows[i].terms.len(), i));
        }
        Component { vars, rows, of_var }
    }

    /// The unknowns reached from `start` through the shortest relations
    /// first, up to `cap`: a relation that fits is taken whole, of a longer
    /// one the few unknowns sharing the most relations with those taken.
    fn neighbourhood(&self, start: &[usize], cap: usize) -> Vec<usize> {
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
        let mut out: Vec<usize> = seen.into_iter().collect();
        out.sort_unstable();
        out
    }

    /// The rows touching any of `free`.
    fn rows_of(&self, free: &[usize]) -> Vec<&'a Row> {
        let mut idx: Vec<usize> = free
            .iter()
            .flat_map(|v| self.of_var.get(v).into_iter().flatten().copied())
            .collect();
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().map(|i| self.rows[i]).collect()
    }
}

/// The search for one cell: integer solutions of `rows` over `free` (the
/// rest at `base`) giving `target` its largest and smallest values.
/// Returns the linear bounds (`None` if infeasible with the rest at the
/// base) and the integer solutions found (values of `free`).
#[allow(clippy::type_complexity)]
fn search(
    rows: &[&Row],
    free: &[usize],
    base: &Point,
    target: &[usize],
) -> Result<(Option<(f64, f64)>, Vec<Vec<(usize, i64)>>), LinkCheckError> {
    use OptimizationDirection::{Maximize, Minimize};
    let mut found = Vec::new();
    let Some((hi, x_hi)) = optimum(rows, free, base, target, Maximize, None)? else {
        return Ok((None, found));
    };
    let Some((lo, x_lo)) = optimum(rows, free, base, target, Minimize, None)? else {
        return Ok((None, found));
    };
    for (dir, x) in [(Maximize, x_hi), (Minimize, x_lo)] {
        match integer_point(rows, free, base, &x) {
            Some(p) => found.push(p),
            None => {
                if let Some((_, x)) = optimum(rows, free, base, target, dir, Some(BRANCH_NODES))? {
                    found.extend(integer_point(rows, free, base, &x));
                }
            }
        }
    }
    Ok((Some((lo, hi)), found))
}

/// The linear bounds of `target` over `free` (the rest at `base`).
fn lp_bounds(
    rows: &[&Row],
    free: &[usize],
    base: &Point,
    target: &[usize],
) -> Result<Option<(f64, f64)>, LinkCheckError> {
    use OptimizationDirection::{Maximize, Minimize};
    let hi = optimum(rows, free, base, target, Maximize, None)?;
    let lo = optimum(rows, free, base, target, Minimize, None)?;
    Ok(lo.zip(hi).map(|(l, h)| (l.0, h.0)))
}

/// The audit's look at one withheld small cell `t` (its visitors sum the
/// unknowns `target`; `free` are those of them the partner's equations
/// leave open, in linked group `comp`). In order, each bounded: solutions
/// already found; cube moves (`perturb`); a proof of narrowness from the
/// relations of the cell's own unknowns; linear programs over small
/// neighbourhoods with the rest at the base point. Never a program over a
/// whole linked group.
#[allow(clippy::too_many_arguments)]
fn check(
    look: &Look<'_>,
    comp: Option<&Component<'_>>,
    t: usize,
    target: &[usize],
    free: &[usize],
    pool: &mut Vec<Shift>,
    effort: Effort,
) -> Result<(Bounds, Option<Completion>), LinkCheckError> {
    let protection = look.protection;
    let pass = |pool: &[Shift], lp: (f64, f64)| Bounds {
        low: lp.0,
        high: lp.1,
        certified: perturb::spread(&look.space, pool, target),
        proven: false,
        margins_only: false,
    };
    if effort != Effort::Proof && perturb::spread(&look.space, pool, target) >= protection {
        return Ok((pass(pool, (f64::NAN, f64::NAN)), None));
    }
    let mut completion = None;
    if effort != Effort::Proof {
        if let Some((up, down)) = look.space.search(
            look.cells,
            &look.known,
            t,
            target,
            protection,
            look.new,
            &mut completion,
        ) {
            pool.push(up);
            pool.push(down);
            return Ok((pass(pool, (f64::NAN, f64::NAN)), None));
        }
    }
    let Some(comp) = comp else {
        return Ok((pass(pool, (f64::NAN, f64::NAN)), completion));
    };
    // A relaxation: the short relations of the cell's own unknowns. Its
    // linear bounds contain the partner's integer interval.
    let near: Vec<&Row> = comp
        .rows_of(free)
        .into_iter()
        .filter(|r| r.terms.len() <= RELAXATION_TERMS)
        .collect();
    let mut vars: Vec<usize> = near
        .iter()
        .flat_map(|r| r.terms.iter().map(|&(v, _)| v))
        .chain(free.iter().copied())
        .collect();
    vars.sort_unstable();
    vars.dedup();
    let mut lp = (f64::NAN, f64::NAN);
    if let Some((lo, hi)) = lp_bounds(&near, &vars, &look.loose, free)? {
        if hi - lo < protection as f64 - 1e-6 {
            return Ok((Bounds::narrow(lo, hi), completion));
        }
        lp = (lo, hi);
    }
    if effort == Effort::Proof {
        // The figures of the cell's own release (its margins, when every
        // row is withheld) and the relations between its unknowns: a
        // relaxation too, small enough for one program.
        let own = look.cells[t].release;
        let rows: Vec<&Row> = comp
            .rows
            .iter()
            .copied()
            .filter(|r| r.release.is_none_or(|r| r == own))
            .collect();
        let vars = closure(&rows, free, PROOF_VARIABLES);
        if vars.len() <= PROOF_VARIABLES {
            let inside: HashSet<usize> = vars.iter().copied().collect();
            let rows: Vec<&Row> = rows
                .into_iter()
                .filter(|r| r.terms.iter().all(|(v, _)| inside.contains(v)))
                .collect();
            if let Some((lo, hi)) = lp_bounds(&rows, &vars, &look.loose, free)? {
                if hi - lo < protection as f64 - 1e-6 {
                    return Ok((Bounds::narrow(lo, hi), completion));
                }
            }
        }
    }
    let levels: &[usize] = match effort {
        Effort::Quick => &LEVELS[..1],
        Effort::Full => &LEVELS,
        Effort::Proof => &[],
    };
    if look.has_base(comp) {
        for &cap in levels {
            let free_vars = comp.neighbourhood(free, cap);
            let rows = comp.rows_of(&free_vars);
            let (bounds, found) = search(&rows, &free_vars, look.base, free)?;
            if std::env::var("TACIT_AUDIT_DEBUG").is_ok() {
                eprintln!("  cell {t} level {cap} of {}: lp {bounds:?}, {} integer points", comp.vars.len(), found.len());
            }
            pool.extend(found.iter().filter_map(|p| look.space.shift_of(p)));
            if perturb::spread(&look.space, pool, target) >= protection {
                return Ok((pass(pool, lp), None));
            }
            if cap >= comp.vars.len() {
                break;
            }
        }
    }
    // The whole linked group, when it is small (one release's table, say):
    // its linear bounds also prove a cell narrow.
    if effort != Effort::Proof && comp.vars.len() <= WHOLE_VARIABLES {
        let base = if look.has_base(comp) {
            look.base
        } else {
            &look.loose
        };
        let (bounds, found) = search(&comp.rows, &comp.vars, base, free)?;
        pool.extend(found.iter().filter_map(|p| look.space.shift_of(p)));
        if perturb::spread(&look.space, pool, target) >= protection {
            return Ok((pass(pool, lp), None));
        }
        if let Some((lo, hi)) = bounds {
            if hi - lo < protection as f64 - 1e-6 {
                return Ok((Bounds::narrow(lo, hi), completion));
            }
        }
    }
    let own = look.cells[t].release;
    let mut b = pass(pool, lp);
    b.margins_only = comp
        .rows
        .iter()
        .all(|r| !r.file && r.release.is_none_or(|r| r == own));
    Ok((b, completion))
}

/// The unknowns linked to `start` through `rows` (stops past `cap`).
fn closure(rows: &[&Row], start: &[usize], cap: usize) -> Vec<usize> {
    let mut of_var: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        for &(v, _) in &r.terms {
            of_var.entry(v).or_default().push(i);
        }
    }
    let mut seen: HashSet<usize> = start.iter().copied().collect();
    let mut used = vec![false; rows.len()];
    let mut queue: VecDeque<usize> = start.iter().copied().collect();
    while let Some(v) = queue.pop_front() {
        for &r in of_var.get(&v).into_iter().flatten() {
            if std::mem::replace(&mut used[r], true) {
                continue;
            }
            for &(u, _) in &rows[r].terms {
                if seen.insert(u) {
                    queue.push_back(u);
                }
            }
        }
        if seen.len() > cap {
            break;
        }
    }
    let mut out: Vec<usize> = seen.into_iter().collect();
    out.sort_unstable();
    out
}

/// What one audit pass looks at: the cells, the partner's system around
/// the base point.
struct Look<'a> {
    cells: &'a [LinkedCell],
    known: Vec<bool>,
    base: &'a Point,
    /// No unknown at any value (for programs over all they touch).
    loose: Point,
    space: perturb::Space<'a>,
    protection: u64,
    new: Option<usize>,
}

impl Look<'_> {
    /// The base point is a solution of this group's relations.
    fn has_base(&self, comp: &Component<'_>) -> bool {
        comp.vars.iter().all(|&v| self.base[v].is_some())
            && comp
                .rows
                .iter()
                .all(|r| r.holds(|v| self.base[v].unwrap_or(0)))
    }
}

/// An integer solution of tacit's own system (every cell's exact counts),
/// which the partner's system admits too: the base the searches keep
/// fixed outside a cell's neighbourhood. Unknowns without one stay `None`.
fn base_point(m: &Model, cells: &[LinkedCell]) -> Result<Point, LinkCheckError> {
    let rows = truth_rows(m, cells);
    let red = reduce(&rows, m.n_vars)?;
    let mut base: Point = red.fixed.clone();
    let mut comps: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for v in (0..m.n_vars).filter(|&v| red.fixed[v].is_none()) {
        comps.entry(red.root[v]).or_default().push(v);
    }
    let mut rows_of: HashMap<usize, Vec<&Row>> = HashMap::new();
    for r in &red.rows {
        rows_of.entry(red.root[r.terms[0].0]).or_default().push(r);
    }
    let empty: Point = vec![None; m.n_vars];
    for (root, vars) in comps {
        let rows = rows_of.remove(&root).unwrap_or_default();
        if rows.is_empty() {
            // Unconstrained: any value does, zero included.
            for v in vars {
                base[v] = Some(0);
            }
            continue;
        }
        let mut found = None;
        for nodes in [None, Some(BRANCH_NODES * 5)] {
            if let Some((_, x)) = optimum(
                &rows,
                &vars,
                &empty,
                &vars,
                OptimizationDirection::Minimize,
                nodes,
            )? {
                found = integer_point(&rows, &vars, &empty, &x);
            }
            if found.is_some() {
                break;
            }
        }
        for (v, x) in found.into_iter().flatten() {
            base[v] = Some(x);
        }
    }
    Ok(base)
}

/// The audit's verdicts on the withheld small cells in `wanted`, with, for
/// a cell not certified, the cheapest cells of release `new` whose
/// withholding completes a cube move for it (if any).
#[allow(clippy::too_many_arguments)]
fn audit_cells(
    cells: &[LinkedCell],
    m: &Model,
    base: &Point,
    protection: u64,
    new: Option<usize>,
    wanted: &dyn Fn(usize) -> bool,
    effort: Effort,
) -> Result<BTreeMap<usize, (Bounds, Option<Completion>)>, LinkCheckError> {
    let rows = partner_rows(m, cells, new);
    let red = reduce(&rows, m.n_vars)?;
    // The base point completed with what the partner's figures pin.
    let base: Point = base.iter().zip(&red.fixed).map(|(b, f)| f.or(*b)).collect();
    let look = Look {
        cells,
        // Figures a move must leave as they are: exact ones. A rounded
        // figure may move within its step (the check of each point says).
        known: cells
            .iter()
            .map(|c| known(c) && !c.atoms.is_empty() && (c.margin || c.round_to <= 1))
            .collect(),
        base: &base,
        loose: vec![None; m.n_vars],
        space: perturb::Space::new(
            &rows,
            m.n_vars,
            &base,
            &m.atom_vars,
            &m.var_atoms,
            cells,
        ),
        protection,
        new,
    };
    // The linked groups of the reduced system, each gathered once.
    let mut comp_vars: HashMap<usize, Vec<usize>> = HashMap::new();
    for v in (0..m.n_vars).filter(|&v| red.fixed[v].is_none()) {
        comp_vars.entry(red.root[v]).or_default().push(v);
    }
    let mut comp_rows: HashMap<usize, Vec<&Row>> = HashMap::new();
    for r in &red.rows {
        comp_rows.entry(red.root[r.terms[0].0]).or_default().push(r);
    }
    let mut by_comp: BTreeMap<usize, Vec<(usize, Vec<usize>)>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (t, c) in cells.iter().enumerate() {
        if !(c.withheld && c.small && !c.margin) || c.atoms.is_empty() || !wanted(t) {
            continue;
        }
        let free: Vec<usize> = m.visitors[t]
            .iter()
            .copied()
            .filter(|&v| red.fixed[v].is_none())
            .collect();
        if free.is_empty() {
            let v = m.visitors[t]
                .iter()
                .map(|&v| red.fixed[v].unwrap_or(0))
                .sum::<i64>() as f64;
            out.insert(t, (Bounds::narrow(v, v), None));
            continue;
        }
        // Unknowns of several groups: the linear programs look at the
        // first, the others only widen it (each group is free of the rest).
        let root = free.iter().map(|&v| red.root[v]).min().expect("not empty");
        let first: Vec<usize> = free.into_iter().filter(|&v| red.root[v] == root).collect();
        by_comp.entry(root).or_default().push((t, first));
    }
    let mut pool: Vec<Shift> = vec![Shift::default()];
    for (root, targets) in by_comp {
        let rows = comp_rows.remove(&root).unwrap_or_default();
        // A group that no figure of the new release reaches is as it was
        // when the earlier releases were audited.
        if new.is_some()
            && !rows.iter().any(|r| r.new)
            && targets.iter().all(|(t, _)| Some(cells[*t].release) != new)
        {
            continue;
        }
        let comp = Component::new(comp_vars.remove(&root).unwrap_or_default(), rows);
        let comp = (comp.vars.len() <= MAX_VARIABLES).then_some(comp);
        for (t, free) in &targets {
            let verdict = check(
                &look,
                comp.as_ref(),
                *t,
                &m.visitors[*t],
                free,
                &mut pool,
                effort,
            )?;
            out.insert(*t, verdict);
        }
    }
    Ok(out)
}

/// The withheld small cells whose visitors the partner's equations pin
/// exactly (by substitution alone: no program needed).
fn pinned(cells: &[LinkedCell], m: &Model) -> Result<Vec<usize>, LinkCheckError> {
    let red = reduce(&partner_rows(m, cells, None), m.n_vars)?;
    Ok((0..cells.len())
        .filter(|&t| {
            let c = &cells[t];
            c.withheld
                && c.small
                && !c.margin
                && !c.atoms.is_empty()
                && m.visitors[t].iter().all(|&v| red.fixed[v].is_some())
        })
        .collect())
}

/// The bounds of every withheld small cell (cell index → bounds). `groups`
/// gives each atom's visitor group. A cell
/// whose bounds are not `protected` is one for which the bounded search
/// found no certificate (or proved narrow).
pub fn audit(
    cells: &[LinkedCell],
    groups: &[usize],
    protection: u64,
) -> Result<BTreeMap<usize, Bounds>, LinkCheckError> {
    let m = model(cells, groups);
    let base = base_point(&m, cells)?;
    Ok(audit_cells(
        cells,
        &m,
        &base,
        protection,
        None,
        &|_| true,
        Effort::Full,
    )?
    .into_iter()
    .map(|(t, (b, _))| (t, b))
    .collect())
}

/// Withhold more cells of release `new` until every withheld small cell of
/// every release has a certificate: two integer solutions of the partner's
/// system at least `protection` apart. Returns the cells newly withheld
/// (indices into `cells`, which is updated). For a cell without one, the
/// cells of the new release that complete a cube move for it are withheld
/// (else the cheapest next to it) and the audit runs again. A cell that the
/// public margins alone narrow (proven with every row of every file
/// withheld) is left as it is: no release changes it. A cell still without
/// a certificate when nothing next to it is left to withhold makes the
/// release fail.
pub fn protect(
    cells: &mut [LinkedCell],
    groups: &[usize],
    new: usize,
    protection: u64,
) -> Result<Vec<usize>, LinkCheckError> {
    let m = model(cells, groups);
    let base = base_point(&m, cells)?;
    // A cell pinned with every row of the new release withheld, but not by
    // the public margins alone: nothing this release withholds helps.
    let bare = |cells: &[LinkedCell]| {
        let mut bare = cells.to_vec();
        for c in bare.iter_mut().filter(|c| !c.margin) {
            c.withheld = true;
        }
        bare
    };
    {
        let mut without = cells.to_vec();
        for c in without.iter_mut().filter(|c| c.release == new && !c.margin) {
            c.withheld = true;
        }
        let alone = pinned(&bare(cells), &m)?;
        if pinned(&without, &m)?
            .iter()
            .any(|t| alone.binary_search(t).is_err())
        {
            if std::env::var("TACIT_AUDIT_DEBUG").is_ok() {
                eprintln!("pinned without the new release");
            }
            return Err(LinkCheckError::Unprotectable { width: 0 });
        }
    }
    let mut added = Vec::new();
    let mut passed = vec![false; cells.len()];
    let mut by_margins: HashMap<usize, bool> = HashMap::new();
    let mut of_atom: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, c) in cells.iter().enumerate() {
        for &a in &c.atoms {
            of_atom.entry(a).or_default().push(i);
        }
    }
    loop {
        let results = audit_cells(
            cells,
            &m,
            &base,
            protection,
            Some(new),
            &|t| !passed[t],
            Effort::Quick,
        )?;
        let unknown: Vec<usize> = results
            .iter()
            .filter(|(t, (b, _))| !b.protected(protection) && !by_margins.contains_key(t))
            .map(|(t, _)| *t)
            .collect();
        if !unknown.is_empty() {
            // Narrowed by the public margins alone, proven: with every row
            // of every file withheld.
            let found = audit_cells(
                &bare(cells),
                &m,
                &base,
                    protection,
                None,
                &|t| unknown.contains(&t),
                Effort::Proof,
            )?;
            for &t in &unknown {
                by_margins.insert(t, found.get(&t).is_some_and(|(b, _)| b.proven));
            }
        }
        let mut chosen: Vec<usize> = Vec::new();
        let mut stuck: Vec<usize> = Vec::new();
        for (&t, (b, completion)) in &results {
            if b.protected(protection) || by_margins.get(&t) == Some(&true) {
                // Withholding more can only widen it: no need to look again.
                passed[t] = true;
                continue;
            }
            if let Some(c) = completion {
                if c.cells.iter().any(|c| !chosen.contains(c)) {
                    chosen.extend(c.cells.iter().filter(|&&c| cells[c].release == new));
                    chosen.sort_unstable();
                    chosen.dedup();
                    continue;
                }
            }
            match neighbour(cells, &of_atom, new, t, &chosen) {
                Some(c) => chosen.push(c),
                None => stuck.push(t),
            }
        }
        if chosen.is_empty() && !stuck.is_empty() {
            // Nothing left to withhold next to them: every neighbourhood
            // level before refusing.
            let full = audit_cells(
                cells,
                &m,
                &base,
                    protection,
                None,
                &|t| stuck.contains(&t),
                Effort::Full,
            )?;
            if std::env::var("TACIT_AUDIT_DEBUG").is_ok() {
                for (t, (b, _)) in &full {
                    let c = &cells[*t];
                    eprintln!("stuck {t}: release {} atoms {:?} visitors {} {b:?}", c.release, c.atoms, c.visitors);
                    for (i, o) in cells.iter().enumerate() {
                        if o.atoms.iter().any(|a| c.atoms.contains(a)) && o.atoms.len() < 20 {
                            let vals: Vec<u64> = o.atoms.iter().map(|&a| cells.iter().find(|x| x.atoms == vec![a] && !x.margin).map_or(999, |x| x.visitors)).collect();
                            let wh: Vec<bool> = o.atoms.iter().map(|&a| cells.iter().find(|x| x.atoms == vec![a] && !x.margin).is_some_and(|x| x.withheld)).collect();
                            eprintln!("   fig {i} margin {} withheld {} visitors {} atoms {:?} vals {vals:?} wh {wh:?}", o.margin, o.withheld, o.visitors, o.atoms);
                        }
                    }
                }
            }
            if let Some((b, _)) = full
                .values()
                .find(|(b, _)| !b.protected(protection) && !b.margins_only)
            {
                return Err(LinkCheckError::Unprotectable { width: b.certified });
            }
            for t in stuck {
                passed[t] = true;
            }
            continue;
        }
        if chosen.is_empty() {
            return Ok(added);
        }
        for c in chosen {
            if !cells[c].withheld {
                cells[c].withheld = true;
                added.push(c);
            }
        }
    }
}

/// A released cell of release `new` to withhold for cell `t`: the cheapest
/// sharing an atom with it, else the cheapest in the smallest known figure
/// (a released cell or a margin) that shares an atom with it.
fn neighbour(
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
            ..Default::default()
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

    fn own_groups(n: usize) -> Vec<usize> {
        (0..n).collect()
    }

    #[test]
    fn the_week_minus_the_days_pins_a_withheld_day() {
        let cells = week(10);
        let b = audit(&cells, &own_groups(7), 10).unwrap();
        assert_eq!(b[&3].certified, 0, "{:?}", b[&3]);
        assert!(!b[&3].protected(10));
    }

    #[test]
    fn withholding_a_neighbour_in_the_new_release_protects_it() {
        let mut cells = week(10);
        let added = protect(&mut cells, &own_groups(7), 1, 10).unwrap();
        assert_eq!(added, vec![7]);
        let b = audit(&cells, &own_groups(7), 10).unwrap();
        assert!(b[&3].protected(10), "{:?}", b[&3]);
    }

    #[test]
    fn when_the_days_are_new_a_second_day_is_withheld() {
        let mut cells = week(10);
        for c in cells.iter_mut().take(7) {
            c.release = 1;
        }
        cells[7].release = 0;
        let added = protect(&mut cells, &own_groups(7), 1, 10).unwrap();
        assert_eq!(added.len(), 1);
        let b = audit(&cells, &own_groups(7), 10).unwrap();
        assert!(b[&3].protected(10), "{:?}", b[&3]);
    }

    #[test]
    fn a_pair_summing_to_little_is_narrow_though_not_determined() {
        let cells = vec![
            cell(0, &[0], 1, 10),
            cell(0, &[1], 2, 10),
            LinkedCell {
                margin: true,
                small: false,
                withheld: false,
                ..cell(0, &[0, 1], 3, 10)
            },
        ];
        let b = audit(&cells, &own_groups(2), 10).unwrap();
        assert!(!b[&0].protected(10) && !b[&1].protected(10), "{b:?}");
        // Proven: the linear bounds are [0, 3].
        assert!(b[&0].proven && b[&0].high <= 3.0 + 1e-6, "{b:?}");
    }

    #[test]
    fn released_events_bound_the_visitors_of_withheld_cells() {
        // Two withheld cells whose events add up to 3 (the margin's events
        // minus the released cell's): each holds at most 3 visitors.
        let mut a = cell(0, &[0], 2, 10);
        a.events = Some(2);
        let mut b = cell(0, &[1], 1, 10);
        b.events = Some(1);
        let mut big = cell(0, &[2], 40, 10);
        big.events = Some(90);
        let total = LinkedCell {
            margin: true,
            small: false,
            withheld: false,
            events: Some(93),
            ..cell(0, &[0, 1, 2], 43, 10)
        };
        let mut cells = vec![a, b, big, total];
        let r = audit(&cells, &own_groups(3), 5).unwrap();
        assert!(!r[&0].protected(5), "{r:?}");
        // Withholding the big cell leaves 93 events to share: wide again.
        let added = protect(&mut cells, &own_groups(3), 0, 5).unwrap();
        assert_eq!(added, vec![2]);
        let r = audit(&cells, &own_groups(3), 5).unwrap();
        assert!(r[&0].protected(5) && r[&1].protected(5), "{r:?}");
    }

    #[test]
    fn a_union_over_pages_bounds_from_both_sides() {
        // One visitor group with two page atoms; the day's visitors of the
        // group (a union) is released as 6, the pages are withheld: each
        // page holds between 0 and 6, the two at least 6 together.
        let page = |a: usize, v: u64| cell(0, &[a], v, 10);
        let union = LinkedCell {
            withheld: false,
            small: false,
            ..cell(1, &[0, 1], 6, 5)
        };
        let cells = vec![page(0, 4), page(1, 3), union];
        let b = audit(&cells, &[0, 0], 5).unwrap();
        assert!(b[&0].certified >= 5 && b[&0].protected(5), "{b:?}");
    }

    #[test]
    fn visitors_in_two_countries_make_the_total_a_union() {
        // A day where some visitor ids had two countries: the countries'
        // visitors (75 and 72) add up to more than the day's (100). With
        // the country fixed per visitor that is a contradiction; with the
        // day as one group the total is the union of the two.
        let country = |a: usize, v: u64| LinkedCell {
            withheld: false,
            small: false,
            ..cell(0, &[a], v, 5)
        };
        let total = LinkedCell {
            margin: true,
            ..country(0, 100)
        };
        let cells = vec![
            country(0, 75),
            country(1, 72),
            LinkedCell {
                atoms: vec![0, 1],
                ..total
            },
        ];
        assert!(matches!(
            audit(&cells, &[0, 1], 5),
            Err(LinkCheckError::Inconsistent(_))
        ));
        assert!(audit(&cells, &[0, 0], 5).is_ok());
    }

    #[test]
    fn rounding_leaves_the_integers_that_round_alike() {
        assert_eq!(published_range(23, 10), (15, 24));
        assert_eq!(published_range(25, 10), (25, 34));
        assert_eq!(published_range(3, 10), (0, 4));
        assert_eq!(published_range(7, 1), (7, 7));
    }

    /// A 3 × 3 × 2 table, every cell withheld, every margin of two
    /// dimensions public: cube moves leave every margin as it is.
    #[test]
    fn a_three_way_table_with_every_two_way_margin_public() {
        let n = [3usize, 3, 2];
        let at = |i: usize, j: usize, l: usize| (i * n[1] + j) * n[2] + l;
        let mut cells = Vec::new();
        let value = |a: usize| 3 + (a as u64 * 7) % 11;
        for a in 0..18 {
            cells.push(cell(0, &[a], value(a), 50));
        }
        let mut margin = |atoms: Vec<usize>| {
            let v = atoms.iter().map(|&a| value(a)).sum();
            cells.push(LinkedCell {
                margin: true,
                small: false,
                withheld: false,
                ..cell(0, &atoms, v, 1)
            });
        };
        for i in 0..3 {
            for j in 0..3 {
                margin((0..2).map(|l| at(i, j, l)).collect());
            }
            for l in 0..2 {
                margin((0..3).map(|j| at(i, j, l)).collect());
            }
        }
        for j in 0..3 {
            for l in 0..2 {
                margin((0..3).map(|i| at(i, j, l)).collect());
            }
        }
        let b = audit(&cells, &own_groups(18), 5).unwrap();
        for t in 0..18 {
            assert!(b[&t].protected(5), "{t}: {:?}", b[&t]);
        }
    }
}
