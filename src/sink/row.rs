//! The stored row in ClickHouse's `RowBinary` format, written straight from
//! an [`Event`] (or an [`EmailEvent`], behind a one-byte tag): this is what
//! the write-ahead log keeps and what the sink sends, byte for byte, so a
//! row is encoded once per hit and never decoded again on its way to the
//! engine. An events row starts with its site (a non-empty string, so a
//! first byte of at least 1) and ends with its visit id (8 bytes, written
//! 0 and stamped by the sink before the row is logged: [`stamp`]); an
//! email row starts with the tag 0, which the writer strips. The column list and the encoding are
//! checked against the engine by the integration tests that read every
//! column back (`tests/it/hits.rs`, `tests/it/enrich.rs`).

use crate::model::row::ColumnWriter;
use crate::privacy::email::EmailEvent;
use crate::privacy::Event;

/// The table a logged row goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertTable {
    Events,
    EmailEvents,
}

impl InsertTable {
    /// The table a payload is for, and the payload as the engine reads it.
    pub fn of(payload: &[u8]) -> (InsertTable, &[u8]) {
        match payload {
            [EMAIL_TAG, rest @ ..] => (InsertTable::EmailEvents, rest),
            _ => (InsertTable::Events, payload),
        }
    }

    /// The bytes a logged row of this table starts with.
    pub fn tag(self) -> &'static [u8] {
        match self {
            InsertTable::Events => &[],
            InsertTable::EmailEvents => &[EMAIL_TAG],
        }
    }

    /// The insert statement for rows in `format` (`RowBinary` or `Native`).
    pub fn insert_sql(self, format: &str) -> String {
        match self {
            InsertTable::Events => format!("INSERT INTO events ({COLUMNS}) FORMAT {format}"),
            InsertTable::EmailEvents => {
                format!("INSERT INTO email_events ({EMAIL_COLUMNS}) FORMAT {format}")
            }
        }
    }

    /// The column names, in row order.
    pub fn columns(self) -> Vec<&'static str> {
        let list = match self {
            InsertTable::Events => COLUMNS,
            InsertTable::EmailEvents => EMAIL_COLUMNS,
        };
        list.split(',').map(str::trim).collect()
    }

    /// The column types a block declares (strings as `String`: the engine
    /// converts to the table's `LowCardinality` on insert).
    pub fn types(self) -> &'static [&'static str] {
        match self {
            InsertTable::Events => EVENT_TYPES,
            InsertTable::EmailEvents => EMAIL_TYPES,
        }
    }
}

const S: &str = "String";
const TS: &str = "DateTime64(3, 'UTC')";

/// The types of [`COLUMNS`], in order, as a `Native` block declares them.
const EVENT_TYPES: &[&str] = &[
    S,
    TS,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    "UInt64",
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    S,
    "UInt16",
    S,
    "Array(String)",
    "Array(String)",
    "UInt8",
    "Decimal(18, 6)",
    S,
    "UInt8",
    "UInt32",
    "UInt64",
];

/// The types of [`EMAIL_COLUMNS`], in order.
const EMAIL_TYPES: &[&str] = &[S, TS, S, S, S, S, S, "UInt64", S, S, S, S];

/// A row the sink can log and send.
pub trait StoredRow {
    fn write_row_binary(&self, out: &mut Vec<u8>);
    /// For an events row: its time (ms) and visitor id, of which its
    /// visit fragment id is made ([`stamp`]). `None` for other tables.
    fn visit_key(&self) -> Option<(i64, u64)> {
        None
    }
}

impl StoredRow for Event {
    /// This row, `RowBinary`-encoded in [`COLUMNS`] order, its visit id 0
    /// (the sink stamps it: [`stamp`]).
    fn write_row_binary(&self, out: &mut Vec<u8>) {
        self.write_columns(&mut RowBinary(out));
        out.extend_from_slice(&0u64.to_le_bytes());
    }
    fn visit_key(&self) -> Option<(i64, u64)> {
        Some(Event::visit_key(self))
    }
}

