//! Plausible's CSV export (Site settings → Imports & exports): daily
//! aggregates, one file per table, named `imported_<table>[_<from>_<to>].csv`
//! or without the prefix. Read by column name, so older and newer column
//! sets (the pages file's `time_on_page`, `scroll_depth`,
//! `pageleave_visitors`, `total_scroll_depth…`, `total_time_on_page…`)
//! all work; a header-only or empty file adds nothing. They become rows of
//! the aggregate tier (`rollup_daily`, `rollup_visits_daily`), with the
//! site's policy applied to what they hold (paths redacted as live paths
//! are, location as coarse as `policy.location`, no referrer source if
//! `policy.referrer = "drop"`). No visitor ids exist in the export, so no
//! salt is involved. Counts per value are Plausible's (visitors of a value
//! summed over the rows that share it).

use std::collections::BTreeMap;
use std::io::BufRead;

use crate::config::{LocationRule, Policy, ReferrerRule};
use crate::privacy::url::{redact_path, redact_text};

/// The tables of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PlausibleFile {
    Visitors,
    Sources,
    Pages,
    EntryPages,
    ExitPages,
    CustomEvents,
    Locations,
    Devices,
    Browsers,
    OperatingSystems,
}

impl PlausibleFile {
    /// The table a file holds, from its name: `imported_pages_20240101_20241231.csv`,
    /// `pages.csv`, …; `None` for any other file.
    pub fn of_file(name: &str) -> Option<Self> {
        let stem = name.strip_suffix(".csv")?;
        let stem = stem.strip_prefix("imported_").unwrap_or(stem);
        // Date suffixes: `_YYYYMMDD_YYYYMMDD`.
        let mut base = stem;
        for _ in 0..2 {
            if let Some((head, tail)) = base.rsplit_once('_') {
                if tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit()) {
                    base = head;
                }
            }
        }
        Some(match base {
            "visitors" => PlausibleFile::Visitors,
            "sources" => PlausibleFile::Sources,
            "pages" => PlausibleFile::Pages,
            "entry_pages" => PlausibleFile::EntryPages,
            "exit_pages" => PlausibleFile::ExitPages,
            "custom_events" => PlausibleFile::CustomEvents,
            "locations" => PlausibleFile::Locations,
            "devices" => PlausibleFile::Devices,
            "browsers" => PlausibleFile::Browsers,
            "operating_systems" => PlausibleFile::OperatingSystems,
            _ => return None,
        })
    }
}

/// A row of `rollup_daily` (without site and version).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub pageviews: u64,
    pub events: u64,
    pub visitors: u64,
}

/// A row of `rollup_visits_daily` (without site and version).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Visits {
    pub visits: u64,
    pub bounces: u64,
    pub duration_s: f64,
    pub pageviews: u64,
}

/// An export's rows, summed by key: (day, dimension, value) and (day,
/// kind, value).
#[derive(Debug, Default)]
pub struct Aggregates {
    pub daily: BTreeMap<(i32, String, String), Counts>,
    pub visits: BTreeMap<(i32, String, String), Visits>,
    pub rows: u64,
}

/// What is wrong with a file (never quoting a value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct CsvError {
    pub line: u64,
    pub what: String,
}

/// Split a CSV stream into records (RFC 4180: quoted fields, `""` inside
/// quotes, newlines inside quotes).
pub struct Records<R> {
    input: R,
    pub line: u64,
    buf: String,
}

impl<R: BufRead> Records<R> {
    pub fn new(input: R) -> Self {
        Self {
            input,
            line: 0,
            buf: String::new(),
        }
    }

