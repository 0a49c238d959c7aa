//! The partner's attack on its exports, written apart from tacit's audit
//! (it calls nothing of `tacit::export`): it reads the CSV files the partner
//! received and the public margins of each (every coarser breakdown with at
//! least k visitors, computed here from the raw events the test wrote),
//! builds its own integer program over the visitors and events of each
//! combination of values that existed, and bounds the visitors of every
//! withheld cell whose true count is small. Its relations are what tacit's
//! documentation says a partner may use: visitors add up over days and
//! over dimensions fixed per visitor; where a dimension that is not fixed
//! per visitor is summed out, a count lies between its largest part and the
//! sum of its parts; each combination has at least as many events as
//! visitors. Bounds are integer: microlp's branch and bound on integer
//! variables, and, where a linked group has at most a few unknowns,
//! exhaustive enumeration as a cross-check.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use microlp::{ComparisonOp, OptimizationDirection, Problem};

/// One event of the test's traffic (what the partner never sees).
#[derive(Debug, Clone)]
pub struct Ev {
    pub day: i32,
    pub visitor: u64,
    pub country: String,
    pub device: String,
    pub browser: String,
    pub pathname: String,
    pub name: String,
}

impl Ev {
    pub fn get(&self, dim: &str) -> &str {
        match dim {
            "country" => &self.country,
            "device" => &self.device,
            "browser" => &self.browser,
            "pathname" => &self.pathname,
            "event" => &self.name,
            other => panic!("the harness does not know dimension {other}"),
        }
    }
}

/// Dimensions the visitor id fixes within a day (tacit's method, public).
fn per_visitor(dim: &str) -> bool {
    matches!(
        dim,
        "country" | "region" | "city" | "device" | "browser" | "os"
    )
}

/// A table the partner holds: a received file or a public margin.
#[derive(Debug, Clone)]
pub struct Table {
    pub days: (i32, i32),
    pub dims: Vec<String>,
    /// Metric name → column.
    pub metrics: Vec<String>,
    pub rows: BTreeMap<Vec<String>, Vec<u64>>,
}

/// Read a received CSV file (the partner's view: header, then rows).
pub fn read_csv(bytes: &[u8], days: (i32, i32), n_dims: usize) -> Table {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[..n_dims].iter().map(|s| s.to_string()).collect(),
                f[n_dims..].iter().map(|s| s.parse().unwrap()).collect(),
            )
        })
        .collect();
    Table {
        days,
        dims: header[..n_dims].to_vec(),
        metrics: header[n_dims..].to_vec(),
        rows,
    }
}

/// Distinct (day, visitor id) pairs.
type Visitors = BTreeSet<(i32, u64)>;

/// A relation over the linked unknowns: terms, exact (else `>=`), right side.
type Reduced = (Vec<(usize, f64)>, bool, f64);

/// Exact counts of one breakdown from the raw events: key → (visitors,
/// events), every key that has a visitor.
pub fn count(evs: &[Ev], days: (i32, i32), dims: &[String]) -> BTreeMap<Vec<String>, (u64, u64)> {
    let mut sets: BTreeMap<Vec<String>, (Visitors, u64)> = BTreeMap::new();
    for e in evs.iter().filter(|e| e.day >= days.0 && e.day < days.1) {
        let key: Vec<String> = dims.iter().map(|d| e.get(d).to_string()).collect();
        let s = sets.entry(key).or_default();
        // Visitor ids are daily: the same id on two days is two visitors.
        s.0.insert((e.day, e.visitor));
        s.1 += 1;
    }
    sets.into_iter()
        .map(|(k, (v, n))| (k, (v.len() as u64, n)))
        .collect()
}

/// The public margins of a received table: every proper subset of its
/// dimensions, the combinations with at least `k` visitors.
pub fn public_margins(evs: &[Ev], t: &Table, k: u64) -> Vec<Table> {
    let n = t.dims.len();
    (0..(1u32 << n) - 1)
        .map(|keep| {
            let dims: Vec<String> = (0..n)
                .filter(|j| keep & (1 << j) != 0)
                .map(|j| t.dims[j].clone())
                .collect();
            let rows = count(evs, t.days, &dims)
                .into_iter()
                .filter(|(_, (v, _))| *v >= k)
                .map(|(key, (v, e))| {
                    let vals = t
                        .metrics
                        .iter()
                        .map(|m| match m.as_str() {
                            "visitors" => v,
                            "events" => e,
                            other => panic!("harness: metric {other}"),
                        })
                        .collect();
                    (key, vals)
                })
                .collect();
            Table {
                days: t.days,
                dims,
                metrics: t.metrics.clone(),
                rows,
            }
        })
        .collect()
}

