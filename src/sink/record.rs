//! The write-ahead log's on-disk framing. A segment file starts with a
//! 16-byte header (`TACITWAL`, format version, reserved), then records:
//! a little-endian `u32` payload length, a `u32` CRC32C of the payload, and
//! the payload (one `events` row in `RowBinary`, or a 0 tag and one
//! `email_events` row; see `sink::row`). A reader accepts every
//! whole record up to the first one that is short or fails its checksum:
//! that is a torn tail (a crash mid-write) or damage, and nothing after it
//! is trusted.

pub const MAGIC: &[u8; 8] = b"TACITWAL";
pub const VERSION: u32 = 1;
/// Bytes before the first record of a segment.
pub const HEADER: u64 = 16;
/// Bytes of framing before each payload.
pub const FRAME: usize = 8;
/// No stored row comes near this; a larger length is damage.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// The segment header.
pub fn header() -> [u8; HEADER as usize] {
    let mut h = [0u8; HEADER as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Whether `h` is a segment header this version reads.
pub fn valid_header(h: &[u8]) -> bool {
    h.len() >= HEADER as usize && &h[..8] == MAGIC && h[8..12] == VERSION.to_le_bytes()
}

/// Append one framed record.
pub fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What [`next`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// A whole record: its payload and its framed length.
    Record(&'a [u8], usize),
    /// The buffer ends inside a record (or is empty).
    Short,
    /// A length or checksum that cannot be right.
    Damaged,
}

/// Read the record at the start of `buf`.
pub fn next(buf: &[u8]) -> Next<'_> {
    if buf.len() < FRAME {
        return Next::Short;
    }
    let len = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
    if len == 0 || len > MAX_PAYLOAD {
        return Next::Damaged;
    }
    if buf.len() < FRAME + len {
        return Next::Short;
    }
    let payload = &buf[FRAME..FRAME + len];
    if crc32c::crc32c(payload) != crc {
        return Next::Damaged;
    }
    Next::Record(payload, FRAME + len)
}

/// Bytes of `buf` made of whole, valid records, and how many records.
pub fn valid_prefix(buf: &[u8]) -> (usize, u64) {
    let (mut at, mut n) = (0, 0);
    while let Next::Record(_, used) = next(&buf[at..]) {
        at += used;
        n += 1;
    }
    (at, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_tears_are_found() {
        let mut b = Vec::new();
        frame(&mut b, b"one");
        frame(&mut b, b"two!");
        assert_eq!(valid_prefix(&b), (b.len(), 2));
        assert_eq!(next(&b), Next::Record(b"one", FRAME + 3));
        // A tear anywhere in the second record keeps exactly the first.
        for cut in FRAME + 3..b.len() {
            assert_eq!(valid_prefix(&b[..cut]), (FRAME + 3, 1), "cut at {cut}");
        }
        // A flipped payload bit fails the checksum.
        let mut bad = b.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(valid_prefix(&bad), (FRAME + 3, 1));
        assert_eq!(next(&bad[FRAME + 3..]), Next::Damaged);
        assert!(valid_header(&header()));
        assert!(!valid_header(b"TACITWAX\x01\0\0\0\0\0\0\0"));
    }
}
