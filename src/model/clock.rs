//! The injected clock: every piece of logic that needs the date or a
//! timestamp (salt rotation, event times, export periods, retention) asks a
//! [`Clock`] handed to it, so tests can move time by hand. Elapsed-time
//! measurements (batch age, timeouts, rate limits) use the monotonic
//! `Instant` and are not injected. Also the UTC day helpers.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(now_ms: i64) -> Self {
        Self(Arc::new(AtomicI64::new(now_ms)))
    }
    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// Days since the Unix epoch (UTC) for a millisecond timestamp.
pub fn day_of(ms: i64) -> i32 {
    ms.div_euclid(86_400_000) as i32
}

/// The calendar date of a day number since the epoch (UTC).
pub fn date_of_day(day: i32) -> jiff::civil::Date {
    EPOCH
        .checked_add(jiff::Span::new().days(day as i64))
        .unwrap_or(if day < 0 {
            jiff::civil::Date::MIN
        } else {
            jiff::civil::Date::MAX
        })
}

/// The day number since the epoch of a calendar date.
pub fn day_of_date(d: jiff::civil::Date) -> i32 {
    (d - EPOCH).get_days()
}

const EPOCH: jiff::civil::Date = jiff::civil::date(1970, 1, 1);

/// `YYYY-MM-DD` for a day number since the epoch (proleptic Gregorian).
pub fn format_day(day: i32) -> String {
    date_of_day(day).to_string()
}

/// (year, month, day) of a day number since the epoch.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let d = date_of_day(z as i32);
    (d.year() as i64, d.month() as u32, d.day() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_format_as_calendar_dates() {
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_day(day_of(1_795_737_600_000)), "2026-11-27");
        assert_eq!(format_day(day_of(951_782_400_000)), "2000-02-29");
        assert_eq!(day_of(-1), -1);
        for day in [-800_000, -1, 0, 11_016, 20_419, 2_000_000] {
            assert_eq!(day_of_date(date_of_day(day)), day);
        }
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(5);
        assert_eq!(c.now_ms(), 5);
        c.advance(10);
        assert_eq!(c.now_ms(), 15);
        c.set(1);
        assert_eq!(c.now_ms(), 1);
    }
}