/// A withheld small cell the partner narrows below the protection level.
#[derive(Debug, Clone)]
#[allow(dead_code)] // read through Debug in failure messages
pub struct Finding {
    pub table: usize,
    pub key: Vec<String>,
    pub truth: u64,
    pub low: i64,
    pub high: i64,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Unknown {
    Visitors(usize),
    Events(usize),
    /// A union of atoms of one day and visitor group (its atoms, by id of
    /// the sorted list).
    Union(usize),
}

/// `sum(terms) (= or >=) rhs`.
struct Eq {
    terms: Vec<(usize, f64)>,
    exact: bool,
    rhs: f64,
}

struct Model {
    unknowns: HashMap<Unknown, usize>,
    unions: HashMap<Vec<usize>, usize>,
    eqs: Vec<Eq>,
}

impl Model {
    fn id(&mut self, u: Unknown) -> usize {
        let n = self.unknowns.len();
        *self.unknowns.entry(u).or_insert(n)
    }
}

/// The partner's knowledge: the atoms and the relations between them.
struct Partner {
    dims: Vec<String>,
    pv: Vec<bool>,
    atoms: Vec<(i32, Vec<String>)>,
    m: Model,
}

impl Partner {
    fn new(evs: &[Ev], tables: &[Table], received: &[Table]) -> Self {
        // Atoms: combinations of every dimension the files use, per day.
        let mut dims: Vec<String> = received.iter().flat_map(|t| t.dims.clone()).collect();
        dims.sort();
        dims.dedup();
        let set: BTreeSet<(i32, Vec<String>)> = evs
            .iter()
            .map(|e| (e.day, dims.iter().map(|d| e.get(d).to_string()).collect()))
            .collect();
        let pv = dims.iter().map(|d| per_visitor(d)).collect();
        let mut p = Partner {
            dims,
            pv,
            atoms: set.into_iter().collect(),
            m: Model {
                unknowns: HashMap::new(),
                unions: HashMap::new(),
                eqs: Vec::new(),
            },
        };
        let mut with_events: BTreeSet<usize> = BTreeSet::new();
        for t in tables {
            for (key, vals) in &t.rows {
                let (vis, matching) = p.cell(t.days, &t.dims, key);
                for (metric, v) in t.metrics.iter().zip(vals) {
                    let terms: Vec<(usize, f64)> = match metric.as_str() {
                        "visitors" => vis.iter().map(|&x| (x, 1.0)).collect(),
                        "events" => {
                            with_events.extend(matching.iter().copied());
                            matching
                                .iter()
                                .map(|&a| (p.m.id(Unknown::Events(a)), 1.0))
                                .collect()
                        }
                        other => panic!("harness: metric {other}"),
                    };
                    p.m.eqs.push(Eq {
                        terms,
                        exact: true,
                        rhs: *v as f64,
                    });
                }
            }
        }
        for a in with_events {
            let (e, x) = (p.m.id(Unknown::Events(a)), p.m.id(Unknown::Visitors(a)));
            p.m.eqs.push(Eq {
                terms: vec![(e, 1.0), (x, -1.0)],
                exact: false,
                rhs: 0.0,
            });
        }
        p
    }

