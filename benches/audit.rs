//! The audit across releases (`export::link`) on a month of one partner's
//! releases of a 3-dimension export (country × device × browser): each day,
//! each week once over, then the month, in date order, every release
//! audited together with everything released before it and every public
//! margin. Synthetic long-tailed traffic; no database (the audit is pure).
//! Prints, per release, its cells, the small ones, the cells per-table
//! suppression withholds and those withheld after the audit, and the time
//! of the audit; then the totals. `make bench-audit` runs it. The target is
//! the whole month in under 2 s. `TACIT_BENCH_SCALE` (default 2400) is the
//! mean daily visitors from the largest country: 2400 makes a site of about
//! 4000 visitors a day, with daily cells from hundreds down to one; 240
//! makes one so small that per-table suppression alone withholds most of
//! its daily cells. Numbers: `benches/results/2026-12-01-audit.md`
//! (certificate search), `benches/results/2026-12-02-audit.md` (integer
//! bounds), `benches/results/2026-12-02-audit-2.md` (warm-started
//! probes, release profile) and `benches/results/2026-12-02-audit-3.md`
//! (what a new release adds: the fast audit, the default, about 2 s; the
//! full search, `TACIT_BENCH_AUDIT=full`, minutes).

mod common;

use std::time::{Duration, Instant};

use tacit::export::link::{self, LinkedCell};
use tacit::export::suppress::{self, CellKeys};

const K: u64 = 5;

struct Cell {
    keys: Vec<String>,
    visitors: u64,
    atoms: Vec<usize>,
}

impl CellKeys for Cell {
    fn keys(&self) -> &[String] {
        &self.keys
    }
    fn visitors(&self) -> u64 {
        self.visitors
    }
}

/// xorshift, deterministic.
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Atoms: (day, [country, device, browser]) → visitors.
fn traffic(days: i32, scale: f64) -> Vec<(i32, Vec<String>, u64)> {
    let countries = [
        ("US", 60.0),
        ("DE", 30.0),
        ("FR", 14.0),
        ("GB", 8.0),
        ("SE", 4.0),
        ("NO", 2.0),
        ("FI", 1.2),
        ("IS", 0.6),
    ];
    let devices = [("desktop", 0.55), ("mobile", 0.35), ("tablet", 0.10)];
    let browsers = [
        ("Chrome", 0.6),
        ("Safari", 0.25),
        ("Firefox", 0.1),
        ("Edge", 0.05),
    ];
    let weekday = [1.0, 1.05, 1.0, 0.95, 0.9, 0.35, 0.6];
    let mut rng = Rng(0x5eed_a0d1);
    let mut out = Vec::new();
    for d in 0..days {
        for (c, mean) in countries {
            for (dev, s1) in devices {
                for (br, s2) in browsers {
                    let m: f64 = scale / 60.0 * mean * s1 * s2 * weekday[d as usize % 7];
                    let trials = (m * 4.0).ceil() as u64 + 2;
                    let n = (0..trials)
                        .filter(|_| rng.unit() < m / trials as f64)
                        .count();
                    if n > 0 {
                        out.push((d, vec![c.into(), dev.into(), br.into()], n as u64));
                    }
                }
            }
        }
    }
    out
}

/// Cells of a breakdown over `dims` (positions) of the atoms in `days`.
fn breakdown(atoms: &[(i32, Vec<String>, u64)], days: (i32, i32), dims: &[usize]) -> Vec<Cell> {
    let mut by: std::collections::BTreeMap<Vec<String>, Cell> = Default::default();
    for (i, (d, keys, v)) in atoms.iter().enumerate() {
        if *d < days.0 || *d >= days.1 {
            continue;
        }
        let k: Vec<String> = dims.iter().map(|&p| keys[p].clone()).collect();
        let c = by.entry(k.clone()).or_insert(Cell {
            keys: k,
            visitors: 0,
            atoms: Vec::new(),
        });
        c.visitors += v;
        c.atoms.push(i);
    }
    by.into_values().collect()
}

fn linked(release: usize, c: &Cell, withheld: bool, margin: bool) -> LinkedCell {
    LinkedCell {
        release,
        atoms: c.atoms.clone(),
        visitors: c.visitors,
        withheld,
        exact: true,
        round_to: 1,
        small: c.visitors < K,
        margin,
        protection: K,
        ..Default::default()
    }
}

