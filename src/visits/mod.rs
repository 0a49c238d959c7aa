//! Live visits, built in the collector: each accepted anonymous event is
//! handed here once its row is durable in the write-ahead log, and joins
//! its visitor's open visit in memory. Visit versions leave through the
//! same log (`sink/visit_flush.rs`) into the `visits` table, so a visit is
//! in the engine within a flush interval of its last hit, and nothing
//! reads events back out of the engine to build it.
//!
//! The rule is the one `analytics/sessions.rs` runs in SQL over a closed
//! day's stored events when the day-close rollup recomputes its visits
//! (the source of truth for closed days): a visit is one visitor's hits
//! on one site on one UTC day (visitor ids are per day) with no gap over
//! 30 minutes, counted in whole seconds as ClickHouse's
//! `dateDiff('second', …)` counts them (the difference of the seconds
//! since the epoch). Hits are ordered by
//! their time, not their arrival: a hit that arrives out of order (another
//! I/O thread stamped it a moment earlier) takes its place in the visit,
//! and one that closes the gap between two visits merges them; the later
//! one is then written once more with no events (a retraction readers
//! skip).
//!
//! The table is bounded by bytes (`sink.visits_max_bytes`, split evenly
//! over its shards). At the cap the visits whose last hit is oldest are
//! closed early (their final version written, `tacit_visits_evicted`
//! counted); if such a visitor comes back within 30 minutes the live
//! numbers show two visits where the closed day's rollup, recomputing from
//! the events, shows one.

pub mod realtime;
pub mod reload;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::model::row::ColumnWriter;
use crate::model::sync::lock;

/// Inactivity that ends a visit, in whole seconds (see the module doc).
pub const VISIT_GAP_SECONDS: i64 = 30 * 60;

/// How long after a visit can no longer be extended by a hit stamped in
/// order it stays in memory, for hits stamped a moment earlier that arrive
/// late (several I/O threads stamp and log hits concurrently).
pub const GRACE_MS: i64 = 5_000;

const MS_PER_DAY: i64 = 86_400_000;

/// Shards of the table, each behind its own lock: hits of different
/// visitors on different I/O threads rarely wait for each other.
const SHARDS: usize = 16;

/// Bytes counted for a visit besides its strings: the struct, its map
/// slot, the allocator's share of its strings. With [`STEP_OVERHEAD`]
/// calibrated against the resident set (the ignored test
/// `memory_of_100k_open_visits`: 100,000 visits of three page views count
/// 841 bytes each; they added 862 to it when a hit took two allocations,
/// 784 since it takes one, so the count errs on the safe side).
const VISIT_OVERHEAD: usize = 448;
/// Bytes counted per hit of a visit besides its strings (the step and its
/// allocation, with room to spare: see [`VISIT_OVERHEAD`]).
const STEP_OVERHEAD: usize = 96;

fn sec(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// The UTC day (days since the epoch) of a time in ms.
pub fn day_of(ms: i64) -> i32 {
    ms.div_euclid(MS_PER_DAY) as i32
}

/// Whether two hits (or a hit and a visit's edge) at `a` ≤ `b` belong to
/// one visit by the gap rule.
pub fn within_gap(a: i64, b: i64) -> bool {
    sec(b) - sec(a) <= VISIT_GAP_SECONDS
}

/// What a visit needs of one stored event, borrowed from its logged row
/// (read by `sink::row::visit_hit` without copying a string: a visit
/// copies what it keeps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hit<'a> {
    pub site: &'a str,
    pub ts: i64,
    pub name: &'a str,
    pub visitor_id: u64,
    pub pathname: &'a str,
    pub referrer_source: &'a str,
    pub channel: &'a str,
    pub utm_campaign: &'a str,
    pub country: &'a str,
    pub device: &'a str,
    pub scroll_depth: u8,
    pub engaged_ms: u32,
}

impl Hit<'_> {
    fn is_pageview(&self) -> bool {
        self.name == "pageview"
    }
}