    /// The next record, or `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<Vec<String>>, CsvError> {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut any = false;
        loop {
            self.buf.clear();
            let n = self.input.read_line(&mut self.buf).map_err(|_| CsvError {
                line: self.line + 1,
                what: "not UTF-8 text".into(),
            })?;
            if n == 0 {
                if quoted {
                    return Err(CsvError {
                        line: self.line,
                        what: "a quoted field is not closed".into(),
                    });
                }
                if !any {
                    return Ok(None);
                }
                fields.push(field);
                return Ok(Some(fields));
            }
            self.line += 1;
            any = true;
            let mut chars = self.buf.chars().peekable();
            while let Some(c) = chars.next() {
                match (quoted, c) {
                    (true, '"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    (true, '"') => quoted = false,
                    (true, c) => field.push(c),
                    (false, '"') if field.is_empty() => quoted = true,
                    (false, ',') => fields.push(std::mem::take(&mut field)),
                    (false, '\r' | '\n') => {}
                    (false, c) => field.push(c),
                }
            }
            if !quoted {
                if fields.is_empty() && field.is_empty() {
                    // A blank line.
                    any = false;
                    continue;
                }
                fields.push(field);
                return Ok(Some(fields));
            }
        }
    }
}

fn day_of_text(s: &str) -> Option<i32> {
    jiff::civil::Date::strptime("%Y-%m-%d", s.trim())
        .ok()
        .map(crate::model::clock::day_of_date)
}

/// Read one file of `table` into `agg`, with `policy` applied; `open_from`:
/// days from this one on are skipped (collected live), counted in
/// `skipped`.
pub fn read(
    table: PlausibleFile,
    input: impl BufRead,
    policy: &Policy,
    open_from: i32,
    agg: &mut Aggregates,
    skipped: &mut u64,
) -> Result<(), CsvError> {
    let mut records = Records::new(input);
    let Some(header) = records.next_record()? else {
        return Ok(());
    };
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let need = |name: &str| {
        col(name).ok_or_else(|| CsvError {
            line: 1,
            what: format!("no column {name}"),
        })
    };
    let date = need("date")?;
    while let Some(r) = records.next_record()? {
        let line = records.line;
        let text = |i: Option<usize>| i.and_then(|i| r.get(i)).map_or("", |s| s.as_str());
        let num = |name: &str| -> Result<u64, CsvError> {
            let s = text(col(name)).trim();
            if s.is_empty() {
                return Ok(0);
            }
            // Durations can be written as decimals.
            s.parse::<u64>()
                .or_else(|_| s.parse::<f64>().map(|f| f.max(0.0).round() as u64))
                .map_err(|_| CsvError {
                    line,
                    what: format!("{name} is not a number"),
                })
        };
        let day = day_of_text(text(Some(date))).ok_or_else(|| CsvError {
            line,
            what: "date is not YYYY-MM-DD".into(),
        })?;
        agg.rows += 1;
        if day >= open_from {
            *skipped += 1;
            continue;
        }
        let mut daily = |dim: &str, value: &str, c: Counts| {
            let e = agg
                .daily
                .entry((day, dim.to_string(), value.to_string()))
                .or_default();
            e.pageviews += c.pageviews;
            e.events += c.events;
            e.visitors += c.visitors;
        };
        let pv = num("pageviews")?;
        let visitors = num("visitors")?;
        let counts = Counts {
            pageviews: pv,
            events: pv,
            visitors,
        };
        let visit = Visits {
            visits: num("visits")?,
            bounces: num("bounces")?,
            duration_s: num("visit_duration")? as f64,
            pageviews: pv,
        };
        match table {
            PlausibleFile::Visitors => {
                daily("all", "", counts);
                add_visits(agg, day, "all", "", visit);
            }
            PlausibleFile::Sources => {
                if policy.referrer == ReferrerRule::Host {
                    daily(
                        "referrer_source",
                        &redact_text(text(col("source"))),
                        counts.clone(),
                    );
                }
                for utm in [
                    "utm_source",
                    "utm_medium",
                    "utm_campaign",
                    "utm_content",
                    "utm_term",
                ] {
                    let v = text(col(utm));
                    let v = if utm == "utm_medium" {
                        v.to_ascii_lowercase()
                    } else {
                        v.to_string()
                    };
                    daily(utm, &redact_text(&v), counts.clone());
                }
            }
            PlausibleFile::Pages => {
                daily("pathname", &page(text(col("page")), policy), counts.clone());
                daily("hostname", &host(text(col("hostname"))), counts);
            }
            PlausibleFile::EntryPages => {
                let v = Visits {
                    visits: num("entrances")?,
                    ..visit
                };
                add_visits(
                    agg,
                    day,
                    "entry_page",
                    &page(text(col("entry_page")), policy),
                    v,
                );
            }
            PlausibleFile::ExitPages => {
                let v = Visits {
                    visits: num("exits")?,
                    ..visit
                };
                add_visits(
                    agg,
                    day,
                    "exit_page",
                    &page(text(col("exit_page")), policy),
                    v,
                );
            }
            PlausibleFile::CustomEvents => {
                let events = num("events")?;
                let name = redact_text(text(col("name")));
                daily(
                    "event",
                    &name,
                    Counts {
                        pageviews: 0,
                        events,
                        visitors,
                    },
                );
                // The day's total counts every event.
                daily(
                    "all",
                    "",
                    Counts {
                        pageviews: 0,
                        events,
                        visitors: 0,
                    },
                );
            }
            PlausibleFile::Locations => {
                if policy.location >= LocationRule::Country {
                    daily("country", text(col("country")).trim(), counts.clone());
                }
                if policy.location >= LocationRule::Region {
                    daily("region", text(col("region")).trim(), counts);
                }
            }
            PlausibleFile::Devices => {
                // Plausible's device is the screen size class.
                daily(
                    "screen",
                    &text(col("device")).trim().to_ascii_lowercase(),
                    counts,
                );
            }
            PlausibleFile::Browsers => daily("browser", text(col("browser")).trim(), counts),
            PlausibleFile::OperatingSystems => {
                daily("os", text(col("operating_system")).trim(), counts)
            }
        }
    }
    Ok(())
}

