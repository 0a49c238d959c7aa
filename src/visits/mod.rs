//! Live visits: the collector assigns each accepted event to a visit and
//! stamps the visit's id on its row (`events.visit_id`) before the row
//! enters the write-ahead log, so a row replayed after a crash carries the
//! id it was given. Nothing else about a visit is kept or written here:
//! the engine builds an open day's visits from its events at query time
//! (view `live_visits`, migration 0030), and the day-close rollup
//! recomputes a closed day's visits from its events into `sessions` (the
//! source of truth for closed days).
//!
//! The rule is the one `analytics/sessions.rs` runs in SQL: a visit is one
//! visitor's hits on one site on one UTC day (visitor ids are per day)
//! with no gap over 30 minutes, counted in whole seconds as ClickHouse's
//! `dateDiff('second', …)` counts them. The assigner keeps, per (site,
//! visitor id, day), only the id of the visitor's newest visit and the
//! seconds of its first and last hit ([`Open`]). A hit within 30 minutes of
//! that span takes its id (and widens the span); a later one starts a new
//! visit; one stamped more than 30 minutes before the span (very late) gets
//! an id of its own and changes nothing.
//!
//! What the ids guarantee: the hits of one id never span a gap over 30
//! minutes (a hit joins only within 30 minutes of the span's edge), so an
//! id is a *fragment* of exactly one visit by the rule. The view merges
//! the fragments of a visitor whose gap is at most 30 minutes, so its
//! visits equal the rule's over the stored events whatever split the ids:
//! a late hit that bridges two visits (it keeps the id it joined, the view
//! merges the two), two replicas that each saw part of a visit, a restart,
//! an entry evicted at the memory cap. A split costs the view a little
//! more work, never a wrong count; the rollup counts the splits it finds
//! (`tacit_visits_split_repaired`). The one thing that must not happen is
//! the opposite: an entry widened by a hit that is never stored, which
//! could give a later hit the id of a visit over a gap of more than 30
//! minutes between stored hits. A hit the log refuses is undone
//! ([`Assigner::undo`]); a hit whose sync fails after it was appended
//! (a failing disk, answered 503) is not, and may join two live visits
//! until the day's rollup.
//!
//! The visit id is a hash of the daily visitor id and the time of the
//! visit's first hit (ms): it says nothing the row's visitor id and time
//! do not, and it is as unlinkable across days as the visitor id (its salt
//! is destroyed with the day).
//!
//! Memory is bounded by bytes (`sink.visits_max_bytes`, split evenly over
//! the shards; about [`ENTRY_BYTES`] per visitor): entries that can no
//! longer be extended are dropped within minutes, and at the cap the
//! entries with the oldest last hit are evicted (`tacit_visits_evicted`);
//! such a visitor's next hit within 30 minutes starts a new id, a fragment
//! the view merges.

pub mod realtime;
pub mod reload;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::model::sync::lock;

/// Inactivity that ends a visit, in whole seconds (see the module doc).
pub const VISIT_GAP_SECONDS: i64 = 30 * 60;

/// How long after a visit can no longer be extended by a hit stamped in
/// order its entry stays, for hits stamped a moment earlier that arrive
/// late (several I/O threads stamp and log hits concurrently).
pub const GRACE_MS: i64 = 5_000;

const MS_PER_DAY: i64 = 86_400_000;

/// Shards of the assigner, each behind its own lock.
const SHARDS: usize = 16;

/// Bytes counted per visitor-day entry: the key and value (48 bytes) and
/// the hash map's slack and control bytes, calibrated against the resident
/// set by the ignored test `memory_of_100k_visitors` (see `tests.rs`).
pub const ENTRY_BYTES: usize = 112;

/// How often (in the hits' time) a shard drops the entries no hit can
/// extend any more: each sweep looks at every entry of the shard, so its
/// cost per hit is about the entries a visitor leaves per sweep interval
/// (a profile of `make bench-visits` put a sweep a minute at 4-5 % of
/// the collector's CPU; every 5 minutes an entry stays at most 5 minutes
/// longer).
const SWEEP_MS: i64 = 300_000;

