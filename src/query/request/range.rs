//! `date_range` and `include.comparisons`: a range name, a pair of dates
//! or of datetimes, resolved against the injected clock (`Context`) to the
//! UTC days it touches and, when finer than whole days, its exact span.
//!
//! The sub-day ranges follow Plausible: `realtime` is the last five
//! minutes (current visitors), `30m` the last thirty minutes, by minute
//! (the realtime graph), `24h` the last twenty-four hours, by hour. Both
//! graphs are aligned to whole buckets: `30m` starts at the minute 29
//! minutes before the current one, `24h` at the hour 23 hours before the
//! current one, so each has exactly 30 or 24 buckets, the last one in
//! progress.

use serde_json::{json, Value};

use crate::model::clock::{date_of_day, day_of_date, format_day};
use crate::query::{invalid, Context, QueryError, Range, MS_PER_DAY};

/// "Current" visitors: the last five minutes (`realtime`).
pub const REALTIME_MS: i64 = 5 * 60_000;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

pub(super) fn date(s: &str, field: &str) -> Result<i32, QueryError> {
    if s.len() != 10 {
        return Err(invalid(
            field,
            format!("expected a date YYYY-MM-DD or a datetime with its offset, got {s:?}"),
        ));
    }
    s.parse::<jiff::civil::Date>()
        .map(day_of_date)
        .map_err(|_| invalid(field, format!("not a date: {s:?}")))
}

/// An ISO 8601 datetime with its offset (`2026-03-01T12:00:00+01:00`), in
/// ms since the epoch.
fn datetime(s: &str, field: &str) -> Result<i64, QueryError> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            invalid(
                field,
                format!("not a datetime with an offset (2026-03-01T12:00:00+00:00): {s:?}"),
            )
        })
}

/// The first day of the month `back` months before the month of `day`.
pub(crate) fn month_start(day: i32, back: i32) -> i32 {
    let d = date_of_day(day);
    let months = d.year() as i32 * 12 + d.month() as i32 - 1 - back;
    let (y, m) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    day_of_date(jiff::civil::date(y as i16, m as i8, 1))
}

/// A pair of dates (whole days) or of datetimes (the exact span, its last
/// second included).
fn pair(a: &[Value], field: &str) -> Result<Range, QueryError> {
    let (Some(Value::String(x)), Some(Value::String(y)), 2) = (a.first(), a.get(1), a.len()) else {
        return Err(invalid(field, "two dates (or datetimes) as strings"));
    };
    let r = if x.len() == 10 && y.len() == 10 {
        Range::days_from(
            date(x, &format!("{field}[0]"))?,
            date(y, &format!("{field}[1]"))?,
        )
    } else {
        let start = datetime(x, &format!("{field}[0]"))?;
        let last = datetime(y, &format!("{field}[1]"))?;
        if last < start {
            return Err(invalid(field, "the end is before the start"));
        }
        // The end names its last second: include all of it.
        Range::of_span(start, last.div_euclid(1000) * 1000 + 1000)
    };
    if r.to < r.from {
        return Err(invalid(field, "the end is before the start"));
    }
    Ok(r)
}

/// The range a sub-day name resolves to at `now` (ms): `realtime` is
/// `(now - 5 min, now]`; the graphs end with the bucket in progress (no
/// hit is stamped after now), so each is exactly 30 minutes or 24 hours
/// long and its previous period lines up bucket for bucket.
fn recent(name: &str, now: i64) -> Option<Range> {
    let aligned = |step: i64, n: i64| {
        let end = now.div_euclid(step) * step + step;
        Range::of_span(end - n * step, end)
    };
    Some(match name {
        "realtime" => Range::of_span(now + 1 - REALTIME_MS, now + 1),
        "30m" => aligned(MINUTE_MS, 30),
        "24h" => aligned(HOUR_MS, 24),
        _ => return None,
    })
}

