//! Release periods: `2026-11` (a month), `2026-W47` (an ISO week) or
//! `2026-11-27` (a day), as half-open ranges of UTC days.

use super::spec::Granularity;
use crate::clock::civil_from_days;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// As the partner wrote it, normalized.
    pub label: String,
    /// First UTC day (days since 1970-01-01), inclusive.
    pub start: i32,
    /// Day after the last, exclusive.
    pub end: i32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

fn num(s: &str, digits: usize) -> Option<u32> {
    (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Monday of ISO week 1 of `year`.
fn iso_week1(year: i64) -> i32 {
    let jan4 = days_from_civil(year, 1, 4);
    // 1970-01-01 was a Thursday: weekday 0 = Monday.
    let weekday = (jan4 + 3).rem_euclid(7);
    jan4 - weekday
}

/// Parse a period of the export's granularity.
pub fn parse(s: &str, g: Granularity) -> Result<Period, String> {
    let bad = || {
        format!(
            "period {s:?} is not a {}: expected {}",
            match g {
                Granularity::Month => "month",
                Granularity::Week => "week",
                Granularity::Day => "day",
            },
            match g {
                Granularity::Month => "YYYY-MM, e.g. 2026-11",
                Granularity::Week => "YYYY-Www, e.g. 2026-W47",
                Granularity::Day => "YYYY-MM-DD, e.g. 2026-11-27",
            }
        )
    };
    match g {
        Granularity::Month => {
            let (y, m) = s.split_once('-').ok_or_else(bad)?;
            let (y, m) = (num(y, 4).ok_or_else(bad)?, num(m, 2).ok_or_else(bad)?);
            if !(1..=12).contains(&m) {
                return Err(bad());
            }
            let start = days_from_civil(y as i64, m, 1);
            let end = if m == 12 {
                days_from_civil(y as i64 + 1, 1, 1)
            } else {
                days_from_civil(y as i64, m + 1, 1)
            };
            Ok(Period {
                label: format!("{y:04}-{m:02}"),
                start,
                end,
            })
        }
        Granularity::Week => {
            let (y, w) = s.split_once("-W").ok_or_else(bad)?;
            let (y, w) = (num(y, 4).ok_or_else(bad)?, num(w, 2).ok_or_else(bad)?);
            let weeks = (iso_week1(y as i64 + 1) - iso_week1(y as i64)) / 7;
            if w == 0 || w as i32 > weeks {
                return Err(bad());
            }
            let start = iso_week1(y as i64) + (w as i32 - 1) * 7;
            Ok(Period {
                label: format!("{y:04}-W{w:02}"),
                start,
                end: start + 7,
            })
        }
        Granularity::Day => {
            let mut it = s.splitn(3, '-');
            let (y, m, d) = (
                num(it.next().unwrap_or(""), 4).ok_or_else(bad)?,
                num(it.next().unwrap_or(""), 2).ok_or_else(bad)?,
                num(it.next().unwrap_or(""), 2).ok_or_else(bad)?,
            );
            let start = days_from_civil(y as i64, m, d);
            if civil_from_days(start as i64) != (y as i64, m, d) {
                return Err(bad());
            }
            Ok(Period {
                label: format!("{y:04}-{m:02}-{d:02}"),
                start,
                end: start + 1,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::format_day;

    #[test]
    fn months_weeks_days() {
        let p = parse("2026-11", Granularity::Month).unwrap();
        assert_eq!(
            (format_day(p.start), format_day(p.end)),
            ("2026-11-01".into(), "2026-12-01".into())
        );
        let p = parse("2026-12", Granularity::Month).unwrap();
        assert_eq!(format_day(p.end), "2027-01-01");
        // ISO 8601: 2026-W01 starts Monday 2025-12-29; 2026-W53 exists.
        let p = parse("2026-W01", Granularity::Week).unwrap();
        assert_eq!(format_day(p.start), "2025-12-29");
        assert!(parse("2026-W53", Granularity::Week).is_ok());
        assert!(parse("2025-W53", Granularity::Week).is_err());
        let p = parse("2024-02-29", Granularity::Day).unwrap();
        assert_eq!(p.end - p.start, 1);
        for bad in ["2026-13", "26-11", "2026-11-31", "2026-1"] {
            assert!(
                parse(bad, Granularity::Month).is_err() || bad.len() == 10,
                "{bad}"
            );
        }
        assert!(parse("2026-11-31", Granularity::Day).is_err());
        assert!(parse("2026-11", Granularity::Day)
            .unwrap_err()
            .contains("YYYY-MM-DD"));
    }
}
