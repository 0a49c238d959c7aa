//! How far ClickHouse has acknowledged the log, and the batch in flight.
//!
//! Before a batch is sent, its range is written here and synced; after a
//! crash the same range is sent again with the same deduplication token, so
//! a batch whose insert committed but whose reply was lost is not stored
//! twice. The file has two 64-byte slots written alternately, each with a
//! sequence number and a CRC32C: a torn write damages one slot, and the
//! other still holds the previous state. The write and its sync run on a
//! blocking thread (`spawn_blocking`), never on the writer's runtime; the
//! new state counts only once they are done.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::log::Pos;

const SLOT: u64 = 64;

/// The persisted state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State {
    /// Everything before this is in ClickHouse.
    pub acked: Pos,
    /// A batch sent (or about to be) and not known to be acknowledged.
    pub inflight: Option<InFlight>,
}

/// The range of a batch in flight: its segment, and its start and end
/// offsets in it. Resent exactly as it was after a restart or a failure
/// (its deduplication token is made of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    pub seg: u64,
    pub start: u64,
    pub end: u64,
}

pub struct Cursor {
    file: Arc<File>,
    path: PathBuf,
    seq: u64,
    state: State,
}

fn encode(seq: u64, s: &State) -> [u8; SLOT as usize] {
    let mut b = [0u8; SLOT as usize];
    let (has, seg, start, end) = match s.inflight {
        Some(InFlight { seg, start, end }) => (1u64, seg, start, end),
        None => (0, 0, 0, 0),
    };
    for (i, v) in [seq, s.acked.seg, s.acked.off, has, seg, start, end]
        .into_iter()
        .enumerate()
    {
        b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    let crc = crc32c::crc32c(&b[..56]);
    b[56..60].copy_from_slice(&crc.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> Option<(u64, State)> {
    if b.len() < SLOT as usize {
        return None;
    }
    let crc = u32::from_le_bytes(b[56..60].try_into().ok()?);
    if crc32c::crc32c(&b[..56]) != crc {
        return None;
    }
    let v = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let inflight = (v(3) == 1).then(|| InFlight {
        seg: v(4),
        start: v(5),
        end: v(6),
    });
    Some((
        v(0),
        State {
            acked: Pos {
                seg: v(1),
                off: v(2),
            },
            inflight,
        },
    ))
}

/// The state in the cursor file at `path`, without creating it.
pub fn read(path: &Path) -> Option<State> {
    let buf = std::fs::read(path).ok()?;
    let n = buf.len();
    let slots = [
        decode(&buf[..n.min(SLOT as usize)]),
        decode(buf.get(SLOT as usize..).unwrap_or(&[])),
    ];
    slots
        .into_iter()
        .flatten()
        .max_by_key(|(seq, _)| *seq)
        .map(|(_, s)| s)
}

impl Cursor {
    /// Open the cursor file; a missing or unreadable one is the start of
    /// the log (`first`).
    pub fn open(path: &Path, first: Pos) -> std::io::Result<Cursor> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        let mut buf = [0u8; 2 * SLOT as usize];
        let n = file.read_at(&mut buf, 0).unwrap_or(0);
        let slots = [
            decode(&buf[..n.min(SLOT as usize)]),
            decode(&buf[SLOT as usize..n.max(SLOT as usize)]),
        ];
        let best = slots.into_iter().flatten().max_by_key(|(seq, _)| *seq);
        let (seq, state) = best.unwrap_or((
            0,
            State {
                acked: first,
                inflight: None,
            },
        ));
        Ok(Cursor {
            file: Arc::new(file),
            path: path.to_path_buf(),
            seq,
            state,
        })
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write a new state into the older slot; `sync` makes it durable
    /// before this returns. On a blocking thread; if this future is dropped
    /// midway, the state is not taken and the next `set` writes the same
    /// slot again.
    pub async fn set(&mut self, state: State, sync: bool) -> std::io::Result<()> {
        let seq = self.seq + 1;
        let slot = (seq % 2) * SLOT;
        let file = self.file.clone();
        let bytes = encode(seq, &state);
        tokio::task::spawn_blocking(move || {
            file.write_all_at(&bytes, slot)?;
            if sync {
                file.sync_data()?;
            }
            Ok::<(), std::io::Error>(())
        })
        .await
        .map_err(std::io::Error::other)??;
        self.seq = seq;
        self.state = state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn newest_valid_slot_wins_and_a_torn_slot_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cursor");
        let start = Pos { seg: 1, off: 16 };
        let mut c = Cursor::open(&p, start).unwrap();
        assert_eq!(c.state().acked, start);
        let a = State {
            acked: Pos { seg: 1, off: 100 },
            inflight: Some(InFlight {
                seg: 1,
                start: 100,
                end: 200,
            }),
        };
        let b = State {
            acked: Pos { seg: 1, off: 200 },
            inflight: None,
        };
        c.set(a, true).await.unwrap();
        c.set(b, true).await.unwrap();
        assert_eq!(Cursor::open(&p, start).unwrap().state(), b);
        // Tear the newest slot (b is seq 2, slot 0): the older one remains.
        let f = OpenOptions::new().write(true).open(&p).unwrap();
        f.write_all_at(&[0xff; 8], 8).unwrap();
        assert_eq!(Cursor::open(&p, start).unwrap().state(), a);
    }
}
