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
//! seconds of its first and last hit. A hit within 30 minutes of that span
//! takes its id (and widens the span); a later one starts a new visit; one
//! stamped more than 30 minutes before the span (very late) gets an id of
//! its own and changes nothing.
//!
//! The entries are 24 bytes each, in a flat open-addressing table per
//! shard (`table.rs`): the whole daily visitor id, the visit id, the last
//! hit in whole seconds since the epoch (32 bits, until 2106; a hit outside
//! gets an id of its own), the seconds from the first hit to the last (16
//! bits: a visit over 18.2 hours is kept as if it began 18.2 hours before
//! its last hit, so a hit more than 30 minutes before that only starts an
//! id of its own) and 16 bits of the site's hash (its *tag*). The day is
//! the day of the last hit (an entry holds one day's hits). A hit's entry
//! is the one with its visitor id, its site's tag and its day: the rule
//! needs only seconds; the id's first-hit time in ms is used once, when the
//! id is made.
//!
//! Collisions. The visitor id is compared whole, so two visitor ids never
//! share an entry, and the day is compared whole. Two sites share an entry
//! only for one visitor id on both on the same day with equal tags: the
//! visitor id is an HMAC-SHA256 under the day's secret over the site,
//! address and agent (not choosable by a client), so that is a 64-bit
//! collision and a 16-bit one at once, about 2^-80 per pair of concurrent
//! entries that meet in a table (about 10^-12 a day at 20 M events/day). Even then, the views
//! group fragments by (site, day, visitor id, visit id): each site sees only
//! its own hits under the shared id, and the harm is that the other site's
//! hits may have bridged a gap, so one site's live figures could count one
//! visit for two until the day's rollup, which recomputes the visits from
//! the events by the rule, not from the ids. A purge drops the entries of
//! every site with the purged site's tag (others' next hits start new ids:
//! splits, merged).
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
//! the shards; a table grows by doubling to its share, at most 80 % full,
//! so about [`ENTRY_BYTES`] per visitor at the cap and 30-60 below it):
//! entries that can no longer be extended are dropped within minutes (a
//! sweep every 5 minutes of the hits' time; a table under 20 % full
//! then shrinks), and at the cap the entries with the oldest last hit are
//! evicted (`tacit_visits_evicted`); such a visitor's next hit within 30
//! minutes starts a new id, a fragment the view merges.

pub mod realtime;
pub mod reload;
mod table;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::model::sync::lock;

use table::{mix, Slot, Table, SLOT_BYTES};

/// Inactivity that ends a visit, in whole seconds (see the module doc).
pub const VISIT_GAP_SECONDS: i64 = 30 * 60;

/// How long after a visit can no longer be extended by a hit stamped in
/// order its entry stays, for hits stamped a moment earlier that arrive
/// late (several I/O threads stamp and log hits concurrently).
pub const GRACE_MS: i64 = 5_000;

const MS_PER_DAY: i64 = 86_400_000;

/// Shards of the assigner, each behind its own lock.
const SHARDS: usize = 16;

/// Bytes per visitor-day entry at the byte cap: a 24-byte slot of a table
/// at most 80 % full. Below the cap a table is 40-80 % full (30-60 bytes
/// an entry). What is counted against `sink.visits_max_bytes` is the
/// tables' slots as allocated; a table that doubles holds the old slots
/// too for the moment it copies them. The ignored test
/// `memory_of_100k_visitors` (`tests.rs`, debug build) counted 31 bytes per
/// visitor at 100,000 concurrent visitors and saw the resident set grow by
/// 62 (the allocator keeps the smaller tables that the growth freed, for
/// reuse).
pub const ENTRY_BYTES: usize = SLOT_BYTES * 5 / 4;

/// How often (in the hits' time) a shard drops the entries no hit can
/// extend any more: each sweep looks at every slot of the shard, so its
/// cost per hit is about the slots per sweep interval (a profile of `make
/// bench-visits` put a sweep a minute at 4-5 % of the collector's CPU;
/// every 5 minutes an entry stays at most 5 minutes longer).
const SWEEP_MS: i64 = 300_000;

