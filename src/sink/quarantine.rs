//! Rows ClickHouse refused as invalid: appended, framed as in the log
//! (an email row with its tag), to `quarantine.wal` beside the log, for an
//! operator to inspect. They are counted; the log moves past them.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::record;
use crate::metrics::Metrics;
use crate::privacy::row::{Table, EMAIL_TAG};

/// Append one refused row (as sent to `table`) to the quarantine file.
pub fn keep(path: &Path, table: Table, row: &[u8], metrics: &Metrics) {
    let mut payload = Vec::with_capacity(row.len() + 1);
    if table == Table::EmailEvents {
        payload.push(EMAIL_TAG);
    }
    payload.extend_from_slice(row);
    let mut framed = Vec::with_capacity(payload.len() + record::FRAME);
    record::frame(&mut framed, &payload);
    let result = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| {
            f.write_all(&framed)?;
            f.sync_data()
        });
    if let Err(io) = result {
        tracing::error!(error = %io, "cannot write the quarantine file");
    }
    metrics.rows_quarantined.fetch_add(1, Ordering::Relaxed);
}
