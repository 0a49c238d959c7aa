//! Logged rows (`RowBinary`, one after another) turned into one ClickHouse
//! `Native` block for the insert. The engine parses a columnar block several
//! times faster than the same rows in `RowBinary` (measured on the local
//! engine: 1.6 µs of engine CPU per event against 7.5 µs), and the
//! conversion is a single pass of copies: each field is appended to its
//! column as it is read, strings keep their `RowBinary` encoding (a varint
//! length and the bytes, as `Native` wants them), arrays are split into
//! their offsets and their elements.
//!
//! Block layout (no compression of its own; the HTTP body is compressed):
//! number of columns and of rows (varints), then per column its name, its
//! type (both length-prefixed) and its data.

/// How a column is read from a row and written to the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    /// A string: varint length and bytes.
    Str,
    /// A fixed-width little-endian value.
    Fixed(usize),
    /// An array of strings: varint count, then the strings.
    ArrStr,
}

fn col_of(ty: &str) -> Option<Col> {
    Some(match ty {
        "String" => Col::Str,
        "Array(String)" => Col::ArrStr,
        "UInt8" => Col::Fixed(1),
        "UInt16" | "Date" => Col::Fixed(2),
        "UInt32" => Col::Fixed(4),
        "UInt64" | "Decimal(18, 6)" | "DateTime64(3, 'UTC')" => Col::Fixed(8),
        _ => return None,
    })
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Read a varint at `*at`, advancing it.
#[inline]
fn read_varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    // Most lengths and counts fit one byte.
    let first = *buf.get(*at)?;
    if first < 0x80 {
        *at += 1;
        return Some(first as u64);
    }
    let (mut n, mut shift) = (0u64, 0u32);
    loop {
        let b = *buf.get(*at)?;
        *at += 1;
        n |= ((b & 0x7f) as u64).checked_shl(shift)?;
        if b < 0x80 {
            return Some(n);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Copy one string (varint length and bytes) from `buf` at `*at` to `out`.
#[inline]
fn copy_str(buf: &[u8], at: &mut usize, out: &mut Vec<u8>) -> Option<()> {
    let start = *at;
    let len = read_varint(buf, at)? as usize;
    let end = at.checked_add(len)?;
    out.extend_from_slice(buf.get(start..end)?);
    *at = end;
    Some(())
}

/// The `Native` block of `rows` (`RowBinary` rows whose columns are
/// `names` with ClickHouse `types`; `bytes` of them in all, to size the
/// columns), or `None` if a row does not parse or a type is not one this
/// encoder knows.
pub fn block<'a>(
    names: &[&str],
    types: &[&str],
    rows: impl Iterator<Item = &'a [u8]>,
    bytes: usize,
) -> Option<Vec<u8>> {
    let cols: Vec<Col> = types.iter().map(|t| col_of(t)).collect::<Option<_>>()?;
    if names.len() != cols.len() {
        return None;
    }
    COLUMNS.with(|c| {
        let (data, offsets) = &mut *c.borrow_mut();
        // The columns of the last block, cleared: their memory is already
        // mapped (fresh buffers of a batch's size cost page faults).
        data.resize_with(cols.len(), Vec::new);
        offsets.resize_with(cols.len(), Vec::new);
        for (d, o) in data.iter_mut().zip(offsets.iter_mut()) {
            d.clear();
            o.clear();
            d.reserve(bytes / cols.len() + 16);
        }
        encode(names, types, &cols, rows, data, offsets)
    })
}

/// Each column's data, and each array column's offsets.
type Columns = (Vec<Vec<u8>>, Vec<Vec<u64>>);

thread_local! {
    /// Column buffers reused from block to block (the writer's thread).
    static COLUMNS: std::cell::RefCell<Columns> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

fn encode<'a>(
    names: &[&str],
    types: &[&str],
    cols: &[Col],
    rows: impl Iterator<Item = &'a [u8]>,
    data: &mut [Vec<u8>],
    offsets: &mut [Vec<u64>],
) -> Option<Vec<u8>> {
    let mut n = 0u64;
    for row in rows {
        let mut at = 0usize;
        let rows = row;
        for (k, c) in cols.iter().enumerate() {
            match *c {
                Col::Str => copy_str(rows, &mut at, &mut data[k])?,
                Col::Fixed(w) => {
                    data[k].extend_from_slice(rows.get(at..at.checked_add(w)?)?);
                    at += w;
                }
                Col::ArrStr => {
                    let count = read_varint(rows, &mut at)?;
                    for _ in 0..count {
                        copy_str(rows, &mut at, &mut data[k])?;
                    }
                    let prev = offsets[k].last().copied().unwrap_or(0);
                    offsets[k].push(prev + count);
                }
            }
        }
        if at != rows.len() {
            return None;
        }
        n += 1;
    }
    let size: usize = data.iter().map(Vec::len).sum::<usize>()
        + offsets.iter().map(|o| o.len() * 8).sum::<usize>()
        + 64 * cols.len();
    let mut out = Vec::with_capacity(size);
    varint(&mut out, cols.len() as u64);
    varint(&mut out, n);
    for (k, c) in cols.iter().enumerate() {
        for s in [names[k], types[k]] {
            varint(&mut out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        if *c == Col::ArrStr {
            for o in &offsets[k] {
                out.extend_from_slice(&o.to_le_bytes());
            }
        }
        out.extend_from_slice(&data[k]);
    }
    if data.iter().map(Vec::capacity).sum::<usize>() > 256 << 20 {
        // Do not keep the memory of an unusually large block.
        data.iter_mut().for_each(|d| *d = Vec::new());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_columns() {
        // Two rows of (String, UInt16, Array(String)).
        let mut rows = Vec::new();
        for (s, w, arr) in [("ab", 7u16, vec!["x"]), ("c", 9u16, vec![])] {
            varint(&mut rows, s.len() as u64);
            rows.extend_from_slice(s.as_bytes());
            rows.extend_from_slice(&w.to_le_bytes());
            varint(&mut rows, arr.len() as u64);
            for a in &arr {
                varint(&mut rows, a.len() as u64);
                rows.extend_from_slice(a.as_bytes());
            }
        }
        let split = 3 + 2 + 3; // the first row's bytes
        let two = || [&rows[..split], &rows[split..]].into_iter();
        let types = ["String", "UInt16", "Array(String)"];
        let b = block(&["s", "w", "a"], &types, two(), rows.len()).unwrap();
        let mut want = vec![3u8, 2];
        want.extend_from_slice(b"\x01s\x06String\x02ab\x01c");
        want.extend_from_slice(b"\x01w\x06UInt16\x07\x00\x09\x00");
        want.extend_from_slice(b"\x01a\x0dArray(String)");
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(b"\x01x");
        assert_eq!(b, want);
        // A cut row, an unknown type: no block.
        let cut = [&rows[..split], &rows[split..rows.len() - 1]].into_iter();
        assert_eq!(block(&["s", "w", "a"], &types, cut, rows.len()), None);
        let joined = std::iter::once(&rows[..]);
        assert_eq!(
            block(&["s", "w", "a"], &types, joined, rows.len()),
            None,
            "one row per slice"
        );
        assert_eq!(block(&["s"], &["Float64"], two(), rows.len()), None);
    }
}