fn sec(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// A time in ms as the entries keep it: whole seconds since the epoch in
/// 32 bits (until 2106; a hit outside gets an id of its own).
fn sec32(ms: i64) -> Option<u32> {
    u32::try_from(sec(ms)).ok()
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

/// 16 bits of a hash of a site name (an entry's site), eight bytes at a
/// time.
pub fn site_tag(site: &str) -> u16 {
    let b = site.as_bytes();
    let mut h = (b.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for c in b.chunks(8) {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w))
            .wrapping_mul(0xBF58_476D_1CE4_E5B9)
            .rotate_left(27);
    }
    h = (h ^ (h >> 31)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (h >> 48) as u16
}

/// A visitor's newest visit on one site and day, as the assigner keeps it
/// ([`Assigner::get`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    pub id: u64,
    /// First and last hit of the visit so far (ms, whole seconds: the
    /// entries keep seconds).
    pub start: i64,
    pub end: i64,
}

impl Open {
    /// When no hit can extend it any more: 30 minutes after its last hit
    /// (to the end of that second), plus the grace for late arrivals.
    pub fn closes_at(&self) -> i64 {
        closes_at(sec(self.end))
    }
}

/// [`Open::closes_at`] of a last hit in second `end`.
fn closes_at(end: i64) -> i64 {
    (end + VISIT_GAP_SECONDS + 1) * 1000 + GRACE_MS
}

/// Whether a hit at second `t` may join the visit of `o`: at most 30
/// minutes after its last hit and before its first.
fn reaches(o: &Slot, t: u32) -> bool {
    let t = t as i64;
    t - o.end as i64 <= VISIT_GAP_SECONDS && o.start() - t <= VISIT_GAP_SECONDS
}

/// The id [`Assigner::assign`] gave a hit, and what to put back if the
/// hit is not stored ([`Assigner::undo`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assigned {
    pub id: u64,
    /// The visitor's entry before the hit (`None`: it had none).
    prev: Option<Slot>,
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

#[derive(Default)]
struct Shard {
    table: Table,
    /// When (hits' time) the entries no hit can extend are next dropped.
    next_sweep: i64,
    /// Visit ids started here.
    started: u64,
}

/// What the assigner holds now ([`Assigner::counts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Visitor-days with an entry, and the bytes their tables take.
    pub open: usize,
    pub bytes: usize,
    /// Visit ids started (a new visit, or a fragment of one).
    pub started: u64,
}

/// The collector's visit assigner.
pub struct Assigner {
    shards: Vec<Mutex<Shard>>,
    /// Slots of a shard's table at most, and entries before the oldest are
    /// evicted (80 % of them).
    max_slots: usize,
    shard_cap: usize,
    pub stats: Stats,
    /// False for [`Assigner::inert`]: every id is 0.
    live: bool,
}