/// One hit of a visit, in time order: a page view and its path, or another
/// event and its name (one allocation per hit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub ts: i64,
    what: What,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum What {
    /// A page view: its path.
    Page(Box<str>),
    /// Any other event: its name.
    Event(Box<str>),
}

impl Step {
    /// A page view of `path`, or (`path` `None`) an event named `name`.
    pub fn new(ts: i64, name: &str, path: Option<&str>) -> Step {
        let what = match path {
            Some(p) => What::Page(p.into()),
            None => What::Event(name.into()),
        };
        Step { ts, what }
    }

    /// The event's name (`pageview` for a page view).
    pub fn name(&self) -> &str {
        match &self.what {
            What::Page(_) => "pageview",
            What::Event(n) => n,
        }
    }

    /// The path of a page view; `None` for any other event.
    pub fn path(&self) -> Option<&str> {
        match &self.what {
            What::Page(p) => Some(p),
            What::Event(_) => None,
        }
    }
}

/// A visit as the `visits` table keeps it (one row per version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub site: String,
    pub day: i32,
    pub visitor_id: u64,
    /// The visit's key within the visitor-day: the time of the first hit
    /// the collector saw (the start may move earlier, the id never does).
    pub id: i64,
    pub start: i64,
    pub end: i64,
    pub referrer_source: String,
    pub channel: String,
    pub utm_campaign: String,
    pub country: String,
    pub device: String,
    /// Every hit in time order (ties in arrival order).
    pub steps: Vec<Step>,
    pub engaged_ms: u64,
    pub scroll_depth: u8,
    /// Set on a version written as the visit closes: closed early at the
    /// memory cap, or closed by time with hits its last version lacked. A
    /// visit closed by time whose last version holds all its hits gets no
    /// such version: readers take any visit as closed once its close time
    /// ([`Visit::closes_at`]) has passed.
    pub closed: bool,
    /// Increases with each version written; the table keeps the highest.
    pub version: u64,
    /// Changed since its last version was written.
    dirty: bool,
    /// Merged into an earlier visit: its next version is a retraction (no
    /// events), and then it is forgotten.
    retracted: bool,
    /// Changed by a hit in this process (a visit put back on start and
    /// never extended here is closed without a version of its own).
    touched: bool,
}

impl Visit {
    /// A visit of one hit.
    pub fn first(h: &Hit<'_>) -> Visit {
        let mut v = Visit {
            site: h.site.to_owned(),
            day: day_of(h.ts),
            visitor_id: h.visitor_id,
            id: h.ts,
            start: h.ts,
            end: h.ts,
            referrer_source: String::new(),
            channel: String::new(),
            utm_campaign: String::new(),
            country: String::new(),
            device: String::new(),
            steps: Vec::with_capacity(2),
            engaged_ms: 0,
            scroll_depth: 0,
            closed: false,
            version: 0,
            dirty: true,
            retracted: false,
            touched: true,
        };
        v.take_source(h);
        v.steps.push(step_of(h));
        v.engaged_ms = h.engaged_ms as u64;
        v.scroll_depth = h.scroll_depth;
        v
    }

    fn take_source(&mut self, h: &Hit<'_>) {
        for (to, from) in [
            (&mut self.referrer_source, h.referrer_source),
            (&mut self.channel, h.channel),
            (&mut self.utm_campaign, h.utm_campaign),
            (&mut self.country, h.country),
            (&mut self.device, h.device),
        ] {
            to.clear();
            to.push_str(from);
        }
    }

    /// Add a hit in its place by time (after the hits of the same time).
    pub fn add(&mut self, h: &Hit<'_>) {
        if h.ts < self.start {
            self.start = h.ts;
            self.take_source(h);
        }
        self.end = self.end.max(h.ts);
        let at = self.steps.partition_point(|s| s.ts <= h.ts);
        self.steps.insert(at, step_of(h));
        self.engaged_ms += h.engaged_ms as u64;
        self.scroll_depth = self.scroll_depth.max(h.scroll_depth);
        self.dirty = true;
        self.touched = true;
    }

