//! Unit tests of the audit across releases.
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
    assert_eq!(b[&3].certified(), 0, "{:?}", b[&3]);
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
    // The integer bounds are within [0, 3] (the linear ones).
    assert!(b[&0].width_at_most() <= 3, "{b:?}");
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
    assert!(b[&0].certified() >= 5 && b[&0].protected(5), "{b:?}");
}

#[test]
fn a_union_holds_no_more_than_a_union_of_more() {
    // One visitor group, three page atoms: the visitors of all three (a
    // margin, 5) are public, those of the first two (3) are withheld, the
    // pages too. Without the relation between the two unions the first
    // two could hold up to 10 (each page up to 5); they hold at most 5.
    let page = |a: usize, v: u64| cell(0, &[a], v, 10);
    let two = cell(0, &[0, 1], 3, 10);
    let all = LinkedCell {
        margin: true,
        small: false,
        withheld: false,
        ..cell(0, &[0, 1, 2], 5, 10)
    };
    let cells = vec![page(0, 2), page(1, 2), page(2, 2), two, all];
    // Asked for 8 visitors of doubt, the search looks as far as it can.
    let b = audit(&cells, &[0, 0, 0], 8).unwrap();
    assert!(b[&3].most.is_some_and(|m| m <= 5), "{:?}", b[&3]);
    assert!(!b[&3].protected(8), "{:?}", b[&3]);
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
/// dimensions public: the integer programs find cube moves (±1 on the
/// corners of a 2 × 2 × 2 sub-table leave every margin as it is).
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

/// Fourteen days of a 3 × 2 breakdown, then two weeks and the month,
/// each with its public margins (one dimension, and the total), each
/// release protected in turn as `release` does. The month's figures,
/// once the cells telling more are withheld, are sums of what the
/// partner holds (the cheap path, `implied_plan`). At the end the full
/// audit of everything released confirms each withheld small cell
/// keeps the protection, or as much as the public margins alone leave.
/// (Skipping the earlier cells without withholding the month's and the
/// weeks' cells that tell more fails here: a week minus its days pins
/// a planted small cell.)
#[test]
fn releases_that_only_repeat_earlier_figures_stay_protected() {
    let (k, days, keys) = (5u64, 14usize, [3usize, 2]);
    let n = keys[0] * keys[1];
    let mut seed = 7u64;
    // Large cells, and a few small ones on single days: a week's cell
    // minus its released days would give such a day away.
    let planted = [(3, 2), (3 * n + 4, 1), (9 * n + 5, 3), (11 * n + 2, 2)];
    let visitors: Vec<u64> = (0..days * n)
        .map(|x| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let large = 10 + (seed >> 33) % 30;
            planted.iter().find(|p| p.0 == x).map_or(large, |p| p.1)
        })
        .collect();
    let atom = |d: usize, a: usize, b: usize| d * n + a * keys[1] + b;
    let mut cells: Vec<LinkedCell> = Vec::new();
    let mut released = 0;
    let mut periods: Vec<(usize, usize)> = (0..days).map(|d| (d, d + 1)).collect();
    periods.extend([(0, 7), (7, 14), (0, 14)]);
    let sum = |atoms: &[usize]| atoms.iter().map(|&x| visitors[x]).sum::<u64>();
    for (r, &(from, to)) in periods.iter().enumerate() {
        let start = cells.len();
        let of = |pick: &dyn Fn(usize, usize) -> bool| -> Vec<usize> {
            let mut atoms = Vec::new();
            for d in from..to {
                for a in 0..keys[0] {
                    for b in 0..keys[1] {
                        if pick(a, b) {
                            atoms.push(atom(d, a, b));
                        }
                    }
                }
            }
            atoms
        };
        for a in 0..keys[0] {
            for b in 0..keys[1] {
                let atoms = of(&|x, y| x == a && y == b);
                cells.push(cell(r, &atoms, sum(&atoms), k));
            }
        }
        let mut margins: Vec<Vec<usize>> = vec![of(&|_, _| true)];
        margins.extend((0..keys[0]).map(|a| of(&|x, _| x == a)));
        margins.extend((0..keys[1]).map(|b| of(&|_, y| y == b)));
        for atoms in margins {
            let v = sum(&atoms);
            cells.push(LinkedCell {
                margin: true,
                small: v < k,
                withheld: false,
                ..cell(r, &atoms, v, k)
            });
        }
        if (from, to) == (0, days) {
            let m = model(&cells, &own_groups(days * n));
            assert!(
                !implied_plan(&m, &cells, r).margins_tell_more,
                "the month tells nothing new"
            );
        }
        protect(&mut cells, &own_groups(days * n), r, k).unwrap();
        released += cells[start..]
            .iter()
            .filter(|c| !c.withheld && !c.margin)
            .count();
    }
    // Most cells are large: most come out (64 of 102 here).
    assert!(released > 20, "{released} cells released");
    let all = audit(&cells, &own_groups(days * n), k).unwrap();
    let alone = audit(&bare(&cells), &own_groups(days * n), k).unwrap();
    // Cells the public margins alone narrow below k are what no choice
    // of the releases changes; every other keeps k.
    let kept: Vec<usize> = all
        .keys()
        .copied()
        .filter(|t| alone.get(t).is_none_or(|a| a.width_at_most() >= k))
        .collect();
    assert_eq!(kept.len(), planted.len(), "the small cells, all withheld");
    for t in kept {
        assert!(
            all[&t].protected(k),
            "cell {t} ({:?}): {:?}",
            cells[t].atoms,
            all[&t]
        );
    }
}