/// Write `visit_id` into an events row as [`Event::write_row_binary`]
/// wrote it (its last 8 bytes).
pub fn stamp(row: &mut [u8], visit_id: u64) {
    if let Some(at) = row.len().checked_sub(8) {
        row[at..].copy_from_slice(&visit_id.to_le_bytes());
    }
}

impl StoredRow for EmailEvent {
    /// The tag and this row, `RowBinary`-encoded in [`EMAIL_COLUMNS`] order.
    fn write_row_binary(&self, out: &mut Vec<u8>) {
        out.push(EMAIL_TAG);
        self.write_columns(&mut RowBinary(out));
    }
}

/// The first byte of a logged email row.
pub const EMAIL_TAG: u8 = 0;

/// A logged `events` row's visit (tests: a row in the log carries the id
/// the sink stamped, so a replay stores it unchanged).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamped<'a> {
    pub site: &'a str,
    pub ts: i64,
    pub visitor_id: u64,
    pub visit_id: u64,
}

/// The visit of a logged `events` row (`None` for another table's row, or
/// one that does not parse): the site and time (first), the visitor id (by
/// its place in [`COLUMNS`]) and the visit id (last).
#[cfg(test)]
pub fn stamped(payload: &[u8]) -> Option<Stamped<'_>> {
    let (InsertTable::Events, row) = InsertTable::of(payload) else {
        return None;
    };
    let mut r = Reader { buf: row, at: 0 };
    let site = r.string()?;
    let ts = r.i64()?;
    for _ in 0..12 {
        r.skip_string()?; // name .. utm_term
    }
    let visitor_id = r.u64()?;
    let visit_id = u64::from_le_bytes(row.get(row.len().checked_sub(8)?..)?.try_into().ok()?);
    Some(Stamped {
        site,
        ts,
        visitor_id,
        visit_id,
    })
}

/// Reads `RowBinary` fields in order.
#[cfg(test)]
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

#[cfg(test)]
impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let (mut n, mut shift) = (0u64, 0u32);
        loop {
            let b = *self.buf.get(self.at)?;
            self.at += 1;
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
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.bytes(n).map(|_| ())
    }
    fn string(&mut self) -> Option<&'a str> {
        let n = self.varint()? as usize;
        std::str::from_utf8(self.bytes(n)?).ok()
    }
    /// Past a string not read (not checked as UTF-8).
    fn skip_string(&mut self) -> Option<()> {
        let n = self.varint()? as usize;
        self.skip(n)
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
}

/// The `email_events` columns, in the order [`EmailEvent::write_row_binary`]
/// writes them (after the tag).
pub const EMAIL_COLUMNS: &str = "site, ts, kind, campaign, variant, link_host, link_path, \
visitor_id, consent, class, machine, operator";