impl Assigner {
    /// An assigner whose tables take at most about `max_bytes`.
    pub fn new(max_bytes: usize) -> Assigner {
        let max_slots = (max_bytes / SHARDS / SLOT_BYTES).max(8);
        Assigner {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            max_slots,
            shard_cap: (max_slots * 4 / 5).saturating_sub(1).max(4),
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

    fn shard(&self, visitor_id: u64) -> &Mutex<Shard> {
        &self.shards[(mix(visitor_id) % SHARDS as u64) as usize]
    }

    /// The visit id of a hit of `visitor_id` on `site` at `ts` (ms): the
    /// visitor's open visit's if the hit reaches it, else a new one. 0 for
    /// a hit without a visitor id (no visit) or an inert assigner. If the
    /// hit is then not stored (the log refused it), [`Assigner::undo`]
    /// puts the entry back as it was.
    pub fn assign(&self, site: &str, visitor_id: u64, ts: i64) -> Assigned {
        let mut out = Assigned {
            id: 0,
            prev: None,
            changed: false,
        };
        if !self.live {
            return out;
        }
        if visitor_id == 0 {
            self.stats.anonymous_hits.fetch_add(1, Ordering::Relaxed);
            return out;
        }
        out.id = visit_id(visitor_id, ts);
        let Some(t) = sec32(ts) else {
            // Outside what an entry holds: an id of its own.
            return out;
        };
        let tag = site_tag(site);
        let mut s = lock(self.shard(visitor_id));
        let s = &mut *s;
        match s.table.find(visitor_id, tag, day_of(ts)) {
            Some(i) => {
                let o = s.table.get_mut(i);
                if reaches(o, t) {
                    out.prev = Some(*o);
                    out.changed = true;
                    o.widen(t);
                    out.id = o.id;
                    return out;
                }
                if (t as i64) < o.start() {
                    // Stamped more than 30 minutes before the visit it
                    // arrives after: an id of its own, the entry unchanged.
                    s.started += 1;
                    return out;
                }
                out.prev = Some(*o);
                *o = Slot {
                    vid: visitor_id,
                    id: out.id,
                    end: t,
                    span: 0,
                    tag,
                };
            }
            None => s.table.insert(
                Slot {
                    vid: visitor_id,
                    id: out.id,
                    end: t,
                    span: 0,
                    tag,
                },
                self.max_slots,
            ),
        }
        out.changed = true;
        s.started += 1;
        self.tidy(s, ts);
        out
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
        let mut s = lock(self.shard(visitor_id));
        let Some(i) = s.table.find(visitor_id, site_tag(site), day_of(ts)) else {
            return;
        };
        match a.prev {
            Some(prev) => *s.table.get_mut(i) = prev,
            None => s.table.remove_at(i),
        }
    }

    /// Drop the entries no hit can extend any more (once per
    /// [`SWEEP_MS`] of the hits' time), then evict the oldest while the
    /// shard is over its cap.
    fn tidy(&self, s: &mut Shard, now_ms: i64) {
        if now_ms >= s.next_sweep {
            s.next_sweep = now_ms + SWEEP_MS;
            s.table.retain(|o| closes_at(o.end as i64) > now_ms);
            s.table.shrink();
        }
        if s.table.len() > self.shard_cap {
            let mut ends: Vec<u32> = s.table.iter().map(|o| o.end).collect();
            let goal = self.shard_cap / 10 * 9;
            let cut = ends.len() - goal;
            let (_, &mut nth, _) = ends.select_nth_unstable(cut.saturating_sub(1));
            let n = s.table.retain(|o| o.end > nth);
            self.stats.evicted.fetch_add(n as u64, Ordering::Relaxed);
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
        let (Some(t0), Some(t1)) = (sec32(start), sec32(end)) else {
            return;
        };
        let tag = site_tag(site);
        let mut s = lock(self.shard(visitor_id));
        let s = &mut *s;
        let mut slot = Slot {
            vid: visitor_id,
            id,
            end: t1,
            span: 0,
            tag,
        };
        slot.widen(t0);
        match s.table.find(visitor_id, tag, day_of(end)) {
            Some(i) => {
                let o = s.table.get_mut(i);
                if o.id == id {
                    o.widen(t0);
                    o.widen(t1);
                } else if t1 > o.end {
                    *o = slot;
                }
            }
            None => {
                s.table.insert(slot, self.max_slots);
                self.tidy(s, end);
            }
        }
    }

    /// Forget the entries of `site` (a purge fence): its next hits start
    /// new visit ids. Returns how many were dropped: the site's, and those
    /// of any other site whose 16-bit tag is the same (about one in 65,536:
    /// their next hits start new ids, a split the views merge).
    pub fn purge(&self, site: &str) -> usize {
        let tag = site_tag(site);
        let mut n = 0;
        for shard in &self.shards {
            let mut s = lock(shard);
            n += s.table.retain(|o| o.tag != tag);
        }
        n
    }

    /// The entries held now, the bytes of their tables and the ids started
    /// (each shard locked in turn: for `/metrics` and tests, not the hit
    /// path).
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for shard in &self.shards {
            let s = lock(shard);
            c.open += s.table.len();
            c.bytes += s.table.capacity() * SLOT_BYTES;
            c.started += s.started;
        }
        c
    }

    /// The entry of a visitor (tests).
    pub fn get(&self, site: &str, visitor_id: u64, day: i32) -> Option<Open> {
        let s = lock(self.shard(visitor_id));
        let o = s.table.get(s.table.find(visitor_id, site_tag(site), day)?);
        Some(Open {
            id: o.id,
            start: o.start() * 1000,
            end: o.end as i64 * 1000,
        })
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