fn add_visits(agg: &mut Aggregates, day: i32, kind: &str, value: &str, v: Visits) {
    let e = agg
        .visits
        .entry((day, kind.to_string(), value.to_string()))
        .or_default();
    e.visits += v.visits;
    e.bounces += v.bounces;
    e.duration_s += v.duration_s;
    e.pageviews += v.pageviews;
}

fn page(p: &str, policy: &Policy) -> String {
    let p = p.trim();
    if policy.redact_paths {
        redact_path(p)
    } else {
        p.to_string()
    }
}

fn host(h: &str) -> String {
    let h = h.trim().to_ascii_lowercase();
    h.strip_prefix("www.").map(str::to_string).unwrap_or(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_with_and_without_prefix_and_dates() {
        assert_eq!(
            PlausibleFile::of_file("imported_pages_20240101_20241231.csv"),
            Some(PlausibleFile::Pages)
        );
        assert_eq!(
            PlausibleFile::of_file("entry_pages.csv"),
            Some(PlausibleFile::EntryPages)
        );
        assert_eq!(
            PlausibleFile::of_file("imported_operating_systems.csv"),
            Some(PlausibleFile::OperatingSystems)
        );
        assert_eq!(PlausibleFile::of_file("notes.txt"), None);
        assert_eq!(PlausibleFile::of_file("imported_other.csv"), None);
    }

    #[test]
    fn csv_records_with_quotes_and_newlines() {
        let text = "a,b,c\n\"x,1\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n\n1,,3";
        let mut r = Records::new(text.as_bytes());
        assert_eq!(r.next_record().unwrap().unwrap(), ["a", "b", "c"]);
        assert_eq!(
            r.next_record().unwrap().unwrap(),
            ["x,1", "say \"hi\"", "two\nlines"]
        );
        assert_eq!(r.next_record().unwrap().unwrap(), ["1", "", "3"]);
        assert_eq!(r.next_record().unwrap(), None);
        assert!(Records::new("\"open".as_bytes()).next_record().is_err());
    }
}