pub(super) fn date_range(v: Option<&Value>, ctx: &Context) -> Result<Range, QueryError> {
    let today = ctx.today;
    let last_days = |n: i32| Range::days_from(today - n, today - 1);
    let months = |back: i32| Range::days_from(month_start(today, back), month_start(today, -1) - 1);
    let r = match v {
        None => return Err(invalid("date_range", "required")),
        Some(Value::String(s)) => match s.as_str() {
            "day" => Range::days_from(today, today),
            "7d" => last_days(7),
            "28d" => last_days(28),
            "30d" => last_days(30),
            "91d" => last_days(91),
            "month" => months(0),
            "6mo" => months(5),
            "12mo" => months(11),
            "year" => {
                let y = date_of_day(today).year();
                Range::days_from(
                    day_of_date(jiff::civil::date(y, 1, 1)),
                    day_of_date(jiff::civil::date(y, 12, 31)),
                )
            }
            "all" => Range::days_from(ctx.history_start(), today),
            name => match recent(name, ctx.now_ms) {
                Some(r) => r,
                None => return Err(invalid(
                    "date_range",
                    format!("unknown range {s:?}: realtime, 30m, 24h, day, 7d, 28d, 30d, 91d, month, 6mo, 12mo, year, all, or a pair of dates or datetimes"),
                )),
            },
        },
        Some(Value::Array(a)) => pair(a, "date_range")?,
        Some(_) => {
            return Err(invalid(
                "date_range",
                "a range name or a list of two dates",
            ))
        }
    };
    // The aggregate tier keeps at most 240 months (`all` reaches back that far).
    if r.days() > 240 * 31 + 1 {
        return Err(invalid("date_range", "at most twenty years"));
    }
    Ok(r)
}

/// The range as the answer's `query` echoes it: ISO datetimes, UTC.
pub(super) fn echo(r: Range) -> Value {
    let iso = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms.div_euclid(1000) * 1000)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string())
            .unwrap_or_default()
    };
    let (first, last) = r.bounds_ms();
    json!([iso(first), iso(last)])
}

/// The same calendar day a year earlier (29 February: the 28th).
fn year_before(day: i32) -> i32 {
    let d = date_of_day(day);
    let (y, m) = (d.year() - 1, d.month());
    let last = jiff::civil::date(y, m, 1).days_in_month();
    day_of_date(jiff::civil::date(y, m, d.day().min(last)))
}

/// `include.comparisons`: `{"mode": "previous_period" | "year_over_year"
/// | "custom", "date_range": [from, to] (custom), "match_day_of_week":
/// bool}`. As in Plausible, the compared range stops where the query's
/// stops being in the past (today), so a month in progress is compared
/// day for day. A sub-day range is compared with the span just before it
/// (or a year before it), bucket for bucket.
pub(super) fn comparison(
    v: &Value,
    range: Range,
    asked: Option<&Value>,
    ctx: &Context,
) -> Result<Range, QueryError> {
    let Value::Object(m) = v else {
        return Err(invalid("include.comparisons", "an object with a mode"));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["mode", "date_range", "match_day_of_week"].contains(&k.as_str()))
    {
        return Err(invalid(format!("include.comparisons.{k}"), "unknown field"));
    }
    if asked == Some(&json!("all")) {
        return Err(invalid(
            "include.comparisons",
            "\"all\" has nothing before it to compare with",
        ));
    }
    let match_weekday = match m.get("match_day_of_week") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(invalid(
                "include.comparisons.match_day_of_week",
                "true or false",
            ))
        }
    };
    let mode = m.get("mode").and_then(Value::as_str);
    if mode == Some("custom") {
        let Some(Value::Array(a)) = m.get("date_range") else {
            return Err(invalid(
                "include.comparisons.date_range",
                "two dates for the custom mode",
            ));
        };
        return pair(a, "include.comparisons.date_range");
    }
    if let Some(s) = range.span {
        // Back by whole days (weekday, year) or by the span's own length.
        let back_ms = match mode {
            Some("previous_period") if match_weekday => {
                let len_days = (s.end - s.start + MS_PER_DAY - 1) / MS_PER_DAY;
                (len_days + (7 - len_days % 7) % 7).max(7) * MS_PER_DAY
            }
            Some("previous_period") => s.end - s.start,
            Some("year_over_year") => {
                let back = range.from - year_before(range.from);
                let back = if match_weekday {
                    back + (7 - back % 7) % 7
                } else {
                    back
                };
                back as i64 * MS_PER_DAY
            }
            _ => return Err(mode_error()),
        };
        return Ok(Range::of_span(s.start - back_ms, s.end - back_ms));
    }
    let to = range.to.min(ctx.today).max(range.from);
    let len = to - range.from + 1;
    let shifted = |from: i32, to: i32| {
        // Back to the same weekday as the query's first day.
        let back = if match_weekday {
            (from - range.from).rem_euclid(7)
        } else {
            0
        };
        Range::days_from(from - back, to - back)
    };
    match mode {
        Some("previous_period") => Ok(shifted(range.from - len, range.from - 1)),
        Some("year_over_year") => Ok(shifted(year_before(range.from), year_before(to))),
        _ => Err(mode_error()),
    }
}

