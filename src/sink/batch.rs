//! A batch of the writer: the whole records of one segment range as read
//! from the log (framing included, never copied row by row), where each
//! row is in it, and the table its rows go to (a batch never mixes
//! tables).

use bytes::Bytes;

use super::record;
use crate::sink::row::InsertTable;

/// Records of one segment range, ready to send.
pub struct Batch {
    pub seg: u64,
    /// Log offset where each record starts, and where the last one ends.
    pub offsets: Vec<u64>,
    /// Where each row (its payload, without an email tag) is in `raw`.
    pub spans: Vec<(usize, usize)>,
    /// The records as read from the log, framing included.
    pub raw: Bytes,
    pub first_ts_ms: Option<i64>,
    /// The table of every row (a batch never mixes tables).
    pub table: InsertTable,
    /// The end of the range as it was sent before, when that range can no
    /// longer be read whole (recovery cut a damaged tail off): the rows
    /// left are sent under the old range's token.
    pub sent_end: Option<u64>,
}

impl Batch {
    /// The whole records at the start of `buf` (read at log offset `a` of
    /// segment `seg`), at most `max_rows`, stopping where the table changes.
    pub fn frame(buf: &[u8], seg: u64, a: u64, max_rows: usize) -> Batch {
        let mut offsets = vec![a];
        let mut spans = Vec::new();
        let mut first_ts_ms = None;
        let mut table = None;
        let mut i = 0;
        while offsets.len() <= max_rows {
            let record::Next::Record(payload, used) = record::next(&buf[i..]) else {
                break;
            };
            let (t, row) = InsertTable::of(payload);
            if *table.get_or_insert(t) != t {
                break;
            }
            if first_ts_ms.is_none() {
                first_ts_ms = row_ts(payload);
            }
            spans.push((i + used - row.len(), i + used));
            i += used;
            offsets.push(a + i as u64);
        }
        Batch {
            seg,
            offsets,
            spans,
            raw: Bytes::copy_from_slice(&buf[..i]),
            first_ts_ms,
            table: table.unwrap_or(InsertTable::Events),
            sent_end: None,
        }
    }

    /// The log position of the batch's first row.
    pub fn start(&self) -> super::log::Pos {
        super::log::Pos {
            seg: self.seg,
            off: self.offsets[0],
        }
    }

    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }
    pub fn range(&self, i: usize, j: usize) -> (u64, u64) {
        (self.offsets[i], self.offsets[j])
    }
    /// Row `r` as the engine reads it (`RowBinary`).
    pub fn row(&self, r: usize) -> &[u8] {
        let (a, z) = self.spans[r];
        &self.raw[a..z]
    }
    /// Rows `i..j`, and their bytes.
    #[cfg(test)]
    pub fn slices(&self, i: usize, j: usize) -> (impl Iterator<Item = &[u8]>, usize) {
        let bytes = self.spans[i..j].iter().map(|(a, z)| z - a).sum();
        ((i..j).map(move |r| self.row(r)), bytes)
    }
}

/// `ts` of a `RowBinary` events row.
pub fn row_ts(payload: &[u8]) -> Option<i64> {
    crate::sink::row::site_and_ts(payload).map(|(_, ts)| ts)
}
