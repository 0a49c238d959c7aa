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

use super::csv::{field, CsvError, Header, Records};

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
    let header = Header::new(header);
    let date = header.need("date")?;
    while let Some(fields) = records.next_record()? {
        let row = Row {
            header: &header,
            fields: &fields,
            line: records.line,
        };
        let day = day_of_text(field(&fields, Some(date))).ok_or_else(|| CsvError {
            line: row.line,
            what: "date is not YYYY-MM-DD".into(),
        })?;
        agg.rows += 1;
        if day >= open_from {
            *skipped += 1;
            continue;
        }
        add_row(table, &row, policy, day, agg)?;
    }
    Ok(())
}

/// One record, its fields read by column name.
struct Row<'a> {
    header: &'a Header,
    fields: &'a [String],
    line: u64,
}

impl Row<'_> {
    fn text(&self, name: &str) -> &str {
        field(self.fields, self.header.col(name))
    }

    /// A count; empty is 0; durations can be written as decimals.
    fn num(&self, name: &str) -> Result<u64, CsvError> {
        let s = self.text(name).trim();
        if s.is_empty() {
            return Ok(0);
        }
        s.parse::<u64>()
            .or_else(|_| s.parse::<f64>().map(|f| f.max(0.0).round() as u64))
            .map_err(|_| CsvError {
                line: self.line,
                what: format!("{name} is not a number"),
            })
    }
}

fn add_daily(agg: &mut Aggregates, day: i32, dim: &str, value: &str, c: &Counts) {
    let e = agg
        .daily
        .entry((day, dim.to_string(), value.to_string()))
        .or_default();
    e.pageviews += c.pageviews;
    e.events += c.events;
    e.visitors += c.visitors;
}

/// What one record of `table` adds to `agg`.
fn add_row(
    table: PlausibleFile,
    row: &Row<'_>,
    policy: &Policy,
    day: i32,
    agg: &mut Aggregates,
) -> Result<(), CsvError> {
    let pv = row.num("pageviews")?;
    let counts = Counts {
        pageviews: pv,
        events: pv,
        visitors: row.num("visitors")?,
    };
    let visit = Visits {
        visits: row.num("visits")?,
        bounces: row.num("bounces")?,
        duration_s: row.num("visit_duration")? as f64,
        pageviews: pv,
    };
    let mut daily = |dim: &str, value: &str| add_daily(agg, day, dim, value, &counts);
    match table {
        PlausibleFile::Visitors => {
            daily("all", "");
            add_visits(agg, day, "all", "", visit);
        }
        PlausibleFile::Sources => {
            if policy.referrer == ReferrerRule::Host {
                daily("referrer_source", &redact_text(row.text("source")));
            }
            for utm in UTM_COLUMNS {
                let v = row.text(utm);
                let v = if utm == "utm_medium" {
                    v.to_ascii_lowercase()
                } else {
                    v.to_string()
                };
                daily(utm, &redact_text(&v));
            }
        }
        PlausibleFile::Pages => {
            daily("pathname", &page(row.text("page"), policy));
            daily("hostname", &host(row.text("hostname")));
        }
        PlausibleFile::EntryPages | PlausibleFile::ExitPages => {
            let (kind, count, col) = if table == PlausibleFile::EntryPages {
                ("entry_page", "entrances", "entry_page")
            } else {
                ("exit_page", "exits", "exit_page")
            };
            let v = Visits {
                visits: row.num(count)?,
                ..visit
            };
            add_visits(agg, day, kind, &page(row.text(col), policy), v);
        }
        PlausibleFile::CustomEvents => {
            let events = row.num("events")?;
            let name = redact_text(row.text("name"));
            let only = |events, visitors| Counts {
                pageviews: 0,
                events,
                visitors,
            };
            add_daily(agg, day, "event", &name, &only(events, counts.visitors));
            // The day's total counts every event.
            add_daily(agg, day, "all", "", &only(events, 0));
        }
        PlausibleFile::Locations => {
            if policy.location >= LocationRule::Country {
                daily("country", row.text("country").trim());
            }
            if policy.location >= LocationRule::Region {
                daily("region", row.text("region").trim());
            }
        }
        // Plausible's device is the screen size class.
        PlausibleFile::Devices => daily("screen", &row.text("device").trim().to_ascii_lowercase()),
        PlausibleFile::Browsers => daily("browser", row.text("browser").trim()),
        PlausibleFile::OperatingSystems => daily("os", row.text("operating_system").trim()),
    }
    Ok(())
}

const UTM_COLUMNS: [&str; 5] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
];

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
}
