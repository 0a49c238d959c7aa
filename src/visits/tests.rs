//! Unit tests of the fragment ids: over generated days (the separate
//! implementation of the 30-minute rule in `tests/it/visits_rule.rs`), no
//! id spans a gap over 30 minutes, and merging a visitor's ids as the view
//! `live_visits` merges them gives the rule's visits; the gap at second
//! boundaries, slot edges and midnight. (That replicas and restarts stamp
//! the same ids is checked on stored rows: `tests/it/visits.rs`.)

use std::collections::{BTreeMap, HashMap};

use super::*;

#[path = "../../tests/it/visits_rule.rs"]
#[allow(dead_code)]
mod rule;

use rule::RawHit;

const DAY: i64 = 20_000 * 86_400_000;

/// Whether two hits at `a` ≤ `b` (ms) may be in one visit by the gap rule
/// (whole seconds, as the view's `dateDiff('second', …)` counts).
fn within_gap(a: i64, b: i64) -> bool {
    b.div_euclid(1000) - a.div_euclid(1000) <= VISIT_GAP_SECONDS
}

/// A daily visitor id per (who, day), as the salted hash gives one.
fn visitor_ids(hits: &[RawHit]) -> Vec<u64> {
    let mut ids: HashMap<(String, i64), u64> = HashMap::new();
    hits.iter()
        .map(|h| {
            let n = ids.len() as u64 + 1;
            *ids.entry((h.who.clone(), h.ts.div_euclid(86_400_000)))
                .or_insert(n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        })
        .collect()
}

/// The fragment id of each hit (bots dropped before the sink, as the
/// pipeline does).
fn stamp_all(hits: &[RawHit]) -> Vec<Option<u64>> {
    hits.iter()
        .zip(visitor_ids(hits))
        .map(|(h, vid)| (!h.bot).then(|| visit_id(vid, h.ts)))
        .collect()
}

/// A visit as compared: (site, day, who, first hit, last hit, hits).
type Cmp = (String, i64, String, i64, i64, usize);
/// A fragment: first hit, last hit, hits.
type Frag = (i64, i64, usize);
/// A visitor-day on a site: (site, day, who).
type Who = (String, i64, String);

/// What the view does: fragments (a visitor-day's hits of one id) sorted
/// by their first hit; one starts a new visit when it begins more than 30
/// minutes (whole seconds) after every earlier one ended.
fn merged(hits: &[RawHit], ids: &[Option<u64>]) -> (Vec<Cmp>, usize) {
    let mut frags: BTreeMap<(Who, u64), Frag> = BTreeMap::new();
    for (h, id) in hits.iter().zip(ids) {
        let Some(id) = id else { continue };
        let f = frags
            .entry((
                (h.site.clone(), h.ts.div_euclid(86_400_000), h.who.clone()),
                *id,
            ))
            .or_insert((h.ts, h.ts, 0));
        f.0 = f.0.min(h.ts);
        f.1 = f.1.max(h.ts);
        f.2 += 1;
    }
    let n_frags = frags.len();
    let mut by_visitor: BTreeMap<Who, Vec<Frag>> = BTreeMap::new();
    for ((who, _), f) in frags {
        by_visitor.entry(who).or_default().push(f);
    }
    let mut out = Vec::new();
    for ((site, day, who), mut fs) in by_visitor {
        fs.sort();
        let mut cur: Option<Frag> = None;
        for f in fs {
            cur = match cur {
                Some(c) if f.0.div_euclid(1000) - c.1.div_euclid(1000) <= VISIT_GAP_SECONDS => {
                    Some((c.0, c.1.max(f.1), c.2 + f.2))
                }
                Some(c) => {
                    out.push((site.clone(), day, who.clone(), c.0, c.1, c.2));
                    Some(f)
                }
                None => Some(f),
            };
        }
        if let Some(c) = cur {
            out.push((site, day, who, c.0, c.1, c.2));
        }
    }
    out.sort();
    (out, n_frags)
}

fn rule_visits(hits: &[RawHit]) -> Vec<Cmp> {
    let mut v: Vec<Cmp> = rule::visits(hits)
        .into_iter()
        .map(|r| (r.site, r.day, r.who, r.start, r.end, r.events as usize))
        .collect();
    v.sort();
    v
}

/// No id's hits (sorted) have a gap over 30 minutes: each id is a part of
/// one visit by the rule.
fn assert_fragments_within_gap(hits: &[RawHit], ids: &[Option<u64>]) {
    let mut by_id: HashMap<u64, Vec<i64>> = HashMap::new();
    for (h, id) in hits.iter().zip(ids) {
        if let Some(id) = id {
            by_id.entry(*id).or_default().push(h.ts);
        }
    }
    for (id, mut ts) in by_id {
        ts.sort_unstable();
        for w in ts.windows(2) {
            assert!(within_gap(w[0], w[1]), "id {id} spans a gap: {w:?}");
        }
    }
}

#[test]
fn a_generated_day_matches_the_rule() {
    let mut visits = 0;
    let mut fragments = 0;
    for seed in 1..=20u64 {
        let hits = rule::generated_day(seed, 300, DAY);
        let ids = stamp_all(&hits);
        assert_fragments_within_gap(&hits, &ids);
        let want = rule_visits(&hits);
        let (got, n) = merged(&hits, &ids);
        assert_eq!(got, want, "seed {seed}");
        assert!(want.len() > 300, "seed {seed}: {} visits", want.len());
        assert!(want.iter().any(|v| v.2 == "bridge" && v.5 == 3));
        visits += want.len();
        fragments += n;
    }
    // Visits that cross a slot's edge are several fragments: the view's
    // merge is exercised, not bypassed.
    assert!(fragments > visits, "{fragments} fragments, {visits} visits");
}

#[test]
fn the_gap_is_counted_in_whole_seconds_and_slots_split_only() {
    // One slot: at most 1799 whole seconds apart, one id.
    let s = DAY + 3 * SLOT_MS;
    assert_eq!(visit_id(1, s), visit_id(1, s + SLOT_MS - 1));
    assert!(within_gap(s, s + SLOT_MS - 1));
    // Across a slot's edge a millisecond apart: two ids (two fragments of
    // one visit, which the view merges).
    assert_ne!(visit_id(1, s - 1), visit_id(1, s));
    assert!(within_gap(s - 1, s));
    // 1800.999 s apart but 1800 second boundaries: within the gap; 1800.001
    // s across 1801 boundaries: not.
    assert!(within_gap(DAY + 1_000, DAY + 1_000 + 1_800_999));
    assert!(!within_gap(DAY + 1_999, DAY + 1_999 + 1_800_001));
    // Another visitor: another id; no visitor id: no visit.
    assert_ne!(visit_id(2, s), visit_id(1, s));
    assert_eq!(visit_id(0, s), 0);
}

#[test]
fn slots_divide_the_day_and_times_before_the_epoch() {
    // The last slot of a day and the first of the next.
    assert_eq!(slot_of(DAY - 1) + 1, slot_of(DAY));
    assert_eq!(slot_of(DAY).rem_euclid(48), 0);
    assert_eq!(slot_of(DAY + 86_400_000 - 1).rem_euclid(48), 47);
    // Before 1970 the slots still count down whole, never 0-width.
    assert_eq!(slot_of(-1), -1);
    assert_eq!(slot_of(-SLOT_MS), -1);
    assert_eq!(slot_of(-SLOT_MS - 1), -2);
    assert_ne!(visit_id(7, -1), 0);
}

#[test]
fn ids_are_not_the_visitor_and_are_never_small() {
    // The column must never hold the visitor id, nor a value a reader
    // could take for a count or a time.
    for vid in 1..2_000u64 {
        for slot in [0i64, 1, 48 * 20_000, 48 * 20_000 + 47] {
            let id = visit_id(vid, slot * SLOT_MS);
            assert_ne!(id, vid);
            assert!(id >= 1 << 32, "{vid} {slot}: {id}");
        }
    }
}