fn mode_error() -> QueryError {
    invalid(
        "include.comparisons.mode",
        "previous_period, year_over_year or custom",
    )
}

/// The labels of a time grain over `r`: every bucket, as the time
/// dimension prints it.
pub fn labels(r: Range, g: crate::query::Grain) -> Vec<String> {
    use crate::query::Grain;
    let fmt = |ms: i64, f: &str| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.strftime(f).to_string())
            .unwrap_or_default()
    };
    let (first, last) = r.bounds_ms();
    let mut out: Vec<String> = Vec::new();
    match g {
        Grain::Minute | Grain::Hour => {
            let (step, f) = if g == Grain::Minute {
                (MINUTE_MS, "%Y-%m-%d %H:%M:00")
            } else {
                (HOUR_MS, "%Y-%m-%d %H:00:00")
            };
            let mut t = first.div_euclid(step) * step;
            while t <= last {
                out.push(fmt(t, f));
                t += step;
            }
        }
        Grain::Day => out.extend((r.from..=r.to).map(format_day)),
        Grain::Week | Grain::Month => {
            for d in r.from..=r.to {
                let start = if g == Grain::Week {
                    monday(d)
                } else {
                    month_start(d, 0)
                };
                let label = format_day(start.max(r.from));
                if out.last() != Some(&label) {
                    out.push(label);
                }
            }
        }
    }
    out
}

