//! Unit tests of the open visits: a generated day against the separate
//! implementation of the 30-minute rule in `tests/it/visits_rule.rs`, the
//! gap at second boundaries, merges and retractions, the byte cap, purge.

use super::*;

#[path = "../../tests/it/visits_rule.rs"]
#[allow(dead_code)]
mod rule;

use rule::{RawHit, RuleVisit};

fn hit<'a>(r: &'a RawHit, ids: &mut HashMap<(String, i32), u64>) -> Hit<'a> {
    let n = ids.len() as u64 + 1;
    let visitor_id = *ids.entry((r.who.clone(), day_of(r.ts))).or_insert(n);
    Hit {
        site: &r.site,
        ts: r.ts,
        name: &r.name,
        visitor_id,
        pathname: &r.path,
        referrer_source: &r.source,
        engaged_ms: r.engaged_ms,
        ..Hit::default()
    }
}

/// Feed the hits in arrival order (each observed a moment after its
/// stamp, as the collector does), drain every `flush_ms` of that clock, and
/// keep the newest version of each visit, as the table does.
fn live(hits: &[RawHit], table: &OpenVisits, flush_ms: i64, until: i64) -> Vec<RuleVisit> {
    let mut ids = HashMap::new();
    let mut who: HashMap<u64, String> = HashMap::new();
    let mut stored: HashMap<(String, i32, u64, i64), Visit> = HashMap::new();
    let mut keep = |v: &Visit| {
        let k = (v.site.clone(), v.day, v.visitor_id, v.id);
        let newer = stored.get(&k).is_none_or(|o| o.version < v.version);
        if newer {
            stored.insert(k, v.clone());
        }
    };
    let mut next_flush = hits.first().map_or(0, |h| h.ts) + flush_ms;
    let mut now = i64::MIN;
    for r in hits {
        now = now.max(r.ts + 300);
        while now >= next_flush {
            table.drain(next_flush, &mut keep);
            next_flush += flush_ms;
        }
        if r.bot {
            continue; // the pipeline drops bots before the sink
        }
        let h = hit(r, &mut ids);
        who.insert(h.visitor_id, r.who.clone());
        table.observe(&h);
    }
    table.drain(until, &mut keep);
    let mut out: Vec<RuleVisit> = stored
        .into_values()
        .filter(|v| v.events() > 0)
        .map(|v| RuleVisit {
            who: who[&v.visitor_id].clone(),
            day: v.day as i64,
            start: v.start,
            end: v.end,
            pageviews: v.pageviews(),
            events: v.events(),
            entry: v.entry_page().to_string(),
            exit: v.exit_page().to_string(),
            source: v.referrer_source.clone(),
            names: v.steps.iter().map(|s| s.name().to_string()).collect(),
            pages: v
                .steps
                .iter()
                .filter_map(|s| s.path().map(str::to_string))
                .collect(),
            engaged_ms: v.engaged_ms,
            site: v.site,
        })
        .collect();
    out.sort();
    out
}

const DAY: i64 = 20_000 * 86_400_000;

#[test]
fn a_generated_day_matches_the_rule() {
    for seed in 1..=20u64 {
        let hits = rule::generated_day(seed, 300, DAY);
        let want = rule::visits(&hits);
        let table = OpenVisits::new(256 << 20);
        let got = live(&hits, &table, 5_000, DAY + 3 * 86_400_000);
        assert_eq!(got.len(), want.len(), "seed {seed}");
        assert_eq!(got, want, "seed {seed}");
        assert_eq!(table.stats.open.load(Ordering::Relaxed), 0);
        assert_eq!(table.stats.bytes.load(Ordering::Relaxed), 0);
        assert_eq!(table.stats.evicted.load(Ordering::Relaxed), 0);
        // Not a vacuous day: many visits, the late hit that closes a gap
        // merged two, the night visitor has a visit on each day.
        assert!(want.len() > 300, "seed {seed}: {} visits", want.len());
        assert!(
            table.stats.merged.load(Ordering::Relaxed) >= 1,
            "seed {seed}"
        );
        let night: Vec<i64> = want
            .iter()
            .filter(|v| v.who == "night")
            .map(|v| v.day)
            .collect();
        assert_eq!(
            night,
            [DAY / 86_400_000, DAY / 86_400_000 + 1],
            "seed {seed}"
        );
        assert!(want.iter().any(|v| v.who == "bridge" && v.events == 3));
    }
}