    /// The unknowns summing a cell's visitors, and its atoms.
    fn cell(
        &mut self,
        days: (i32, i32),
        tdims: &[String],
        key: &[String],
    ) -> (Vec<usize>, Vec<usize>) {
        let pos: Vec<usize> = tdims
            .iter()
            .map(|td| self.dims.iter().position(|x| x == td).unwrap())
            .collect();
        let matching: Vec<usize> = self
            .atoms
            .iter()
            .enumerate()
            .filter(|(_, (d, vals))| {
                *d >= days.0 && *d < days.1 && pos.iter().zip(key).all(|(&p, kv)| &vals[p] == kv)
            })
            .map(|(i, _)| i)
            .collect();
        let fixes_all = self
            .dims
            .iter()
            .zip(&self.pv)
            .all(|(d, p)| *p || tdims.contains(d));
        let mut groups: BTreeMap<(i32, Vec<String>), Vec<usize>> = BTreeMap::new();
        for &a in &matching {
            let (d, vals) = &self.atoms[a];
            let q: Vec<String> = vals
                .iter()
                .zip(&self.pv)
                .filter(|(_, p)| **p)
                .map(|(v, _)| v.clone())
                .collect();
            groups.entry((*d, q)).or_default().push(a);
        }
        let m = &mut self.m;
        let mut visitors = Vec::new();
        for (_, members) in groups {
            if fixes_all || members.len() == 1 {
                visitors.extend(members.iter().map(|&a| m.id(Unknown::Visitors(a))));
                continue;
            }
            let nu = m.unions.len();
            let (uid, fresh) = match m.unions.get(&members) {
                Some(&u) => (u, false),
                None => {
                    m.unions.insert(members.clone(), nu);
                    (nu, true)
                }
            };
            let u = m.id(Unknown::Union(uid));
            if fresh {
                let xs: Vec<usize> = members
                    .iter()
                    .map(|&a| m.id(Unknown::Visitors(a)))
                    .collect();
                for &x in &xs {
                    m.eqs.push(Eq {
                        terms: vec![(u, 1.0), (x, -1.0)],
                        exact: false,
                        rhs: 0.0,
                    });
                }
                let mut terms: Vec<(usize, f64)> = xs.iter().map(|&x| (x, 1.0)).collect();
                terms.push((u, -1.0));
                m.eqs.push(Eq {
                    terms,
                    exact: false,
                    rhs: 0.0,
                });
            }
            visitors.push(u);
        }
        (visitors, matching)
    }