fn sec(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// The UTC day (days since the epoch) of a time in ms.
pub fn day_of(ms: i64) -> i32 {
    ms.div_euclid(MS_PER_DAY) as i32
}

/// Whether two hits at `a` ≤ `b` may be in one visit by the gap rule.
pub fn within_gap(a: i64, b: i64) -> bool {
    sec(b) - sec(a) <= VISIT_GAP_SECONDS
}

/// The id of a visit whose first hit (as this collector saw it) is at
/// `first_ms`: a hash of the daily visitor id and that time, never 0.
pub fn visit_id(visitor_id: u64, first_ms: i64) -> u64 {
    let mut z = visitor_id ^ (first_ms as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z.max(1)
}

/// A short hash of a site name (the key's site part).
fn site_hash(site: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in site.as_bytes() {
        h = (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A visitor's newest visit on one site and day, as the assigner keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    pub id: u64,
    /// First and last hit of the visit so far (ms).
    pub start: i64,
    pub end: i64,
}

impl Open {
    /// Whether a hit at `ts` may join this visit.
    fn reaches(&self, ts: i64) -> bool {
        within_gap(self.end, ts) && within_gap(ts, self.start)
    }

    fn widen(&mut self, ts: i64) {
        self.start = self.start.min(ts);
        self.end = self.end.max(ts);
    }

    /// When no hit can extend it any more: 30 minutes after its last hit
    /// (to the end of that second), plus the grace for late arrivals.
    pub fn closes_at(&self) -> i64 {
        (sec(self.end) + VISIT_GAP_SECONDS + 1) * 1000 + GRACE_MS
    }
}

/// The id [`Assigner::assign`] gave a hit, and what to put back if the
/// hit is not stored ([`Assigner::undo`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assigned {
    pub id: u64,
    /// The visitor's entry before the hit (`None`: it had none).
    prev: Option<Open>,
    /// Whether the hit changed the entry.
    changed: bool,
}

/// Counters of the assigner that change rarely (copied into the
/// process's metrics). The entries, their bytes and the ids started are
/// counted per shard under its lock ([`Assigner::counts`]): no shared
/// atomic on the hit path.
#[derive(Debug, Default)]
pub struct Stats {
    /// Entries evicted at the memory cap before they could close.
    pub evicted: AtomicU64,
    /// Hits that had no visitor id (stored without consent): no visit.
    pub anonymous_hits: AtomicU64,
}

/// Hashes a key for the shard's maps: visitor ids are keyed hashes already
/// (HMAC-SHA256 under the day's salt, uniform and not choosable by a
/// client), so a multiply and fold spreads them.
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
    fn write_i32(&mut self, n: i32) {
        self.write_u64(n as u32 as u64);
    }
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0xBF58_476D_1CE4_E5B9)
    }
}

type KeyHash = std::hash::BuildHasherDefault<KeyHasher>;

/// (visitor id, site hash, day).
type Key = (u64, u64, i32);

#[derive(Default)]
struct Shard {
    map: HashMap<Key, Open, KeyHash>,
    /// When (hits' time) the entries no hit can extend are next dropped.
    next_sweep: i64,
    /// Visit ids started here.
    started: u64,
}

/// What the assigner holds now ([`Assigner::counts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Visitor-days with an entry, and the bytes they count.
    pub open: usize,
    pub bytes: usize,
    /// Visit ids started (a new visit, or a fragment of one).
    pub started: u64,
}

/// The collector's visit assigner.
pub struct Assigner {
    shards: Vec<Mutex<Shard>>,
    /// Entries per shard before the oldest are evicted.
    shard_cap: usize,
    pub stats: Stats,
    /// False for [`Assigner::inert`]: every id is 0.
    live: bool,
}

impl Assigner {
    /// An assigner holding at most about `max_bytes` of entries.
    pub fn new(max_bytes: usize) -> Assigner {
        Assigner {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_cap: (max_bytes / SHARDS / ENTRY_BYTES).max(4),
            stats: Stats::default(),
            live: true,
        }
    }

    /// An assigner that assigns nothing (every visit id 0): the baseline
    /// of `make bench-visits` (events stored without visit ids); `tacit
    /// serve` always assigns.
    pub fn inert() -> Assigner {
        Assigner {
            live: false,
            ..Assigner::new(1 << 20)
        }
    }

    /// Whether hits get visit ids (false for [`Assigner::inert`]).
    pub fn is_live(&self) -> bool {
        self.live
    }

