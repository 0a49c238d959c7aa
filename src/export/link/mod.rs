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
//!   sum(x)`, no more than the union of a larger set of the group that
//!   holds it, and no more than two sets that cover it hold together. The
//!   same set in two cells (a day's country and the same
//!   country in the week) is the same unknown, so those cells still add up
//!   exactly over groups.
//! - Visits, page views and events per atom: they add up over everything.
//!   Per atom `visitors <= events`, `visits <= events`, `pageviews <=
//!   events`; per visitor group `visitors <= visits` (every union of it too).
//!
//! Every released count that is exact enters as an equation (a rounded one
//! as the integer range that rounds to it), every public margin too; noisy
//! counts enter as nothing.
//!
//! **Integer bounds.** Unknowns that an equation pins are substituted;
//! the rest split into linked groups (unknowns sharing a relation). For
//! each withheld small cell, two integer solutions far apart are looked
//! for, cheapest first: those already found for other cells; *probes*, a
//! program solved once per group and re-solved from its basis with one
//! bound on the cell added (`cheap_sides`), which also prove a cell
//! narrow when a bound leaves no solution; the same probes over a
//! neighbourhood of the cell. Only a cell they leave undecided gets the
//! full search, the least and the most of its visitors over every linked
//! group it reaches: the linear optimum over
//! the whole group, taken as is when it is an integer solution (then it is
//! the integer optimum); a fractional one repaired (its integral unknowns
//! kept, the fractional ones solved for in integers), else branch and
//! bound with a node limit over the group (up to `BRANCH_VARIABLES`
//! unknowns) or over neighbourhoods of the cell with the rest of the group
//! at tacit's own counts (`base_point`, an integer solution of everything
//! tacit knows). Every point is checked against every relation of its
//! group in integer arithmetic before it counts. Both points are possible
//! for the partner (they satisfy everything it knows), so its integer
//! interval is at least as wide as the gap between them: the cell passes
//! only when that gap reaches what is required. A search cut short leaves
//! closer points (more withheld), never farther ones. The linear bounds,
//! which contain the integer interval, bound how wide it can be from
//! above: that is how the width the public margins alone leave is taken.
//!
//! When cells fail, the cheapest released cell of the new release next to
//! each is withheld too, and the audit runs again; earlier releases never
//! change. Bounds of linked groups that did not change between rounds are
//! reused. Before any search, a release's figures that the partner's
//! earlier figures imply leave the system, and in `Mode::Implied` the
//! cells telling more about an earlier withheld cell are withheld, so the
//! earlier cells keep their verdicts (`rounds::implied_plan`).
//!
//! Files: `model.rs` (unknowns and relations), `reduce.rs` (substitution,
//! linked groups), `solve.rs` (linear and integer programs, the base
//! point), `probe.rs` (the cheap search), `verdict.rs` (a verdict per
//! cell), `rounds.rs` (a release's audit and its rounds); this file holds
//! the public entry points and types.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use microlp::{ComparisonOp, OptimizationDirection, Problem};

use super::suppress::find;

mod model;
mod probe;
mod reduce;
mod rounds;
mod solve;
mod verdict;

use model::*;
use probe::*;
use reduce::*;
use rounds::*;
use solve::*;
use verdict::*;

/// More unknowns than this in one linked group: refuse rather than release
/// unchecked.
pub const MAX_VARIABLES: usize = 20_000;

/// Upper bound given to every unknown (a count no cell reaches); it only
/// keeps the programs bounded and can only make the audit stricter.
const CAP: i64 = 100_000_000;

/// Branch-and-bound nodes per program when the linear optimum is
/// fractional. Hitting it leaves the best integer point found (or none).
pub const BRANCH_NODES: u64 = 200;

/// Neighbourhood sizes (unknowns) of the integer programs that look for
/// two solutions far apart, the rest of the linked group at the base point.
const LEVELS: [usize; 2] = [48, 192];