fn main() {
    // `cargo test --all-targets` runs this binary without `--bench`: then
    // it audits two daily releases only, as a smoke test of the bench.
    let full = std::env::args().any(|a| a == "--bench");
    let days: i32 = std::env::var("TACIT_BENCH_DAYS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if full { 28 } else { 2 });
    let scale: f64 = std::env::var("TACIT_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2400.0);
    // `TACIT_BENCH_AUDIT=full`: the full search for the cells reaching an
    // earlier withheld cell (an export's `audit = "full"`).
    let mode = match std::env::var("TACIT_BENCH_AUDIT").as_deref() {
        Ok("full") => link::Mode::Searched,
        _ => link::Mode::Implied,
    };
    let atoms = traffic(days, scale);
    let (mut n_cells, mut n_small, mut n_per_table) = (0, 0, 0);
    // Every dimension is fixed per visitor: each atom is its own group.
    let groups: Vec<usize> = (0..atoms.len()).collect();
    let mut plan: Vec<(String, (i32, i32))> = Vec::new();
    for d in 0..days {
        plan.push((format!("day {d}"), (d, d + 1)));
        if d % 7 == 6 {
            plan.push((format!("week {}", d / 7), (d - 6, d + 1)));
        }
    }
    if full {
        plan.push(("month".into(), (0, days)));
    }
    let mut held: Vec<LinkedCell> = Vec::new();
    let mut total = Duration::ZERO;
    // This process's CPU over the audits (the machine may be shared).
    let mut cpu = 0.0;
    let mut slowest = (Duration::ZERO, String::new());
    let mut withheld_total = 0;
    let mut refused: Vec<String> = Vec::new();
    for (r, (label, period)) in plan.iter().enumerate() {
        let cells = breakdown(&atoms, *period, &[0, 1, 2]);
        let t0 = Instant::now();
        let cpu0 = common::cpu_seconds("self");
        let mut hidden = suppress::suppress(&cells, K).expect("per table");
        let per_table = hidden.iter().filter(|h| **h).count();
        let small = cells.iter().filter(|c| c.visitors < K).count();
        // Public margins: every proper subset of the dimensions.
        let mut margins = Vec::new();
        for keep in 0..7u32 {
            let dims: Vec<usize> = (0..3).filter(|j| keep & (1 << j) != 0).collect();
            // All of them: those below k are tacit's only (not public).
            margins.extend(breakdown(&atoms, *period, &dims));
        }
        let mut carry = link::Carry::default();
        loop {
            let mut all = held.clone();
            let offset = all.len();
            all.extend(
                cells
                    .iter()
                    .zip(&hidden)
                    .map(|(c, h)| linked(r, c, *h, false)),
            );
            all.extend(margins.iter().map(|c| linked(r, c, false, true)));
            let added = match link::protect_with(&mut all, &groups, r, K, mode, &mut carry) {
                Ok(a) => a,
                Err(link::LinkCheckError::Unprotectable { .. }) => {
                    // Refused: the partner does not get this release.
                    refused.push(label.clone());
                    hidden.iter_mut().for_each(|h| *h = true);
                    break;
                }
                Err(e) => panic!("{label}: {e}"),
            };
            if added.is_empty() {
                held = all;
                break;
            }
            for i in added {
                hidden[i - offset] = true;
            }
            let again = suppress::suppress_from(&cells, K, hidden.clone()).expect("per table");
            if again == hidden {
                let mut all = held.clone();
                all.extend(
                    cells
                        .iter()
                        .zip(&hidden)
                        .map(|(c, h)| linked(r, c, *h, false)),
                );
                all.extend(margins.iter().map(|c| linked(r, c, false, true)));
                held = all;
                break;
            }
            hidden = again;
        }
        let took = t0.elapsed();
        total += took;
        cpu += common::cpu_seconds("self") - cpu0;
        if took > slowest.0 {
            slowest = (took, label.clone());
        }
        if refused.last() == Some(label) {
            println!("{label:>8}: refused ({:.1} ms)", took.as_secs_f64() * 1e3);
            continue;
        }
        let w = hidden.iter().filter(|h| **h).count();
        withheld_total += w;
        n_cells += cells.len();
        n_small += small;
        n_per_table += per_table;
        println!(
            "{label:>8}: {:>4} cells, {:>3} small, {:>3} withheld per table, {:>3} after the audit, {:>7.1} ms",
            cells.len(),
            small,
            per_table,
            w,
            took.as_secs_f64() * 1e3
        );
    }
    let final_audit = {
        let t0 = Instant::now();
        let b = link::audit(&held, &groups, K).expect("audit");
        let narrow = b.values().filter(|b| !b.protected(K)).count();
        (t0.elapsed(), b.len(), narrow)
    };
    let pct = |n: usize| 100.0 * n as f64 / n_cells.max(1) as f64;
    println!(
        "scale {scale}: of {n_cells} released cells, {n_small} small ({:.0} %), {n_per_table} withheld per table ({:.0} %), {withheld_total} after the audit ({:.0} %)",
        pct(n_small),
        pct(n_per_table),
        pct(withheld_total)
    );
    println!(
        "audit of a month ({mode:?}; {} atoms; {} releases: {days} days, {} weeks, 1 month; 3 dimensions): {:.0} ms in all ({cpu:.2} s CPU), slowest {} {:.0} ms; re-auditing everything held at the end: {:.0} ms for {} withheld small cells ({} without a certificate: narrowed by the public margins alone); refused: {refused:?}",
        atoms.len(),
        plan.len(),
        days / 7,
        total.as_secs_f64() * 1e3,
        slowest.1,
        slowest.0.as_secs_f64() * 1e3,
        final_audit.0.as_secs_f64() * 1e3,
        final_audit.1,
        final_audit.2,
    );
}