/// The `events` columns, in the order [`Event::write_row_binary`] writes them.
pub const COLUMNS: &str = "site, ts, name, hostname, pathname, query, referrer_host, \
referrer_source, channel, utm_source, utm_medium, utm_campaign, utm_content, utm_term, \
visitor_id, consent, ip_prefix, country, region, city, browser, browser_version, os, \
os_version, device, language, screen_width, screen, prop_keys, prop_values, interactive, \
revenue_amount, revenue_currency, scroll_depth, engaged_ms, visit_id";

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn string(out: &mut Vec<u8>, s: &str) {
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn strings(out: &mut Vec<u8>, v: &[String]) {
    varint(out, v.len() as u64);
    for s in v {
        string(out, s);
    }
}

/// The site and time (ms) of a row as [`Event::write_row_binary`] wrote
/// it: the site string comes first, the timestamp second.
pub fn site_and_ts(payload: &[u8]) -> Option<(&[u8], i64)> {
    let (_, payload) = InsertTable::of(payload);
    let (mut len, mut shift, mut i) = (0usize, 0, 0);
    loop {
        let b = *payload.get(i)?;
        len = len.checked_add(((b & 0x7f) as usize).checked_shl(shift)?)?;
        i += 1;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    let site = payload.get(i..i.checked_add(len)?)?;
    let at = i + len;
    let ts = i64::from_le_bytes(payload.get(at..at + 8)?.try_into().ok()?);
    Some((site, ts))
}

/// `RowBinary` encoding of the fields a row hands out.
struct RowBinary<'a>(&'a mut Vec<u8>);

impl ColumnWriter for RowBinary<'_> {
    fn string(&mut self, s: &str) {
        string(self.0, s);
    }
    fn strings(&mut self, v: &[String]) {
        strings(self.0, v);
    }
    fn str_array(&mut self, len: usize, items: &mut dyn Iterator<Item = &str>) {
        varint(self.0, len as u64);
        for s in items.take(len) {
            string(self.0, s);
        }
    }
    fn i64(&mut self, n: i64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }
    fn u64(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }
    fn u32(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }
    fn u16(&mut self, n: u16) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }
    fn u8(&mut self, n: u8) {
        self.0.push(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_and_time_are_read_back() {
        let mut buf = Vec::new();
        Event::sample().write_row_binary(&mut buf);
        assert_eq!(
            site_and_ts(&buf),
            Some((&b"example.com"[..], 1_700_000_000_000))
        );
        assert_eq!(site_and_ts(&[0xff; 3]), None);
        assert_eq!(InsertTable::of(&buf), (InsertTable::Events, &buf[..]));
    }

    #[test]
    fn email_rows_carry_a_tag_the_writer_strips() {
        let ev = EmailEvent::sample();
        let mut buf = Vec::new();
        ev.write_row_binary(&mut buf);
        let (t, body) = InsertTable::of(&buf);
        assert_eq!((t, body.len()), (InsertTable::EmailEvents, buf.len() - 1));
        assert_eq!(
            site_and_ts(&buf),
            Some((&b"example.com"[..], 1_700_000_000_000))
        );
        let names: Vec<&str> = EMAIL_COLUMNS.split(',').map(str::trim).collect();
        let json = serde_json::to_string(&ev).unwrap();
        let mut last = 0;
        for n in &names {
            let at = json
                .find(&format!("\"{n}\":"))
                .unwrap_or_else(|| panic!("{n}"));
            assert!(at >= last, "{n} out of order");
            last = at;
        }
        assert_eq!(names.len(), 12);
    }

    #[test]
    fn a_logged_event_is_stamped_and_reads_back_its_visit() {
        let mut buf = Vec::new();
        let ev = Event::sample();
        ev.write_row_binary(&mut buf);
        let json = serde_json::to_value(&ev).unwrap();
        let h = stamped(&buf).expect("an events row");
        assert_eq!(h.site, json["site"]);
        assert_eq!(h.ts, 1_700_000_000_000);
        assert_eq!(h.visitor_id, json["visitor_id"]);
        assert_eq!(h.visit_id, 0, "written unassigned");
        stamp(&mut buf, 0x1234_5678_9abc_def0);
        let h2 = stamped(&buf).unwrap();
        assert_eq!(h2.visit_id, 0x1234_5678_9abc_def0);
        assert_eq!(site_and_ts(&buf), Some((h2.site.as_bytes(), h2.ts)));
        // The stamped row is a whole row of every column, visit_id last.
        let block = crate::sink::native::block(
            &InsertTable::Events.columns(),
            InsertTable::Events.types(),
            std::iter::once(&buf[..]),
            buf.len(),
        );
        assert!(block.is_some());
        let mut email = Vec::new();
        EmailEvent::sample().write_row_binary(&mut email);
        assert_eq!(stamped(&email), None);
    }

    #[test]
    fn varints_and_strings() {
        let mut v = Vec::new();
        varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        let mut v = Vec::new();
        string(&mut v, "ab");
        assert_eq!(v, [2, b'a', b'b']);
    }

    #[test]
    fn columns_are_the_event_fields_in_order() {
        // The serde field order of `Event` is the crate's column order.
        // visit_id, last, is the sink's (stamped), not a field of the event.
        let names: Vec<String> = COLUMNS
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| c != "visit_id")
            .collect();
        let ev = serde_json::to_string(&Event::sample()).unwrap();
        let mut last = 0;
        for n in &names {
            let at = ev
                .find(&format!("\"{n}\":"))
                .unwrap_or_else(|| panic!("{n}"));
            assert!(at >= last, "{n} out of order");
            last = at;
        }
        assert_eq!(names.len(), 35);
    }
}
