//! Release periods: `2026-11` (a month), `2026-W47` (an ISO 8601 week) or
//! `2026-11-27` (a day), as half-open ranges of UTC days. Calendar rules
//! (month lengths, leap years, ISO weeks) come from `jiff`.

use jiff::civil::{Date, ISOWeekDate, Weekday};

use crate::config::exports::Granularity;
use crate::model::clock::day_of_date;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// As the partner wrote it, normalized.
    pub label: String,
    /// First UTC day (days since 1970-01-01), inclusive.
    pub start: i32,
    /// Day after the last, exclusive.
    pub end: i32,
}

/// A period label that does not name a period of the export's granularity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("period {text:?} is not a {granularity}: expected {}", example(*.granularity))]
pub struct PeriodError {
    pub text: String,
    pub granularity: Granularity,
}

fn example(g: Granularity) -> &'static str {
    match g {
        Granularity::Month => "YYYY-MM, e.g. 2026-11",
        Granularity::Week => "YYYY-Www, e.g. 2026-W47",
        Granularity::Day => "YYYY-MM-DD, e.g. 2026-11-27",
    }
}

/// Exactly `digits` ASCII digits.
fn num(s: &str, digits: usize) -> Option<i16> {
    (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn month(s: &str) -> Option<(Date, Date)> {
    let (y, m) = s.split_once('-')?;
    let start = Date::new(num(y, 4)?, num(m, 2)? as i8, 1).ok()?;
    Some((start, start.last_of_month().tomorrow().ok()?))
}

fn week(s: &str) -> Option<(Date, Date)> {
    let (y, w) = s.split_once("-W")?;
    let start = ISOWeekDate::new(num(y, 4)?, num(w, 2)? as i8, Weekday::Monday)
        .ok()?
        .date();
    Some((start, start.checked_add(jiff::Span::new().days(7)).ok()?))
}

fn day(s: &str) -> Option<(Date, Date)> {
    let mut it = s.splitn(3, '-');
    let (y, m, d) = (
        num(it.next()?, 4)?,
        num(it.next()?, 2)?,
        num(it.next()?, 2)?,
    );
    let start = Date::new(y, m as i8, d as i8).ok()?;
    Some((start, start.tomorrow().ok()?))
}

/// Parse a period of the export's granularity.
pub fn parse(s: &str, g: Granularity) -> Result<Period, PeriodError> {
    let range = match g {
        Granularity::Month => month(s),
        Granularity::Week => week(s),
        Granularity::Day => day(s),
    };
    let (start, end) = range.ok_or_else(|| PeriodError {
        text: s.to_string(),
        granularity: g,
    })?;
    let label = match g {
        Granularity::Month => format!("{:04}-{:02}", start.year(), start.month()),
        Granularity::Week => {
            let w = start.iso_week_date();
            format!("{:04}-W{:02}", w.year(), w.week())
        }
        Granularity::Day => start.to_string(),
    };
    Ok(Period {
        label,
        start: day_of_date(start),
        end: day_of_date(end),
    })
}

/// A period label of any granularity (`2026-11`, `2026-W47`, `2026-11-27`).
pub fn parse_any(s: &str) -> Option<Period> {
    let g = if s.contains("-W") {
        Granularity::Week
    } else if s.len() == 7 {
        Granularity::Month
    } else {
        Granularity::Day
    };
    parse(s, g).ok()
}

/// The days a time dimension's value covers, as cells show it: a date
/// (`2026-11-27`), the Monday of a week, or a month (`2026-11`).
pub fn key_range(g: Granularity, key: &str) -> Option<(i32, i32)> {
    let (start, end) = match g {
        Granularity::Month => month(key)?,
        Granularity::Day => day(key)?,
        Granularity::Week => {
            let (start, _) = day(key)?;
            (start, start.checked_add(jiff::Span::new().days(7)).ok()?)
        }
    };
    Some((day_of_date(start), day_of_date(end)))
}

/// The ISO week label (`2026-W47`) of the week holding `day`.
pub fn week_label(day: i32) -> String {
    let w = crate::model::clock::date_of_day(day).iso_week_date();
    format!("{:04}-W{:02}", w.year(), w.week())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::clock::format_day;

    #[test]
    fn months_weeks_days() {
        let p = parse("2026-11", Granularity::Month).unwrap();
        assert_eq!(
            (format_day(p.start), format_day(p.end)),
            ("2026-11-01".into(), "2026-12-01".into())
        );
        let p = parse("2026-12", Granularity::Month).unwrap();
        assert_eq!(format_day(p.end), "2027-01-01");
        let p = parse("2024-02", Granularity::Month).unwrap();
        assert_eq!(p.end - p.start, 29);
        // ISO 8601: 2026-W01 starts Monday 2025-12-29; 2026-W53 exists.
        let p = parse("2026-W01", Granularity::Week).unwrap();
        assert_eq!(format_day(p.start), "2025-12-29");
        assert_eq!(p.end - p.start, 7);
        assert!(parse("2026-W53", Granularity::Week).is_ok());
        assert!(parse("2025-W53", Granularity::Week).is_err());
        assert_eq!(week_label(p.start + 6), "2026-W01");
        let p = parse("2024-02-29", Granularity::Day).unwrap();
        assert_eq!(p.end - p.start, 1);
        assert_eq!(p.label, "2024-02-29");
    }

    #[test]
    fn malformed_periods_are_refused_with_the_expected_form() {
        for bad in ["2026-13", "26-11", "2026-1", "2026-00", "2026-11-01", "x"] {
            assert!(parse(bad, Granularity::Month).is_err(), "{bad}");
        }
        for bad in ["2026-W00", "2026-W5", "2026-47", "2026-11"] {
            assert!(parse(bad, Granularity::Week).is_err(), "{bad}");
        }
        for bad in ["2026-11-31", "2023-02-29", "2026-11", "2026-11-1"] {
            assert!(parse(bad, Granularity::Day).is_err(), "{bad}");
        }
        assert!(parse("2026-11", Granularity::Day)
            .unwrap_err()
            .to_string()
            .contains("YYYY-MM-DD"));
    }
}