    /// Take in a later visit of the same visitor (a late hit closed the gap).
    fn absorb(&mut self, other: Visit) {
        if other.start < self.start {
            self.start = other.start;
            self.referrer_source = other.referrer_source;
            self.channel = other.channel;
            self.utm_campaign = other.utm_campaign;
            self.country = other.country;
            self.device = other.device;
        }
        self.end = self.end.max(other.end);
        let mut steps = std::mem::take(&mut self.steps);
        steps.extend(other.steps);
        steps.sort_by_key(|s| s.ts); // stable: earlier arrivals first
        self.steps = steps;
        self.engaged_ms += other.engaged_ms;
        self.scroll_depth = self.scroll_depth.max(other.scroll_depth);
        self.dirty = true;
    }

    /// Whether a hit at `ts` may join this visit.
    fn reaches(&self, ts: i64) -> bool {
        within_gap(self.end, ts) && within_gap(ts, self.start)
    }

    pub fn pageviews(&self) -> u32 {
        self.steps.iter().filter(|s| s.path().is_some()).count() as u32
    }

    /// Events, page views included (0 for a retraction).
    pub fn events(&self) -> u32 {
        if self.retracted {
            0
        } else {
            self.steps.len() as u32
        }
    }

    pub fn entry_page(&self) -> &str {
        self.steps.iter().find_map(Step::path).unwrap_or("")
    }

    pub fn exit_page(&self) -> &str {
        self.steps.iter().rev().find_map(Step::path).unwrap_or("")
    }

    /// When the visit can no longer be extended: 30 minutes after its last
    /// hit (to the end of that second), plus the grace for late arrivals.
    pub fn closes_at(&self) -> i64 {
        (sec(self.end) + VISIT_GAP_SECONDS + 1) * 1000 + GRACE_MS
    }

    /// Bytes counted against the cap.
    pub fn bytes(&self) -> usize {
        VISIT_OVERHEAD
            + self.site.len()
            + self.referrer_source.len()
            + self.channel.len()
            + self.utm_campaign.len()
            + self.country.len()
            + self.device.len()
            + self
                .steps
                .iter()
                .map(|s| STEP_OVERHEAD + s.name().len() + s.path().map_or(0, str::len))
                .sum::<usize>()
    }

    /// Hand the row's fields out in the `visits` column order
    /// ([`COLUMNS`]); the sink encodes them. No visitor data beyond what
    /// `sessions` holds: the daily pseudonymous id, paths, names, sources.
    pub fn write_columns(&self, w: &mut impl ColumnWriter) {
        w.string(&self.site);
        w.i64(self.start);
        w.u16(self.day.clamp(0, u16::MAX as i32) as u16);
        w.u64(self.visitor_id);
        w.i64(self.id);
        w.i64(self.end);
        if self.retracted {
            w.u32(0);
            w.u32(0);
        } else {
            w.u32(self.pageviews());
            w.u32(self.events());
        }
        w.string(self.entry_page());
        w.string(self.exit_page());
        for s in [
            &self.referrer_source,
            &self.channel,
            &self.utm_campaign,
            &self.country,
            &self.device,
        ] {
            w.string(s);
        }
        if self.retracted {
            w.str_array(0, &mut std::iter::empty());
            w.str_array(0, &mut std::iter::empty());
        } else {
            w.str_array(self.steps.len(), &mut self.steps.iter().map(Step::name));
            w.str_array(
                self.pageviews() as usize,
                &mut self.steps.iter().filter_map(Step::path),
            );
        }
        w.u64(self.engaged_ms);
        w.u8(self.scroll_depth);
        w.u8(self.closed as u8);
        w.u64(self.version);
    }
}

/// The `visits` columns, in the order [`Visit::write_columns`] hands them
/// out (site first and a time second, as in every logged row: purge
/// fences and the quarantine read them).
pub const COLUMNS: &str = "site, start, day, visitor_id, visit_id, end, pageviews, events, \
entry_page, exit_page, referrer_source, channel, utm_campaign, country, device, event_names, \
pages, engaged_ms, scroll_depth, closed, version";

