//! The assigner's table: one shard's entries in a flat open-addressing hash
//! table (linear probing, deletion by backward shift, no tombstones) of
//! 24-byte [`Slot`]s. A lookup reads the slot its visitor id hashes to and,
//! rarely, the next few: about one cache miss per hit, where a `HashMap` of
//! 48-byte entries took two (its control bytes, then the entry) over twice
//! the memory. The table grows by doubling up to the shard's share of
//! `sink.visits_max_bytes`, at most 80 % full, and shrinks after a sweep
//! that left it under 20 % full.

/// Bytes of one slot.
pub const SLOT_BYTES: usize = std::mem::size_of::<Slot>();

/// Slots of a new (or shrunk) table.
pub const MIN_SLOTS: usize = 64;

/// One visitor's newest visit on one site and day. `vid` 0 is an empty
/// slot (a hit without a visitor id never gets an entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Slot {
    /// The daily visitor id, whole (never a hash of it).
    pub vid: u64,
    /// The visit id stamped on the visit's hits.
    pub id: u64,
    /// The last hit, in whole seconds since the epoch (the day of the entry
    /// is this second's UTC day: an entry holds hits of one day only).
    pub end: u32,
    /// Seconds from the first hit to the last, at most `u16::MAX` (18.2
    /// hours): a longer visit is kept as if it began `u16::MAX` seconds
    /// before its last hit, so a hit more than 30 minutes before that gets
    /// an id of its own (a split the views merge, never a join over a gap).
    pub span: u16,
    /// 16 bits of the site's hash ([`super::site_tag`]).
    pub tag: u16,
}

impl Slot {
    /// The first hit (s).
    pub fn start(&self) -> i64 {
        self.end as i64 - self.span as i64
    }

    /// The UTC day of the entry.
    pub fn day(&self) -> i32 {
        (self.end as i64).div_euclid(86_400) as i32
    }

    /// Take in a hit at `t` (s).
    pub fn widen(&mut self, t: u32) {
        let start = self.start().min(t as i64);
        self.end = self.end.max(t);
        self.span = (self.end as i64 - start).min(u16::MAX as i64) as u16;
    }
}

/// Spreads a visitor id over 64 bits (ids in tests are small integers).
pub fn mix(vid: u64) -> u64 {
    let mut z = vid ^ (vid >> 33);
    z = z.wrapping_mul(0xff51_afd7_ed55_8ccd);
    z ^ (z >> 33)
}

/// A shard's entries.
#[derive(Debug, Default)]
pub struct Table {
    slots: Vec<Slot>,
    len: usize,
}

impl Table {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Slots allocated.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The slot a visitor id's probe starts at (the high 32 bits of its
    /// mix, scaled to the capacity: any capacity, not only powers of two).
    fn home(&self, vid: u64) -> usize {
        (((mix(vid) >> 32) * self.slots.len() as u64) >> 32) as usize
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() {
            0
        } else {
            i + 1
        }
    }

    /// The index of the entry of (`vid`, `tag`, `day`).
    pub fn find(&self, vid: u64, tag: u16, day: i32) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = self.home(vid);
        loop {
            let s = &self.slots[i];
            if s.vid == 0 {
                return None;
            }
            if s.vid == vid && s.tag == tag && s.day() == day {
                return Some(i);
            }
            i = self.next(i);
        }
    }

    pub fn get(&self, i: usize) -> Slot {
        self.slots[i]
    }

    pub fn get_mut(&mut self, i: usize) -> &mut Slot {
        &mut self.slots[i]
    }

    /// Add an entry known to be absent, growing the table (up to
    /// `max_slots`) to stay at most 80 % full. The caller keeps the entries
    /// under 80 % of `max_slots` (the shard's cap), so a slot is always
    /// free.
    pub fn insert(&mut self, slot: Slot, max_slots: usize) {
        if (self.len + 1) * 5 > self.slots.len() * 4 {
            let want = (self.slots.len() * 2).clamp(MIN_SLOTS, max_slots.max(MIN_SLOTS));
            if want > self.slots.len() {
                self.resize(want);
            }
        }
        debug_assert!(self.len < self.slots.len());
        let mut i = self.home(slot.vid);
        while self.slots[i].vid != 0 {
            i = self.next(i);
        }
        self.slots[i] = slot;
        self.len += 1;
    }

    /// Remove the entry at `i`: the entries after it in its run whose probe
    /// starts at or before the hole move back into it, so every entry stays
    /// reachable from its home without tombstones.
    pub fn remove_at(&mut self, mut i: usize) {
        self.len -= 1;
        let mut j = i;
        loop {
            j = self.next(j);
            let s = self.slots[j];
            if s.vid == 0 {
                break;
            }
            let k = self.home(s.vid);
            // `s` may fill the hole at `i` unless its home lies cyclically
            // in (i, j].
            let stays = if i <= j {
                i < k && k <= j
            } else {
                i < k || k <= j
            };
            if !stays {
                self.slots[i] = s;
                i = j;
            }
        }
        self.slots[i] = Slot::default();
    }

    /// Keep the entries for which `keep` holds; returns how many were
    /// removed. An entry moved back into a hole is looked at again, and
    /// entries move only back towards the scan, so none is skipped.
    pub fn retain(&mut self, mut keep: impl FnMut(&Slot) -> bool) -> usize {
        let before = self.len;
        for i in 0..self.slots.len() {
            while self.slots[i].vid != 0 && !keep(&self.slots[i]) {
                self.remove_at(i);
            }
        }
        before - self.len
    }

    /// Give back memory after a sweep left the table under 20 % full:
    /// rebuilt at 40 % full (at least [`MIN_SLOTS`]).
    pub fn shrink(&mut self) {
        if self.slots.len() > MIN_SLOTS && self.len * 5 < self.slots.len() {
            self.resize((self.len * 5 / 2).max(MIN_SLOTS));
        }
    }

    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); slots]);
        self.len = 0;
        for s in old.into_iter().filter(|s| s.vid != 0) {
            let mut i = self.home(s.vid);
            while self.slots[i].vid != 0 {
                i = self.next(i);
            }
            self.slots[i] = s;
            self.len += 1;
        }
    }

    /// The entries (tests, eviction).
    pub fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|s| s.vid != 0)
    }
}
