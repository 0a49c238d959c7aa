//! The stored row in ClickHouse's `RowBinary` format, written straight from
//! an [`Event`] (or an [`EmailEvent`], behind a one-byte tag): this is what
//! the write-ahead log keeps and what the sink sends, byte for byte, so a
//! row is encoded once per hit and never decoded again on its way to the
//! engine. An events row starts with its site (a non-empty string, so a
//! first byte of at least 1); an email row starts with the tag 0, which
//! the writer strips. The column list and the encoding are
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
        match payload.split_first() {
            Some((&EMAIL_TAG, rest)) => (InsertTable::EmailEvents, rest),
            _ => (InsertTable::Events, payload),
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
];

/// The types of [`EMAIL_COLUMNS`], in order.
const EMAIL_TYPES: &[&str] = &[S, TS, S, S, S, S, S, "UInt64", S, S, S, S];

/// A row the sink can log and send.
pub trait StoredRow {
    fn write_row_binary(&self, out: &mut Vec<u8>);
}

impl StoredRow for Event {
    /// This row, `RowBinary`-encoded in [`COLUMNS`] order.
    fn write_row_binary(&self, out: &mut Vec<u8>) {
        self.write_columns(&mut RowBinary(out));
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

/// The `email_events` columns, in the order [`EmailEvent::write_row_binary`]
/// writes them (after the tag).
pub const EMAIL_COLUMNS: &str = "site, ts, kind, campaign, variant, link_host, link_path, \
visitor_id, consent, class, machine, operator";

/// The `events` columns, in the order [`Event::write_row_binary`] writes them.
pub const COLUMNS: &str = "site, ts, name, hostname, pathname, query, referrer_host, \
referrer_source, channel, utm_source, utm_medium, utm_campaign, utm_content, utm_term, \
visitor_id, consent, ip_prefix, country, region, city, browser, browser_version, os, \
os_version, device, language, screen_width, screen, prop_keys, prop_values, interactive, \
revenue_amount, revenue_currency, scroll_depth, engaged_ms";

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
        let names: Vec<String> = COLUMNS.split(',').map(|c| c.trim().to_string()).collect();
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