/// The neighbourhood (unknowns) of a cell in which the probes look again
/// when they leave it undecided over a larger group.
const NEAR_VARIABLES: usize = 512;

/// A linked group of at most this many unknowns is solved whole in
/// integers when its neighbourhoods fall short.
const WHOLE_VARIABLES: usize = 2000;

/// Branch and bound over a whole linked group only up to this many
/// unknowns.
const BRANCH_VARIABLES: usize = 2000;

/// At most this many fractional unknowns are solved for in integers around
/// a linear optimum before branch and bound over the whole group.
const REPAIR_VARIABLES: usize = 400;

/// Rounds of withholding before the audit gives up and refuses.
const MAX_ROUNDS: usize = 400;

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
    /// The protection its release was audited to, when the caller knows
    /// it (0: not known). A new cell over the same unknowns as an earlier
    /// withheld one keeps that one's verdict only if it was audited to at
    /// least the new release's protection.
    pub protection: u64,
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
    /// Linear-programming bounds of its visitors: the partner's integer
    /// interval lies inside.
    pub low: f64,
    pub high: f64,
    /// The visitors of the cell at the least and the most integer solutions
    /// found (each checked against every relation in integers).
    pub least: Option<i64>,
    pub most: Option<i64>,
    /// Both are the integer optima (no node limit hit): the partner's
    /// integer interval is exactly `[least, most]`.
    pub exact: bool,
}

impl Bounds {
    /// The gap between the two integer solutions found: the partner's
    /// integer interval is at least this wide.
    pub fn certified(&self) -> u64 {
        match (self.least, self.most) {
            (Some(l), Some(h)) if h >= l => (h - l) as u64,
            _ => 0,
        }
    }

    /// Does the cell keep at least `protection` visitors of doubt, for a
    /// partner solving integer programs?
    pub fn protected(&self, protection: u64) -> bool {
        self.certified() >= protection
    }

    /// An upper bound of the partner's integer interval's width
    /// (`u64::MAX` when the audit did not need one).
    pub fn width_at_most(&self) -> u64 {
        if self.exact {
            return self.certified();
        }
        if self.low.is_nan() || self.high.is_nan() {
            return u64::MAX;
        }
        let (lo, hi) = ((self.low - 1e-6).ceil(), (self.high + 1e-6).floor());
        if hi >= lo {
            (hi - lo).min(CAP as f64) as u64
        } else {
            0
        }
    }

    fn point(v: i64) -> Self {
        Bounds {
            low: v as f64,
            high: v as f64,
            least: Some(v),
            most: Some(v),
            exact: true,
        }
    }
}

/// The bounds of every withheld small cell (cell index → bounds). `groups`
/// gives each atom's visitor group.
pub fn audit(
    cells: &[LinkedCell],
    groups: &[usize],
    protection: u64,
) -> Result<BTreeMap<usize, Bounds>, LinkCheckError> {
    let m = model(cells, groups);
    let base = base_point(&m, cells)?;
    audit_cells(
        cells,
        &m,
        &base,
        protection,
        Pass {
            new: None,
            wanted: &|_| true,
            required: &|_| protection,
            widths: true,
            relaxed: false,
            redundant: &HashSet::new(),
        },
        &mut Cache::default(),
    )
}

/// Withhold more cells of release `new` until every withheld small cell of
/// every release keeps, for a partner holding every file and public
/// margin, an integer interval at least `protection` wide, or as wide as
/// the public margins alone leave it when that is less (no release can
/// change those). Returns the cells newly withheld (indices into `cells`,
/// which is updated). A cell failing when nothing next to it is left to
/// withhold makes the release fail, as does running out of rounds.
pub fn protect(
    cells: &mut [LinkedCell],
    groups: &[usize],
    new: usize,
    protection: u64,
) -> Result<Vec<usize>, LinkCheckError> {
    protect_with(
        cells,
        groups,
        new,
        protection,
        Mode::Implied,
        &mut Carry::default(),
    )
}

