//! Release only settled periods. A row reaches the database from a
//! collector's write-ahead log seconds after it was received, or hours
//! later after an outage; a release made before a period's rows have all
//! arrived would differ from a later count by exactly the late rows. Each
//! collector reports in `wal_watermarks` how far its log is delivered (the
//! receive time of the oldest row still in it). A period is settled when
//!
//! - every collector that reported within the last `settle_seconds` has
//!   reported, at least [`REPORT_MARGIN_MS`] after the period's end, a log
//!   holding no row received before that end; or
//! - no collector reported in that time (none running, or a CLI release on
//!   another machine), and `settle_seconds` have passed since the end.
//!
//! A collector that stopped reporting longer ago than `settle_seconds` is
//! not waited for: rows its log still holds arrive after the release.

use super::period::Period;
use super::ExportError;
use crate::model::clock::format_day;

/// A report counts for a period only if made this long after its end
/// (rows received just before the end may still be on their way into the
/// log file).
pub const REPORT_MARGIN_MS: i64 = 5_000;

#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, serde::Deserialize)]
pub struct Report {
    pub log_id: String,
    /// Milliseconds since the epoch.
    pub reported_ms: i64,
    pub oldest_ms: i64,
    pub rows_pending: u64,
}

/// Whether `period` is settled given the latest report of each collector
/// (pure); `Err` carries the reason.
pub fn decide(
    period_end_ms: i64,
    reports: &[Report],
    now_ms: i64,
    settle_ms: i64,
) -> Result<(), String> {
    let recent: Vec<&Report> = reports
        .iter()
        .filter(|r| r.reported_ms > now_ms - settle_ms)
        .collect();
    if recent.is_empty() {
        if now_ms >= period_end_ms + settle_ms {
            return Ok(());
        }
        return Err(format!(
            "no collector has reported its write-ahead log in the last {} s, so tacit waits settle_seconds ({} s) after the period's end, until {} UTC",
            settle_ms / 1000,
            settle_ms / 1000,
            time_label(period_end_ms + settle_ms)
        ));
    }
    for r in recent {
        let short = &r.log_id[..r.log_id.len().min(8)];
        if r.reported_ms < period_end_ms + REPORT_MARGIN_MS {
            return Err(format!(
                "collector log {short} has not reported since the period ended (last report {} UTC)",
                time_label(r.reported_ms)
            ));
        }
        if r.rows_pending > 0 && r.oldest_ms < period_end_ms {
            return Err(format!(
                "collector log {short} still holds {} row(s), the oldest received {} UTC, before the period's end",
                r.rows_pending,
                time_label(r.oldest_ms)
            ));
        }
    }
    Ok(())
}

fn time_label(ms: i64) -> String {
    let day = ms.div_euclid(86_400_000) as i32;
    let s = ms.rem_euclid(86_400_000) / 1000;
    format!(
        "{} {:02}:{:02}:{:02}",
        format_day(day),
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Refuse a period that is not settled.
pub async fn check(
    client: &clickhouse::Client,
    period: &Period,
    now_ms: i64,
    settle_ms: i64,
) -> Result<(), ExportError> {
    let reports: Vec<Report> = client
        .query(
            "SELECT log_id, toInt64(toUnixTimestamp64Milli(max(w.reported_at))) AS reported_ms,
                    toInt64(toUnixTimestamp64Milli(argMax(w.oldest_pending, w.reported_at))) AS oldest_ms,
                    argMax(w.pending, w.reported_at) AS rows_pending
             FROM wal_watermarks AS w
             WHERE w.reported_at > fromUnixTimestamp64Milli({since:Int64}, 'UTC')
             GROUP BY log_id ORDER BY log_id",
        )
        .param("since", now_ms - settle_ms)
        .fetch_all()
        .await?;
    decide(period.end as i64 * 86_400_000, &reports, now_ms, settle_ms).map_err(|reason| {
        ExportError::NotSettled {
            period: period.label.clone(),
            reason,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const END: i64 = 1_000 * 86_400_000;
    const SETTLE: i64 = 300_000;

    fn r(id: &str, at: i64, oldest: i64, pending: u64) -> Report {
        Report {
            log_id: id.into(),
            reported_ms: at,
            oldest_ms: oldest,
            rows_pending: pending,
        }
    }

    #[test]
    fn without_reports_the_settle_time_decides() {
        assert!(decide(END, &[], END + SETTLE - 1, SETTLE)
            .unwrap_err()
            .contains("settle_seconds"));
        assert!(decide(END, &[], END + SETTLE, SETTLE).is_ok());
        // A report older than the settle time is not waited for.
        let old = [r("a", END - SETTLE - 10, END - SETTLE - 20, 9)];
        assert!(decide(END, &old, END + SETTLE, SETTLE).is_ok());
    }

    #[test]
    fn reports_settle_a_period_early_or_hold_it() {
        let now = END + 60_000;
        let clear = r("aaaaaaaaaa", END + 10_000, END + 10_000, 0);
        let later_rows = r("bbbbbbbbbb", END + 10_000, END + 2_000, 40);
        assert!(decide(END, &[clear.clone(), later_rows.clone()], now, SETTLE).is_ok());
        let stuck = r("cccccccccc", END + 10_000, END - 1, 3);
        let e = decide(END, &[clear.clone(), stuck], now, SETTLE).unwrap_err();
        assert!(e.contains("cccccccc still holds 3 row(s)"), "{e}");
        let early = r("dddddddddd", END + 1_000, END + 1_000, 0);
        let e = decide(END, &[clear, early], now, SETTLE).unwrap_err();
        assert!(e.contains("has not reported since"), "{e}");
    }
}