/// The Monday on or before `day` (days since the epoch; day 0 was a
/// Thursday).
pub(crate) fn monday(day: i32) -> i32 {
    day - (day + 3).rem_euclid(7)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{Grain, Span};

    fn ctx() -> Context {
        Context {
            today: day_of_date(jiff::civil::date(2026, 3, 15)),
            now_ms: day_of_date(jiff::civil::date(2026, 3, 15)) as i64 * MS_PER_DAY
                + 14 * HOUR_MS
                + 7 * MINUTE_MS
                + 31_250,
            event_ttl_days: 30,
            aggregate_ttl_months: 25,
            keeps_region: true,
            keeps_city: false,
        }
    }

    fn r(v: Value) -> Range {
        date_range(Some(&v), &ctx()).unwrap()
    }

    fn days(v: Value) -> (String, String) {
        let r = r(v);
        (format_day(r.from), format_day(r.to))
    }

    #[test]
    fn ranges_resolve_to_utc_days() {
        assert_eq!(
            days(json!("day")),
            ("2026-03-15".into(), "2026-03-15".into())
        );
        assert_eq!(
            days(json!("7d")),
            ("2026-03-08".into(), "2026-03-14".into())
        );
        assert_eq!(
            days(json!("month")),
            ("2026-03-01".into(), "2026-03-31".into())
        );
        assert_eq!(
            days(json!("6mo")),
            ("2025-10-01".into(), "2026-03-31".into())
        );
        assert_eq!(
            days(json!("12mo")),
            ("2025-04-01".into(), "2026-03-31".into())
        );
        assert_eq!(
            days(json!("year")),
            ("2026-01-01".into(), "2026-12-31".into())
        );
        assert_eq!(
            days(json!(["2026-01-01", "2026-01-31"])),
            ("2026-01-01".into(), "2026-01-31".into())
        );
    }

    #[test]
    fn sub_day_ranges_end_now_in_whole_buckets() {
        let now = ctx().now_ms;
        let rt = r(json!("realtime"));
        assert_eq!(
            rt.span,
            Some(Span {
                start: now + 1 - REALTIME_MS,
                end: now + 1
            })
        );
        let m = r(json!("30m"));
        let l = labels(m, Grain::Minute);
        assert_eq!(l.len(), 30);
        assert_eq!(l[0], "2026-03-15 13:38:00");
        assert_eq!(l[29], "2026-03-15 14:07:00");
        let h = r(json!("24h"));
        let l = labels(h, Grain::Hour);
        assert_eq!(l.len(), 24);
        assert_eq!(l[0], "2026-03-14 15:00:00");
        assert_eq!(l[23], "2026-03-15 14:00:00");
        assert_eq!((h.from, h.to), (ctx().today - 1, ctx().today));
        // A pair of datetimes: the exact span, its last second included.
        let p = r(json!(["2026-03-01T23:30:00+01:00", "2026-03-02T00:29:59Z"]));
        assert_eq!(
            echo(p),
            json!(["2026-03-01T22:30:00+00:00", "2026-03-02T00:29:59+00:00"])
        );
        assert_eq!(labels(p, Grain::Hour).len(), 3);
        assert_eq!(
            (format_day(p.from), format_day(p.to)),
            ("2026-03-01".into(), "2026-03-02".into())
        );
        // Compared with the half hour before, bucket for bucket.
        let c = comparison(&json!({"mode": "previous_period"}), m, None, &ctx()).unwrap();
        let cl = labels(c, Grain::Minute);
        assert_eq!(cl.len(), 30);
        assert_eq!(cl[29], "2026-03-15 13:37:00");
    }

    #[test]
    fn comparisons_stop_where_the_query_does() {
        let cmp = |range: Value, how: Value| {
            let c = comparison(&how, r(range.clone()), Some(&range), &ctx()).unwrap();
            (format_day(c.from), format_day(c.to))
        };
        // A month in progress (today is the 15th): the first half of the
        // month before.
        assert_eq!(
            cmp(json!("month"), json!({"mode": "previous_period"})),
            ("2026-02-14".into(), "2026-02-28".into())
        );
        assert_eq!(
            cmp(json!("7d"), json!({"mode": "year_over_year"})),
            ("2025-03-08".into(), "2025-03-14".into())
        );
        // The same weekday: 2026-03-08 is a Sunday, so is 2025-03-02.
        assert_eq!(
            cmp(
                json!("7d"),
                json!({"mode": "year_over_year", "match_day_of_week": true})
            ),
            ("2025-03-02".into(), "2025-03-08".into())
        );
        assert_eq!(
            cmp(
                json!(["2026-03-02", "2026-03-04"]),
                json!({"mode": "previous_period", "match_day_of_week": true})
            ),
            ("2026-02-23".into(), "2026-02-25".into())
        );
    }

    #[test]
    fn labels_cover_the_range() {
        let q = Range::days_from(
            day_of_date(jiff::civil::date(2026, 2, 25)),
            day_of_date(jiff::civil::date(2026, 3, 10)),
        );
        assert_eq!(
            labels(q, Grain::Week),
            ["2026-02-25", "2026-03-02", "2026-03-09"]
        );
        assert_eq!(labels(q, Grain::Month), ["2026-02-25", "2026-03-01"]);
        assert_eq!(labels(q, Grain::Day).len(), 14);
        assert_eq!(labels(Range::days_from(5, 5), Grain::Hour).len(), 24);
        assert_eq!(monday(0), -3);
    }
}