#[test]
fn the_gap_is_counted_in_whole_seconds() {
    let mk = |ts: i64| RawHit {
        site: "s".into(),
        ts,
        who: "w".into(),
        name: "pageview".into(),
        path: "/".into(),
        source: String::new(),
        engaged_ms: 0,
        bot: false,
    };
    // 1800.999 s apart but 1800 second boundaries: one visit.
    let one = [mk(DAY + 1_000), mk(DAY + 1_000 + 1_800_999)];
    // 1800.001 s apart across 1801 boundaries: two.
    let two = [mk(DAY + 1_999), mk(DAY + 1_999 + 1_800_001)];
    for (hits, n) in [(&one[..], 1), (&two[..], 2)] {
        assert_eq!(rule::visits(hits).len(), n);
        let got = live(hits, &OpenVisits::new(1 << 20), 5_000, DAY + 86_400_000);
        assert_eq!(got.len(), n);
    }
}

#[test]
fn a_late_hit_that_closes_a_gap_merges_and_retracts() {
    fn mk(ts: i64, path: &str) -> Hit<'_> {
        Hit {
            site: "s",
            ts,
            name: "pageview",
            visitor_id: 9,
            pathname: path,
            ..Hit::default()
        }
    }
    let t = OpenVisits::new(1 << 20);
    t.observe(&mk(DAY, "/a"));
    t.observe(&mk(DAY + 1_801_500, "/b"));
    let mut rows = Vec::new();
    t.drain(DAY + 1_801_600, |v| rows.push(v.clone()));
    assert_eq!(rows.len(), 2);
    t.observe(&mk(DAY + 1_800_200, "/late"));
    let mut rows2 = Vec::new();
    t.drain(DAY + 1_801_700, |v| rows2.push(v.clone()));
    let gone: Vec<_> = rows2.iter().filter(|v| v.events() == 0).collect();
    assert_eq!(gone.len(), 1, "the later visit is retracted");
    assert_eq!(gone[0].id, DAY + 1_801_500);
    let kept: Vec<_> = rows2.iter().filter(|v| v.events() > 0).collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].id, DAY);
    assert_eq!(kept[0].events(), 3);
    assert_eq!(kept[0].exit_page(), "/b");
    assert!(gone[0].version > rows.iter().find(|v| v.id == gone[0].id).unwrap().version);
    assert_eq!(t.stats.merged.load(Ordering::Relaxed), 1);
}

#[test]
fn memory_is_bounded_and_the_oldest_visits_close_early() {
    let cap = 64 << 10;
    let t = OpenVisits::new(cap);
    let mut written = 0;
    for i in 0..5_000u64 {
        t.observe(&Hit {
            site: "s",
            ts: DAY + i as i64 * 10,
            name: "pageview",
            visitor_id: i + 1,
            pathname: "/some/page",
            ..Hit::default()
        });
        let b = t.stats.bytes.load(Ordering::Relaxed) as usize;
        assert!(b <= cap + SHARDS * 1024, "{b} bytes over the cap {cap}");
    }
    let evicted = t.stats.evicted.load(Ordering::Relaxed);
    assert!(evicted > 4_000, "{evicted}");
    t.drain(DAY + 60_000, |v| {
        written += 1;
        assert!(v.events() == 1);
    });
    // Every visit got a version: the evicted ones closed, the rest open.
    assert_eq!(written, 5_000);
    let open = t.stats.open.load(Ordering::Relaxed) as u64;
    assert_eq!(open, 5_000 - evicted);
    assert_eq!(t.snapshot().len() as u64, open);
    // The visits closed early are the oldest.
    let oldest_open = t.snapshot().iter().map(|v| v.end).min().unwrap();
    assert!(oldest_open > DAY + 4_000 * 10, "{oldest_open}");
}

#[test]
fn anonymous_hits_join_no_visit_and_a_purge_forgets_the_site() {
    let t = OpenVisits::new(1 << 20);
    let h = Hit {
        site: "s",
        ts: DAY,
        name: "pageview",
        ..Hit::default()
    };
    t.observe(&h);
    assert_eq!(t.snapshot().len(), 0);
    assert_eq!(t.stats.anonymous_hits.load(Ordering::Relaxed), 1);
    t.observe(&Hit { visitor_id: 1, ..h });
    t.observe(&Hit {
        visitor_id: 2,
        site: "other",
        ..h
    });
    assert_eq!(t.purge("s", DAY + 1), 1);
    let left = t.snapshot();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].site, "other");
    assert!(t.covers(&Hit {
        visitor_id: 2,
        site: "other",
        ..h
    }));
}