/// What a release may publish of the cells that reach a cell an earlier
/// release withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only what the partner's earlier figures imply (`implied_plan`);
    /// the earlier cells are then not audited again. When a public margin
    /// of the release tells more, as [`Mode::Searched`].
    Implied,
    /// Whatever keeps every earlier withheld cell protected, found by
    /// auditing them all again with the release.
    Searched,
}

/// What the audit of one release carries from one call of [`protect`] to
/// the next, when the caller withholds more between them (the per-table
/// pass): withholding only drops relations of the partner's system, so
/// the cells that passed still pass, the integer solutions found are
/// still solutions, and the width the public margins alone leave is the
/// same. Used only for the same cells, groups and release (checked).
#[derive(Default)]
pub struct Carry {
    key: u64,
    passed: Vec<bool>,
    pool: Vec<Vec<i64>>,
    required: HashMap<usize, u64>,
}

/// [`protect`], carrying what still holds from an earlier call for the
/// same release (`carry`, empty the first time).
pub fn protect_with(
    cells: &mut [LinkedCell],
    groups: &[usize],
    new: usize,
    protection: u64,
    mode: Mode,
    carry: &mut Carry,
) -> Result<Vec<usize>, LinkCheckError> {
    let m = model(cells, groups);
    let base = base_point(&m, cells)?;
    // The same system but for what is withheld: the same cells (atoms,
    // counts, margins), groups, release and protection.
    let key = {
        let mut h = DefaultHasher::new();
        (new, protection, groups, m.n_vars).hash(&mut h);
        for c in cells.iter() {
            (c.release, &c.atoms, c.visitors, c.margin, c.small).hash(&mut h);
            (c.visits, c.pageviews, c.events, c.exact, c.round_to).hash(&mut h);
        }
        h.finish()
    };
    let withheld: Vec<bool> = cells.iter().map(|c| c.withheld).collect();
    let fresh = carry.key != key || carry.passed.len() != cells.len();
    let mut cache = Cache::default();
    let mut passed = vec![false; cells.len()];
    let mut required: HashMap<usize, u64> = HashMap::new();
    if !fresh {
        // Passed cells stay passed only if still withheld as then.
        for (t, p) in carry.passed.iter().enumerate() {
            passed[t] = *p && withheld[t];
        }
        cache.pool = std::mem::take(&mut carry.pool);
        required = std::mem::take(&mut carry.required);
    }
    // A release that re-publishes only what earlier ones imply (once the
    // cells telling more are withheld) leaves their cells as they were.
    let plan = implied_plan(&m, cells, new);
    let mut early = Vec::new();
    if mode == Mode::Implied {
        for &c in &plan.withhold {
            cells[c].withheld = true;
            early.push(c);
        }
        if !plan.margins_tell_more {
            // The earlier cells keep their bounds, and so does a cell of
            // this release over the same unknowns as one of them audited to
            // at least this protection (a month cell with visitors on one
            // day only).
            let mut same: HashSet<&[usize]> = HashSet::new();
            for (t, c) in cells.iter().enumerate() {
                if c.release != new {
                    passed[t] = true;
                    if c.withheld && c.small && !c.margin && c.protection >= protection {
                        same.insert(&m.visitors[t]);
                    }
                }
            }
            for (t, c) in cells.iter().enumerate() {
                if c.release == new && c.withheld && same.contains(m.visitors[t].as_slice()) {
                    passed[t] = true;
                }
            }
        }
    }
    let out = protect_rounds(
        cells,
        &m,
        &base,
        new,
        protection,
        &mut cache,
        &mut passed,
        &mut required,
        &plan.redundant,
    );
    *carry = Carry {
        key,
        passed,
        pool: cache.pool,
        required,
    };
    out.map(|added| {
        early.extend(added);
        early
    })
}

#[cfg(test)]
mod tests;