/// The ClickHouse types of [`COLUMNS`] as a `Native` block declares them.
pub const TYPES: &[&str] = &[
    "String",
    "DateTime64(3, 'UTC')",
    "Date",
    "UInt64",
    "DateTime64(3, 'UTC')",
    "DateTime64(3, 'UTC')",
    "UInt32",
    "UInt32",
    "String",
    "String",
    "String",
    "String",
    "String",
    "String",
    "String",
    "Array(String)",
    "Array(String)",
    "UInt64",
    "UInt8",
    "UInt8",
    "UInt64",
];

/// A visit version as stored (in the engine or in the log), to be put
/// back in memory on start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stored {
    pub site: String,
    pub day: i32,
    pub visitor_id: u64,
    pub id: i64,
    pub start: i64,
    pub end: i64,
    pub referrer_source: String,
    pub channel: String,
    pub utm_campaign: String,
    pub country: String,
    pub device: String,
    pub event_names: Vec<String>,
    pub pages: Vec<String>,
    pub engaged_ms: u64,
    pub scroll_depth: u8,
    pub closed: bool,
    pub version: u64,
}

impl Stored {
    /// The visit in memory. The times of its hits are not stored: the
    /// first is put at the start and the others at the end, so hits that
    /// arrive from now on (later than all of them) go after them.
    pub fn into_visit(self) -> Visit {
        let mut pages = self.pages.into_iter();
        let steps = self
            .event_names
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let ts = if i == 0 { self.start } else { self.end };
                if name == "pageview" {
                    let page = pages.next().unwrap_or_default();
                    Step::new(ts, &name, Some(&page))
                } else {
                    Step::new(ts, &name, None)
                }
            })
            .collect::<Vec<_>>();
        Visit {
            retracted: steps.is_empty(),
            site: self.site,
            day: self.day,
            visitor_id: self.visitor_id,
            id: self.id,
            start: self.start,
            end: self.end,
            referrer_source: self.referrer_source,
            channel: self.channel,
            utm_campaign: self.utm_campaign,
            country: self.country,
            device: self.device,
            steps,
            engaged_ms: self.engaged_ms,
            scroll_depth: self.scroll_depth,
            closed: self.closed,
            version: self.version,
            dirty: false,
            touched: false,
        }
    }
}

fn step_of(h: &Hit<'_>) -> Step {
    Step::new(h.ts, h.name, h.is_pageview().then_some(h.pathname))
}

/// Counters of the open-visit table, for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Visits in memory now.
    pub open: AtomicI64,
    /// Bytes counted against the cap now.
    pub bytes: AtomicI64,
    /// Visits closed early at the memory cap.
    pub evicted: AtomicU64,
    /// Visits merged into an earlier one by a late hit.
    pub merged: AtomicU64,
    /// Visit versions handed to the log.
    pub versions: AtomicU64,
    /// Hits that had no visitor id (stored without consent): in no visit.
    pub anonymous_hits: AtomicU64,
    /// Visits the flushes looked at (changed, or due to close): what a
    /// flush costs, against `open`.
    pub examined: AtomicU64,
}

/// Hashes a visitor-day key for the shard's maps: visitor ids are keyed
/// hashes already (HMAC-SHA256 under the day's salt, uniform and
/// unpredictable without it), so a multiply and fold spreads them, where
/// the standard SipHash costs as much as the rest of a hit's lookup.
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