    fn shard(&self, visitor_id: u64, day: i32) -> &Mutex<Shard> {
        let h = visitor_id ^ (day as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.shards[(h % SHARDS as u64) as usize]
    }

    /// The visit id of a hit of `visitor_id` on `site` at `ts` (ms): the
    /// visitor's open visit's if the hit reaches it, else a new one. 0 for
    /// a hit without a visitor id (no visit) or an inert assigner. If the
    /// hit is then not stored (the log refused it), [`Assigner::undo`]
    /// puts the entry back as it was.
    pub fn assign(&self, site: &str, visitor_id: u64, ts: i64) -> Assigned {
        let none = Assigned {
            id: 0,
            prev: None,
            changed: false,
        };
        if !self.live {
            return none;
        }
        if visitor_id == 0 {
            self.stats.anonymous_hits.fetch_add(1, Ordering::Relaxed);
            return none;
        }
        let day = day_of(ts);
        let key = (visitor_id, site_hash(site), day);
        let mut s = lock(self.shard(visitor_id, day));
        let s = &mut *s;
        let (id, prev) = match s.map.get_mut(&key) {
            Some(o) if o.reaches(ts) => {
                let prev = *o;
                o.widen(ts);
                return Assigned {
                    id: o.id,
                    prev: Some(prev),
                    changed: true,
                };
            }
            // Stamped more than 30 minutes before the visit it arrives
            // after: an id of its own, the entry unchanged.
            Some(o) if ts < o.start => {
                s.started += 1;
                return Assigned {
                    id: visit_id(visitor_id, ts),
                    prev: None,
                    changed: false,
                };
            }
            Some(o) => {
                let prev = *o;
                *o = Open {
                    id: visit_id(visitor_id, ts),
                    start: ts,
                    end: ts,
                };
                (o.id, Some(prev))
            }
            None => {
                let id = visit_id(visitor_id, ts);
                s.map.insert(
                    key,
                    Open {
                        id,
                        start: ts,
                        end: ts,
                    },
                );
                (id, None)
            }
        };
        s.started += 1;
        self.tidy(s, ts);
        Assigned {
            id,
            prev,
            changed: true,
        }
    }

    /// Put a visitor's entry back as it was before [`Assigner::assign`]
    /// gave `a` to a hit that was then not stored: otherwise the span of a
    /// hit that exists nowhere could let a later hit join a visit over a
    /// gap of more than 30 minutes between stored hits. Putting back an
    /// older entry (a hit of the same visitor may have come in between)
    /// can only start a new id where one would have been kept: a split,
    /// which the views merge.
    pub fn undo(&self, site: &str, visitor_id: u64, ts: i64, a: Assigned) {
        if !a.changed {
            return;
        }
        let day = day_of(ts);
        let key = (visitor_id, site_hash(site), day);
        let mut s = lock(self.shard(visitor_id, day));
        match a.prev {
            Some(prev) => {
                if let Some(o) = s.map.get_mut(&key) {
                    *o = prev;
                }
            }
            None => {
                s.map.remove(&key);
            }
        }
    }

    /// Drop the entries no hit can extend any more (once per
    /// [`SWEEP_MS`] of the hits' time), then evict the oldest while the
    /// shard is over its cap.
    fn tidy(&self, s: &mut Shard, now_ms: i64) {
        if now_ms >= s.next_sweep {
            s.next_sweep = now_ms + SWEEP_MS;
            s.map.retain(|_, o| o.closes_at() > now_ms);
        }
        if s.map.len() > self.shard_cap {
            let mut ends: Vec<i64> = s.map.values().map(|o| o.end).collect();
            let goal = self.shard_cap / 10 * 9;
            let cut = ends.len() - goal;
            let (_, &mut nth, _) = ends.select_nth_unstable(cut.saturating_sub(1));
            let n0 = s.map.len();
            s.map.retain(|_, o| o.end > nth);
            self.stats
                .evicted
                .fetch_add((n0 - s.map.len()) as u64, Ordering::Relaxed);
        }
    }

    /// Take in hits already stamped (on start: the visits of the last 30
    /// minutes read from the engine, then the log's undelivered rows): a
    /// visit `id` of `visitor_id` on `site` spanning `start..=end` (ms).
    /// The entry keeps the visit with the latest last hit, so the hits that
    /// follow join the visit they would have joined without the restart.
    pub fn restore(&self, site: &str, visitor_id: u64, id: u64, start: i64, end: i64) {
        if !self.live || visitor_id == 0 || id == 0 {
            return;
        }
        let day = day_of(end);
        let key = (visitor_id, site_hash(site), day);
        let mut s = lock(self.shard(visitor_id, day));
        let s = &mut *s;
        match s.map.get_mut(&key) {
            Some(o) if o.id == id => {
                o.widen(start);
                o.widen(end);
            }
            Some(o) => {
                if end > o.end {
                    *o = Open { id, start, end };
                }
            }
            None => {
                s.map.insert(key, Open { id, start, end });
                self.tidy(s, end);
            }
        }
    }

    /// Forget the entries of `site` (a purge fence): its next hits start
    /// new visit ids. Returns how many were dropped.
    pub fn purge(&self, site: &str) -> usize {
        let h = site_hash(site);
        let mut n = 0;
        for shard in &self.shards {
            let mut s = lock(shard);
            let before = s.map.len();
            s.map.retain(|k, _| k.1 != h);
            n += before - s.map.len();
        }
        n
    }

    /// The entries held now, their bytes and the ids started (each shard
    /// locked in turn: for `/metrics` and tests, not the hit path).
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for shard in &self.shards {
            let s = lock(shard);
            c.open += s.map.len();
            c.started += s.started;
        }
        c.bytes = c.open * ENTRY_BYTES;
        c
    }

    /// The entry of a visitor (tests).
    pub fn get(&self, site: &str, visitor_id: u64, day: i32) -> Option<Open> {
        let s = lock(self.shard(visitor_id, day));
        s.map.get(&(visitor_id, site_hash(site), day)).copied()
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.counts().open
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