    /// Integer bounds of a cell's visitors.
    fn bounds(&mut self, t: &Table, key: &[String]) -> (i64, i64) {
        let (vis, _) = self.cell(t.days, &t.dims, key);
        bounds(&self.m, &vis)
    }
}

/// Every withheld cell of every received table whose true visitors are in
/// 1..k-1 and whose integer interval is narrower than `protection`, except
/// those the public margins alone narrow that far (no release can protect
/// those, and the promise leaves them out).
pub fn attack(evs: &[Ev], received: &[Table], k: u64, protection: u64) -> Vec<Finding> {
    let margins: Vec<Table> = received
        .iter()
        .flat_map(|t| public_margins(evs, t, k))
        .collect();
    let mut known: Vec<Table> = received.to_vec();
    known.extend(margins.iter().cloned());
    let mut partner = Partner::new(evs, &known, received);
    let mut public = Partner::new(evs, &margins, received);
    let mut findings = Vec::new();
    for (ti, t) in received.iter().enumerate() {
        for (key, (truth, _)) in count(evs, t.days, &t.dims) {
            if t.rows.contains_key(&key) || truth >= k || truth == 0 {
                continue;
            }
            let (low, high) = partner.bounds(t, &key);
            if std::env::var("HARNESS_DEBUG").is_ok() {
                eprintln!("{ti} {:?} {key:?} truth {truth} [{low}, {high}]", t.days);
            }
            assert!(
                low <= truth as i64 && truth as i64 <= high,
                "the harness's model excludes the truth: {key:?} {truth} [{low}, {high}]"
            );
            if high - low >= protection as i64 {
                continue;
            }
            let (plow, phigh) = public.bounds(t, &key);
            if phigh - plow < protection as i64 {
                continue;
            }
            findings.push(Finding {
                table: ti,
                key,
                truth,
                low,
                high,
            });
        }
    }
    findings
}

/// Integer least and most of `sum(target)` given the model.
fn bounds(m: &Model, target: &[usize]) -> (i64, i64) {
    let n = m.unknowns.len();
    // Fix what single-unknown equations determine.
    let mut fixed: Vec<Option<f64>> = vec![None; n];
    loop {
        let mut changed = false;
        for e in m.eqs.iter().filter(|e| e.exact) {
            let free: Vec<&(usize, f64)> = e
                .terms
                .iter()
                .filter(|(v, _)| fixed[*v].is_none())
                .collect();
            if free.len() == 1 {
                let rest: f64 = e
                    .terms
                    .iter()
                    .filter_map(|(v, c)| fixed[*v].map(|x| x * c))
                    .sum();
                let (v, c) = *free[0];
                fixed[v] = Some((e.rhs - rest) / c);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // The unknowns linked to the target through equations.
    let mut comp: BTreeSet<usize> = target
        .iter()
        .copied()
        .filter(|v| fixed[*v].is_none())
        .collect();
    let base: f64 = target.iter().filter_map(|v| fixed[*v]).sum();
    if comp.is_empty() {
        return (base.round() as i64, base.round() as i64);
    }
    loop {
        let before = comp.len();
        for e in &m.eqs {
            if e.terms.iter().any(|(v, _)| comp.contains(v)) {
                comp.extend(
                    e.terms
                        .iter()
                        .map(|(v, _)| *v)
                        .filter(|v| fixed[*v].is_none()),
                );
            }
        }
        if comp.len() == before {
            break;
        }
    }
    let comp: Vec<usize> = comp.into_iter().collect();
    let rows: Vec<Reduced> = m
        .eqs
        .iter()
        .filter(|e| e.terms.iter().any(|(v, _)| comp.binary_search(v).is_ok()))
        .map(|e| {
            let rest: f64 = e
                .terms
                .iter()
                .filter_map(|(v, c)| fixed[*v].map(|x| x * c))
                .sum();
            let terms = e
                .terms
                .iter()
                .filter(|(v, _)| fixed[*v].is_none())
                .map(|&(v, c)| (comp.binary_search(&v).unwrap(), c))
                .collect();
            (terms, e.exact, e.rhs - rest)
        })
        .collect();
    let in_target: BTreeSet<usize> = target
        .iter()
        .filter_map(|v| comp.binary_search(v).ok())
        .collect();
    if comp.len() <= 3 {
        if let Some(b) = enumerate(comp.len(), &rows, &in_target) {
            return (base as i64 + b.0, base as i64 + b.1);
        }
    }
    let solve = |dir| {
        let mut p = Problem::new(dir);
        let xs: Vec<_> = (0..comp.len())
            .map(|i| {
                p.add_integer_var(
                    if in_target.contains(&i) { 1.0 } else { 0.0 },
                    (0, 1_000_000),
                )
            })
            .collect();
        for (terms, exact, rhs) in &rows {
            let e: Vec<_> = terms.iter().map(|&(i, c)| (xs[i], c)).collect();
            let op = if *exact {
                ComparisonOp::Eq
            } else {
                ComparisonOp::Ge
            };
            p.add_constraint(&e[..], op, *rhs);
        }
        p.solve()
            .expect("the partner's program has a solution: the truth")
            .into_solution()
            .unwrap()
            .objective()
            .round() as i64
    };
    (
        base.round() as i64 + solve(OptimizationDirection::Minimize),
        base.round() as i64 + solve(OptimizationDirection::Maximize),
    )
}

/// Exhaustive search over at most three unknowns, each 0..=60 (a small
/// cell's neighbourhood); `None` if a solution touches that limit.
fn enumerate(n: usize, rows: &[Reduced], target: &BTreeSet<usize>) -> Option<(i64, i64)> {
    const MAX: i64 = 60;
    let mut best: Option<(i64, i64)> = None;
    let mut x = vec![0i64; n];
    loop {
        let ok = rows.iter().all(|(terms, exact, rhs)| {
            let s: f64 = terms.iter().map(|&(i, c)| c * x[i] as f64).sum();
            if *exact {
                (s - rhs).abs() < 1e-9
            } else {
                s >= rhs - 1e-9
            }
        });
        if ok {
            if x.contains(&MAX) {
                return None;
            }
            let v: i64 = target.iter().map(|&i| x[i]).sum();
            best = Some(best.map_or((v, v), |(l, h)| (l.min(v), h.max(v))));
        }
        // Next assignment.
        let mut i = 0;
        loop {
            if i == n {
                return best;
            }
            x[i] += 1;
            if x[i] <= MAX {
                break;
            }
            x[i] = 0;
            i += 1;
        }
    }
}