#[derive(Default)]
struct Shard {
    /// By (visitor id, day): that visitor-day's visits in memory, of any
    /// site (ids are per site, so nearly always one site and one visit).
    map: HashMap<(u64, i32), Vec<Visit>, KeyHash>,
    bytes: usize,
    /// Visits that left the map (closed early, retracted) with a version
    /// still to write.
    out: Vec<Visit>,
    /// Keys of the visitor-days changed since the last flush: a flush
    /// writes theirs, and looks at no other visit for changes.
    changed: HashSet<(u64, i32), KeyHash>,
    /// When a visitor-day may next have a visit to close: (no later than
    /// the earliest [`Visit::closes_at`] of its visits, key). Entries are
    /// not updated when a hit moves a close later; a flush that finds one
    /// early (or for a key gone) puts it back at the new time or drops it,
    /// so the queue holds about one entry per open visitor-day and a
    /// flush looks only at the visits due.
    closing: BinaryHeap<Reverse<(i64, (u64, i32))>>,
}

/// The open visits of this collector.
pub struct OpenVisits {
    shards: Vec<Mutex<Shard>>,
    /// Bytes per shard before the oldest visits are closed early.
    shard_cap: usize,
    pub stats: Stats,
    /// False for [`OpenVisits::inert`]: hits build no visit.
    live: bool,
}

impl OpenVisits {
    /// A table holding at most about `max_bytes` of visits.
    pub fn new(max_bytes: usize) -> OpenVisits {
        OpenVisits {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_cap: (max_bytes / SHARDS).max(VISIT_OVERHEAD * 4),
            stats: Stats::default(),
            live: true,
        }
    }

    /// A table that observes nothing: the sink stores events and no visit
    /// is built. The baseline of `make bench-visits` (collector and engine
    /// cost with and without live visits); `tacit serve` always builds them.
    pub fn inert() -> OpenVisits {
        OpenVisits {
            live: false,
            ..OpenVisits::new(1 << 20)
        }
    }

    /// Whether hits build visits (false for [`OpenVisits::inert`]): the
    /// sink reads a hit out of its row only for a live table.
    pub fn is_live(&self) -> bool {
        self.live
    }