#[test]
fn a_flush_looks_only_at_what_changed_and_closes_on_time() {
    let t = OpenVisits::new(64 << 20);
    let paths: Vec<String> = (0..=2_000u64).map(|who| format!("/p{who}")).collect();
    let mk = |who: u64, ts: i64| Hit {
        site: "s",
        ts,
        name: "pageview",
        visitor_id: who,
        pathname: &paths[who as usize],
        ..Hit::default()
    };
    // 2,000 visitors, each one hit, 100 ms apart.
    for i in 0..2_000u64 {
        t.observe(&mk(i + 1, DAY + i as i64 * 100));
    }
    let examined = |t: &OpenVisits| t.stats.examined.load(Ordering::Relaxed);
    let now = DAY + 200_000;
    assert_eq!(t.drain(now, |v| assert!(!v.closed)), 2_000);
    let after_first = examined(&t);
    assert_eq!(after_first, 2_000);
    // Nothing changed and nothing is due: a flush looks at no visit.
    assert_eq!(t.drain(now + 1_000, |_| ()), 0);
    assert_eq!(examined(&t), after_first);
    // One visitor's hit: one visit looked at and written.
    t.observe(&mk(7, now + 1_500));
    let mut rows = Vec::new();
    t.drain(now + 2_000, |v| rows.push(v.clone()));
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].visitor_id, rows[0].events()), (7, 2));
    assert_eq!(examined(&t), after_first + 1);
    // Each visit closes at its close time, not a flush earlier.
    let first_close = Visit::first(&mk(1, DAY)).closes_at();
    assert_eq!(t.drain(first_close - 1, |_| ()), 0);
    // Visitor 3 gets a hit within its visit's span (no later close) that no
    // flush writes before the close: the one visit written as it closes.
    t.observe(&Hit {
        name: "click",
        ..mk(3, DAY + 250)
    });
    let mut closed = Vec::new();
    t.drain(first_close + 999, |v| {
        closed.push((v.visitor_id, v.closed, v.events()))
    });
    assert_eq!(closed, vec![(3, true, 2)]);
    // Visitors 1 to 10 (hits in the day's first second) were due; 7 was
    // extended.
    assert_eq!(t.stats.open.load(Ordering::Relaxed), 2_000 - 9);
    assert_eq!(
        t.snapshot().iter().filter(|v| v.visitor_id <= 10).count(),
        1
    );
    // Far later every visit has closed by time, none changed: no version.
    assert_eq!(t.drain(DAY + 86_400_000, |_| ()), 0);
    assert_eq!(t.stats.open.load(Ordering::Relaxed), 0);
    assert_eq!(t.stats.bytes.load(Ordering::Relaxed), 0);
    assert!(t.snapshot().is_empty());
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// The memory of 100,000 concurrent visitors, each with a visit of three
/// page views: counted against the cap, and the process's resident set.
/// Run alone: `cargo test --lib memory_of_100k -- --ignored --nocapture`.
#[test]
#[ignore]
fn memory_of_100k_open_visits() {
    let before = rss_bytes();
    let t = OpenVisits::new(1 << 30);
    let paths = [
        "/",
        "/pricing",
        "/docs/getting-started",
        "/blog/2026/11/live-visits",
    ];
    for i in 0..100_000u64 {
        for k in 0..3 {
            t.observe(&Hit {
                site: "example.com",
                ts: DAY + (i as i64) * 10 + k * 60_000,
                name: "pageview",
                visitor_id: i + 1,
                pathname: paths[((i + k as u64) % 4) as usize],
                referrer_source: "Google",
                channel: "Organic Search",
                country: "DE",
                device: "Desktop",
                ..Hit::default()
            });
        }
    }
    let after = rss_bytes();
    let counted = t.stats.bytes.load(Ordering::Relaxed);
    eprintln!(
        "100000 open visits: {} bytes counted ({} per visit), resident set grew {} bytes ({} per visit)",
        counted,
        counted / 100_000,
        after.saturating_sub(before),
        after.saturating_sub(before) / 100_000
    );
    assert_eq!(t.stats.open.load(Ordering::Relaxed), 100_000);
}
