//! The stored row in ClickHouse's `RowBinary` format, written straight from
//! an [`Event`]: this is what the write-ahead log keeps and what the sink
//! sends, byte for byte, so a row is encoded once per hit and never decoded
//! again on its way to the engine. The column list and the encoding are
//! checked against the engine by the integration tests that read every
//! column back (`tests/it/hits.rs`, `tests/it/enrich.rs`).

use super::Event;

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

impl Event {
    /// Append this row, `RowBinary`-encoded in [`COLUMNS`] order.
    pub fn write_row_binary(&self, out: &mut Vec<u8>) {
        string(out, &self.site);
        out.extend_from_slice(&self.ts.to_le_bytes());
        for s in [
            &self.name,
            &self.hostname,
            &self.pathname,
            &self.query,
            &self.referrer_host,
            &self.referrer_source,
        ] {
            string(out, s);
        }
        string(out, &self.channel);
        for s in [
            &self.utm_source,
            &self.utm_medium,
            &self.utm_campaign,
            &self.utm_content,
            &self.utm_term,
        ] {
            string(out, s);
        }
        out.extend_from_slice(&self.visitor_id.to_le_bytes());
        string(out, &self.consent);
        for s in [&self.ip_prefix, &self.country, &self.region, &self.city] {
            string(out, s);
        }
        for s in [
            &self.browser,
            &self.browser_version,
            &self.os,
            &self.os_version,
        ] {
            string(out, s);
        }
        string(out, &self.device);
        string(out, &self.language);
        out.extend_from_slice(&self.screen_width.to_le_bytes());
        string(out, &self.screen);
        strings(out, &self.prop_keys);
        strings(out, &self.prop_values);
        out.push(self.interactive);
        out.extend_from_slice(&self.revenue_amount.to_le_bytes());
        string(out, &self.revenue_currency);
        out.push(self.scroll_depth);
        out.extend_from_slice(&self.engaged_ms.to_le_bytes());
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