    fn shard(&self, visitor_id: u64, day: i32) -> &Mutex<Shard> {
        let h = visitor_id ^ (day as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.shards[(h % SHARDS as u64) as usize]
    }

    /// One stored hit joins its visit (or starts one). Hits without a
    /// visitor id belong to no visit.
    pub fn observe(&self, h: &Hit<'_>) {
        if !self.live {
            return;
        }
        if h.visitor_id == 0 {
            self.stats.anonymous_hits.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let day = day_of(h.ts);
        let mut s = lock(self.shard(h.visitor_id, day));
        let s = &mut *s;
        let visits = s
            .map
            .entry((h.visitor_id, day))
            .or_insert_with(|| Vec::with_capacity(1));
        let before: usize = visits.iter().map(Visit::bytes).sum();
        let joins = |v: &Visit| v.site == h.site && v.reaches(h.ts);
        let mut opened = 0i64;
        // Nearly always one visit or none: the rare merge collects the rest.
        match visits.iter().filter(|v| joins(v)).count() {
            0 => {
                visits.push(Visit::first(h));
                opened = 1;
            }
            1 => {
                if let Some(v) = visits.iter_mut().find(|v| joins(v)) {
                    v.add(h);
                }
            }
            _ => {
                // The hit closes a gap: the earliest visit takes in the others.
                let mut hits: Vec<usize> =
                    (0..visits.len()).filter(|&i| joins(&visits[i])).collect();
                hits.sort_unstable_by(|a, b| b.cmp(a));
                let mut taken: Vec<Visit> = hits.iter().map(|&i| visits.remove(i)).collect();
                taken.sort_by_key(|v| v.start);
                let mut first = taken.remove(0);
                for v in taken {
                    if v.version > 0 {
                        // Its rows are in the engine: write a retraction.
                        let mut gone = v.clone();
                        gone.retracted = true;
                        gone.closed = true;
                        gone.steps = Vec::new();
                        s.out.push(gone);
                    }
                    first.absorb(v);
                    self.stats.merged.fetch_add(1, Ordering::Relaxed);
                    opened -= 1;
                }
                first.add(h);
                visits.push(first);
            }
        }
        let after: usize = visits.iter().map(Visit::bytes).sum();
        let key = (h.visitor_id, day);
        if opened > 0 {
            let at = visits.last().map_or(0, Visit::closes_at);
            s.closing.push(Reverse((at, key)));
        }
        s.changed.insert(key);
        s.bytes = s.bytes + after - before;
        self.stats.open.fetch_add(opened, Ordering::Relaxed);
        self.stats
            .bytes
            .fetch_add(after as i64 - before as i64, Ordering::Relaxed);
        if s.bytes > self.shard_cap {
            self.evict(s);
        }
    }

    /// Close the visits whose last hit is oldest until the shard is at 90 %
    /// of its cap: each gets its final version now.
    fn evict(&self, s: &mut Shard) {
        let mut by_end: Vec<(i64, (u64, i32))> = s
            .map
            .iter()
            .map(|(k, vs)| (vs.iter().map(|v| v.end).max().unwrap_or(0), *k))
            .collect();
        by_end.sort_unstable();
        let goal = self.shard_cap / 10 * 9;
        for (_, k) in by_end {
            if s.bytes <= goal {
                break;
            }
            let Some(vs) = s.map.remove(&k) else { continue };
            for mut v in vs {
                let b = v.bytes();
                s.bytes -= b;
                self.stats.bytes.fetch_sub(b as i64, Ordering::Relaxed);
                self.stats.open.fetch_sub(1, Ordering::Relaxed);
                self.stats.evicted.fetch_add(1, Ordering::Relaxed);
                v.closed = true;
                v.dirty = true;
                if v.touched {
                    s.out.push(v);
                }
            }
        }
    }

    /// Hand every visit with a new version to `emit` (each at most once per
    /// call: the flusher calls it every flush interval): the changed ones,
    /// the ones closed early and the retractions. The ones that can no
    /// longer be extended at `now_ms` are forgotten, written once more
    /// (`closed`) only if they changed since their last version. Versions are `now_ms`, or one more than the visit's
    /// last if the clock has not moved past it. It looks only at the
    /// visitor-days changed since the last call and those whose close time
    /// has come (the shard's change set and close queue), not at every
    /// open visit, so a flush costs what changed.
    pub fn drain(&self, now_ms: i64, mut emit: impl FnMut(&Visit)) -> usize {
        let mut n = 0;
        let mut examined = 0u64;
        let version = |v: &Visit| (now_ms.max(0) as u64).max(v.version + 1);
        for shard in &self.shards {
            let mut s = lock(shard);
            let s = &mut *s;
            for mut v in s.out.drain(..) {
                v.version = version(&v);
                emit(&v);
                n += 1;
            }
            let mut freed = 0usize;
            let mut closed = 0i64;
            // The visits whose close time has passed: their final version.
            while let Some(&Reverse((at, key))) = s.closing.peek() {
                if at > now_ms {
                    break;
                }
                s.closing.pop();
                let Some(vs) = s.map.get_mut(&key) else {
                    continue; // closed early, purged or merged away
                };
                examined += vs.len() as u64;
                vs.retain_mut(|v| {
                    if now_ms < v.closes_at() {
                        return true;
                    }
                    v.closed = true;
                    // A visit whose last version holds all its hits is
                    // closed by time (`end` + 30 min): no version to say so.
                    if v.dirty {
                        v.version = version(v);
                        v.dirty = false;
                        emit(v);
                        n += 1;
                    }
                    freed += v.bytes();
                    closed += 1;
                    false
                });
                match vs.iter().map(Visit::closes_at).min() {
                    Some(next) => s.closing.push(Reverse((next, key))),
                    None => {
                        s.map.remove(&key);
                    }
                }
            }
            // The changed ones still open: their new version.
            let changed = std::mem::take(&mut s.changed);
            for key in &changed {
                let Some(vs) = s.map.get_mut(key) else {
                    continue;
                };
                examined += vs.len() as u64;
                for v in vs.iter_mut().filter(|v| v.dirty) {
                    v.version = version(v);
                    v.dirty = false;
                    emit(v);
                    n += 1;
                }
            }
            s.changed = changed;
            s.changed.clear();
            s.bytes -= freed.min(s.bytes);
            self.stats.bytes.fetch_sub(freed as i64, Ordering::Relaxed);
            self.stats.open.fetch_sub(closed, Ordering::Relaxed);
        }
        self.stats.versions.fetch_add(n as u64, Ordering::Relaxed);
        self.stats.examined.fetch_add(examined, Ordering::Relaxed);
        n
    }

    /// Put back a visit read from a stored version (on start): it replaces
    /// the one in memory with the same key if its version is newer. A
    /// visit put back is not written again unless a hit here changes it
    /// (another collector may be the one extending it).
    pub fn restore(&self, mut v: Visit) {
        v.dirty = false;
        v.touched = false;
        let key = (v.visitor_id, v.day);
        let mut s = lock(self.shard(v.visitor_id, v.day));
        let s = &mut *s;
        let visits = s.map.entry(key).or_insert_with(|| Vec::with_capacity(1));
        let b = v.bytes() as i64;
        if v.closed || v.retracted {
            // Final: nothing can extend it any more.
            if let Some(i) = visits.iter().position(|o| o.site == v.site && o.id == v.id) {
                let o = visits.swap_remove(i);
                let ob = o.bytes();
                s.bytes -= ob.min(s.bytes);
                self.stats.bytes.fetch_sub(ob as i64, Ordering::Relaxed);
                self.stats.open.fetch_sub(1, Ordering::Relaxed);
            }
            if visits.is_empty() {
                s.map.remove(&key);
            }
            return;
        }
        if let Some(o) = visits.iter_mut().find(|o| o.site == v.site && o.id == v.id) {
            if o.version < v.version {
                let d = b - o.bytes() as i64;
                s.closing.push(Reverse((v.closes_at(), key)));
                *o = v;
                s.bytes = (s.bytes as i64 + d).max(0) as usize;
                self.stats.bytes.fetch_add(d, Ordering::Relaxed);
            }
            return;
        }
        let at = v.closes_at();
        visits.push(v);
        s.closing.push(Reverse((at, key)));
        s.bytes += b as usize;
        self.stats.bytes.fetch_add(b, Ordering::Relaxed);
        self.stats.open.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether a hit is already counted in a visit in memory: one of the
    /// same site and visitor-day reaches at least its time (for rows the
    /// log replays on start, which a stored version may hold already).
    pub fn covers(&self, h: &Hit<'_>) -> bool {
        let day = day_of(h.ts);
        let s = lock(self.shard(h.visitor_id, day));
        s.map.get(&(h.visitor_id, day)).is_some_and(|vs| {
            vs.iter()
                .any(|v| v.site == h.site && v.start <= h.ts && h.ts <= v.end)
        })
    }

    /// Forget the visits of `site` that started before `cutoff_ms` (a purge
    /// fence): they are not written again.
    pub fn purge(&self, site: &str, cutoff_ms: i64) -> usize {
        let mut n = 0;
        for shard in &self.shards {
            let mut s = lock(shard);
            let s = &mut *s;
            let mut freed = 0usize;
            s.map.retain(|_, vs| {
                vs.retain(|v| {
                    let gone = v.site == site && v.start < cutoff_ms;
                    if gone {
                        freed += v.bytes();
                        n += 1;
                    }
                    !gone
                });
                !vs.is_empty()
            });
            s.out.retain(|v| !(v.site == site && v.start < cutoff_ms));
            s.bytes -= freed.min(s.bytes);
            self.stats.bytes.fetch_sub(freed as i64, Ordering::Relaxed);
        }
        self.stats.open.fetch_sub(n as i64, Ordering::Relaxed);
        n
    }

    /// A copy of every visit in memory (tests, the restart check).
    pub fn snapshot(&self) -> Vec<Visit> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let s = lock(shard);
            out.extend(s.map.values().flatten().cloned());
        }
        out
    }
}

#[cfg(test)]
mod tests;