/// Two exports to one partner, k = 10: the first audited to protection 5,
/// the second to 10. A withheld small cell of the first, left 8 wide,
/// passed at 5; a new withheld small cell over the same atom must not
/// inherit that verdict at 10 (found by a review apart from the code).
#[test]
fn a_cell_over_the_same_unknowns_inherits_only_an_equal_protection() {
    let k = 10;
    let g = own_groups(2);
    let at5 = |c: LinkedCell| LinkedCell { protection: 5, ..c };
    let mut cells = vec![
        at5(cell(0, &[0], 3, k)),
        // 30 rounded to 10: the partner reads [25, 34].
        at5(LinkedCell {
            round_to: 10,
            ..cell(0, &[1], 30, k)
        }),
        at5(LinkedCell {
            margin: true,
            ..cell(0, &[0, 1], 33, k)
        }),
    ];
    // Release 0 at protection 5: the cell, in [0, 8], passes.
    assert!(protect(&mut cells, &g, 0, 5).unwrap().is_empty());
    cells.push(LinkedCell {
        protection: 10,
        ..cell(1, &[0], 3, k)
    });
    let b = audit(&cells, &g, 10).unwrap();
    assert!(b[&3].width_at_most() < 10, "{:?}", b[&3]);
    let alone = audit(&bare(&cells), &g, 10).unwrap();
    assert!(alone[&3].width_at_most() >= 10, "{:?}", alone[&3]);
    // Nothing of release 1 can widen it: refused.
    let fast = protect(&mut cells, &g, 1, 10);
    assert!(fast.is_err(), "{fast:?}");
}

/// A visitor group of three atoms with every atom's visits known (5 in
/// all): a withheld union of two of them holds at most 5 visitors, though
/// no cell covers the whole group (the relation once existed only for the
/// whole group's union; found by a review apart from the code).
#[test]
fn the_group_visits_bound_every_union_of_the_group() {
    let k = 8;
    let g = vec![0, 0, 0, 1];
    let v = |c: LinkedCell, visits: u64| LinkedCell {
        visits: Some(visits),
        ..c
    };
    let cells = vec![
        v(cell(0, &[0, 1], 3, k), 3),
        v(cell(0, &[3], 30, k), 30),
        v(cell(0, &[0, 3], 32, k), 32),
        v(cell(0, &[1, 2, 3], 34, k), 33),
    ];
    let b = audit(&cells, &g, 6).unwrap();
    assert!(b[&0].most.is_some_and(|m| m <= 5), "{:?}", b[&0]);
}

/// Two overlapping unions of a group, {0, 1} and {1, 2}, known (3 each):
/// the withheld union of all three holds at most 6, not the 9 the atoms'
/// bounds alone allow.
#[test]
fn a_union_holds_no_more_than_two_that_cover_it() {
    let k = 10;
    let known = |atoms: &[usize], v: u64| LinkedCell {
        withheld: false,
        small: false,
        ..cell(0, atoms, v, k)
    };
    let cells = vec![
        cell(0, &[0, 1, 2], 4, k),
        known(&[0, 1], 3),
        known(&[1, 2], 3),
    ];
    let b = audit(&cells, &[0, 0, 0], 9).unwrap();
    // At least the union of either (3), at most their sum (6).
    assert!(b[&0].width_at_most() <= 3, "{:?}", b[&0]);
}
