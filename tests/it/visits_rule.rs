//! The visit rule written independently of tacit, over raw hits: group a
//! visitor's hits by site and UTC day (the visitor id is daily), sort them
//! by time (ties in arrival order), and start a new visit where the gap to
//! the previous hit exceeds 30 minutes, counted in whole seconds since the
//! epoch (as ClickHouse's `dateDiff('second', …)` counts). Bots are not
//! hits. Used by the unit tests of `src/visits` and by `tests/it/visits.rs`.

use std::collections::BTreeMap;

/// One hit as a client sent it.
#[derive(Debug, Clone)]
pub struct RawHit {
    pub site: String,
    /// When the collector stamps it (ms).
    pub ts: i64,
    /// Who sent it (the client address and agent, say): one visitor per day.
    pub who: String,
    pub name: String,
    pub path: String,
    pub source: String,
    pub engaged_ms: u32,
    pub bot: bool,
}

/// A visit by the rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleVisit {
    pub site: String,
    pub day: i64,
    pub who: String,
    pub start: i64,
    pub end: i64,
    pub pageviews: u32,
    pub events: u32,
    pub entry: String,
    pub exit: String,
    pub source: String,
    pub names: Vec<String>,
    pub pages: Vec<String>,
    pub engaged_ms: u64,
}

const GAP_S: i64 = 30 * 60;

/// The visits of `hits` (in arrival order).
pub fn visits(hits: &[RawHit]) -> Vec<RuleVisit> {
    let mut groups: BTreeMap<(String, i64, String), Vec<(i64, usize)>> = BTreeMap::new();
    for (i, h) in hits.iter().enumerate() {
        if h.bot {
            continue;
        }
        groups
            .entry((h.site.clone(), h.ts.div_euclid(86_400_000), h.who.clone()))
            .or_default()
            .push((h.ts, i));
    }
    let mut out = Vec::new();
    for ((site, day, who), mut list) in groups {
        list.sort();
        let mut current: Vec<usize> = Vec::new();
        let mut last_s = i64::MIN;
        for (ts, i) in list {
            let s = ts.div_euclid(1000);
            if !current.is_empty() && s - last_s > GAP_S {
                out.push(one(hits, &current, &site, day, &who));
                current.clear();
            }
            current.push(i);
            last_s = s;
        }
        if !current.is_empty() {
            out.push(one(hits, &current, &site, day, &who));
        }
    }
    out.sort();
    out
}

fn one(hits: &[RawHit], idx: &[usize], site: &str, day: i64, who: &str) -> RuleVisit {
    let hs: Vec<&RawHit> = idx.iter().map(|&i| &hits[i]).collect();
    let pages: Vec<String> = hs
        .iter()
        .filter(|h| h.name == "pageview")
        .map(|h| h.path.clone())
        .collect();
    RuleVisit {
        site: site.to_string(),
        day,
        who: who.to_string(),
        start: hs[0].ts,
        end: hs[hs.len() - 1].ts,
        pageviews: pages.len() as u32,
        events: hs.len() as u32,
        entry: pages.first().cloned().unwrap_or_default(),
        exit: pages.last().cloned().unwrap_or_default(),
        source: hs[0].source.clone(),
        names: hs.iter().map(|h| h.name.clone()).collect(),
        pages,
        engaged_ms: hs.iter().map(|h| h.engaged_ms as u64).sum(),
    }
}

/// A generated day of raw hits, in arrival order, from a seed: `people`
/// visitors on two sites, interleaved; gaps just under and just over 30
/// minutes (to the millisecond and across a second boundary); a visit
/// across midnight (two days: two visitor ids, two visits); hits stamped a
/// moment earlier than the hit before them arrives (out of order within a
/// second), including one that closes a gap; and bots. `day_ms` is the
/// start of the UTC day the hits are on (a few spill into the next).
pub fn generated_day(seed: u64, people: usize, day_ms: i64) -> Vec<RawHit> {
    let mut rng = Lcg(seed);
    let mut hits = Vec::new();
    let sites = ["a.example", "b.example"];
    let pages = ["/", "/pricing", "/docs", "/blog/x", "/signup"];
    let sources = ["", "Google", "Twitter", "Newsletter"];
    for p in 0..people {
        let who = format!("p{p}");
        let site = sites[p % 2];
        let bot = p % 11 == 7;
        let mut t = day_ms + rng.below(20 * 3_600_000) as i64;
        let source = sources[rng.below(sources.len() as u64) as usize];
        for _ in 0..(1 + rng.below(8)) {
            let name = if rng.below(5) == 0 {
                "signup"
            } else {
                "pageview"
            };
            hits.push(RawHit {
                site: site.to_string(),
                ts: t,
                who: who.clone(),
                name: name.to_string(),
                path: pages[rng.below(pages.len() as u64) as usize].to_string(),
                source: source.to_string(),
                engaged_ms: rng.below(40_000) as u32,
                bot,
            });
            t += match rng.below(10) {
                // Just under / just over the gap, at the second's edges.
                0 => GAP_S * 1000 - 1 - rng.below(900) as i64,
                1 => GAP_S * 1000 + 1000 + rng.below(900) as i64,
                2 => rng.below(3 * 3_600_000) as i64,
                _ => 1 + rng.below(600_000) as i64,
            };
        }
    }
    // A visit across midnight: the same person before and after 00:00.
    let next = day_ms + 86_400_000;
    for (k, dt) in [-120_000i64, -30_000, 40_000, 95_000]
        .into_iter()
        .enumerate()
    {
        hits.push(RawHit {
            site: "a.example".into(),
            ts: next + dt,
            who: "night".into(),
            name: "pageview".into(),
            path: pages[k % pages.len()].into(),
            source: "Google".into(),
            engaged_ms: 1000,
            bot: false,
        });
    }
    // A gap closed by a late hit: two hits 30 min 1.5 s apart (two visits),
    // and a hit stamped 1.3 s before the second, which arrives just after it.
    let base = day_ms + 21 * 3_600_000;
    for (dt, path) in [(0, "/"), (1_801_500, "/b"), (1_800_200, "/late")] {
        hits.push(RawHit {
            site: "b.example".into(),
            ts: base + dt,
            who: "bridge".into(),
            name: "pageview".into(),
            path: path.into(),
            source: String::new(),
            engaged_ms: 0,
            bot: false,
        });
    }
    hits.sort_by_key(|h| h.ts);
    // Out of order within a second: swap some neighbours less than a
    // second apart (the later-stamped hit arrives first).
    for i in 1..hits.len() {
        if hits[i].ts - hits[i - 1].ts < 1000 && rng.below(2) == 0 {
            hits.swap(i - 1, i);
        }
    }
    // The bridging hit arrives after the second visit has started.
    if let Some(i) = hits.iter().position(|h| h.path == "/late") {
        let late = hits.remove(i);
        let after = hits
            .iter()
            .position(|h| h.path == "/b" && h.who == "bridge")
            .map_or(hits.len(), |j| j + 1);
        hits.insert(after, late);
    }
    hits
}

/// A small deterministic generator (no dependency, same on every run).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
