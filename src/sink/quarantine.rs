//! Rows ClickHouse refused as invalid, kept for an operator to inspect,
//! fix and re-send, and never longer than the event tier keeps rows.
//!
//! Files, under `<data_dir>/wal/quarantine/`: one per UTC day,
//! `YYYY-MM-DD.wal`, named after the day of the row's own time (`ts`), or
//! the day it was refused when the time cannot be read. A file starts with
//! a 16-byte header (`TACITQRN`, version 1), then records framed as in the
//! log (`record::frame`), each holding a `u16` little-endian length, the
//! refusal reason (as logged: `store::log_safe`, at most 200 bytes), and
//! the row exactly as the log held it (an email row with its tag). A day's
//! file is deleted once the day is `policy.event_ttl_days` old (the writer
//! checks when its injected clock's day changes, and every minute), so a
//! quarantined row lives no longer than the same row in `events`. `tacit purge --site`
//! removes the site's rows; `tacit quarantine list|replay|drop` inspects,
//! re-sends (never a row a purge fence keeps out) or deletes a day's file.
//!
//! The file of older versions, `wal/quarantine.wal` (bare records, no
//! reason), is moved into today's file the first time it is seen.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use sha2::{Digest, Sha256};

use super::record;
use crate::model::clock::{day_of, day_of_date, format_day};
use crate::sink::row::{site_and_ts, InsertTable};
use crate::telemetry::metrics::Metrics;

const MAGIC: &[u8; 8] = b"TACITQRN";
const VERSION: u32 = 1;
const HEADER: usize = 16;
/// The longest refusal reason kept, in bytes.
pub const MAX_REASON: usize = 200;
/// The file of versions before day files.
pub const LEGACY: &str = "quarantine.wal";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuarantineError {
    #[error("quarantine file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a quarantine file (bad header)")]
    BadHeader { path: PathBuf },
    #[error("no quarantine file for {0} (see `tacit quarantine list`)")]
    NoSuchDay(String),
    #[error("not a day (YYYY-MM-DD): {0:?}")]
    BadDay(String),
    #[error("clickhouse: {}", crate::store::log_safe(.0))]
    ClickHouse(#[from] clickhouse::error::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> QuarantineError + '_ {
    move |source| QuarantineError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The quarantine directory of the log at `wal_dir`.
pub fn dir(wal_dir: &Path) -> PathBuf {
    wal_dir.join("quarantine")
}

fn day_path(wal_dir: &Path, day: i32) -> PathBuf {
    dir(wal_dir).join(format!("{}.wal", format_day(day)))
}

fn parse_day(s: &str) -> Option<i32> {
    s.parse::<jiff::civil::Date>().ok().map(day_of_date)
}

/// One kept row: why it was refused, and the row as the log held it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub reason: String,
    /// The log payload: an email row starts with its tag.
    pub payload: Vec<u8>,
}

impl Entry {
    /// The row's site and time, when they can be read.
    pub fn site_and_ts(&self) -> Option<(String, i64)> {
        site_and_ts(&self.payload).map(|(s, ts)| (String::from_utf8_lossy(s).into_owned(), ts))
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let reason = cut(&self.reason, MAX_REASON);
        let mut p = Vec::with_capacity(2 + reason.len() + self.payload.len());
        p.extend_from_slice(&(reason.len() as u16).to_le_bytes());
        p.extend_from_slice(reason.as_bytes());
        p.extend_from_slice(&self.payload);
        record::frame(out, &p);
    }
}

fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn header() -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// The entries of one day file (a torn tail is ignored).
pub fn read(path: &Path) -> Result<Vec<Entry>, QuarantineError> {
    let bytes = fs::read(path).map_err(io(path))?;
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err(QuarantineError::BadHeader {
            path: path.to_path_buf(),
        });
    }
    let mut out = Vec::new();
    let mut at = HEADER;
    while let record::Next::Record(p, used) = record::next(&bytes[at..]) {
        at += used;
        let Some(n) = p
            .get(..2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
        else {
            continue;
        };
        let Some(reason) = p.get(2..2 + n) else {
            continue;
        };
        out.push(Entry {
            reason: String::from_utf8_lossy(reason).into_owned(),
            payload: p[2 + n..].to_vec(),
        });
    }
    Ok(out)
}

/// Replace a day file with `entries` (deleted when none), atomically.
fn write_all(path: &Path, entries: &[Entry]) -> Result<(), QuarantineError> {
    if entries.is_empty() {
        return match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
            _ => Ok(()),
        };
    }
    let mut buf = header().to_vec();
    for e in entries {
        e.encode(&mut buf);
    }
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, &buf)
        .and_then(|()| fs::File::open(&tmp)?.sync_all())
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(io(path))
}

fn append(path: &Path, entry: &Entry) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        fs::create_dir_all(d)?;
    }
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    let mut buf = Vec::new();
    if f.metadata()?.len() == 0 {
        buf.extend_from_slice(&header());
    }
    entry.encode(&mut buf);
    f.write_all(&buf)?;
    f.sync_data()
}

/// Keep one refused row (as sent to `table`) in the file of its day (the
/// day of its `ts`, else `today`), with the reason ClickHouse gave.
pub fn keep(
    wal_dir: &Path,
    today: i32,
    table: InsertTable,
    row: &[u8],
    reason: &str,
    metrics: &Metrics,
) {
    let mut payload = Vec::with_capacity(row.len() + 1);
    payload.extend_from_slice(table.tag());
    payload.extend_from_slice(row);
    let entry = Entry {
        reason: reason.to_string(),
        payload,
    };
    let day = entry.site_and_ts().map_or(today, |(_, ts)| day_of(ts));
    if let Err(e) = append(&day_path(wal_dir, day), &entry) {
        tracing::error!(error = %e, "cannot write the quarantine file");
    }
    metrics.rows_quarantined.fetch_add(1, Ordering::Relaxed);
    metrics.quarantine_rows.fetch_add(1, Ordering::Relaxed);
}

/// Move the file of older versions (`wal/quarantine.wal`: bare log
/// records, no reason) into `today`'s file.
pub fn adopt_legacy(wal_dir: &Path, today: i32) -> Result<u64, QuarantineError> {
    let old = wal_dir.join(LEGACY);
    let bytes = match fs::read(&old) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(&old)(e)),
    };
    let path = day_path(wal_dir, today);
    let mut entries = match read(&path) {
        Ok(e) => e,
        Err(QuarantineError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let mut at = 0;
    let mut n = 0;
    while let record::Next::Record(p, used) = record::next(&bytes[at..]) {
        at += used;
        n += 1;
        entries.push(Entry {
            reason: String::new(),
            payload: p.to_vec(),
        });
    }
    fs::create_dir_all(dir(wal_dir)).map_err(io(&path))?;
    write_all(&path, &entries)?;
    fs::remove_file(&old).map_err(io(&old))?;
    Ok(n)
}

/// One day file, described without any visitor id or path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileInfo {
    pub day: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub rows: u64,
    /// Rows per site (`?` where the site cannot be read).
    pub sites: BTreeMap<String, u64>,
    /// Rows per refusal reason (empty: not recorded).
    pub reasons: BTreeMap<String, u64>,
}

/// The day files by name, oldest first (the old single file adopted
/// first); nothing is read.
fn day_files(wal_dir: &Path, today: i32) -> Result<Vec<(i32, PathBuf)>, QuarantineError> {
    adopt_legacy(wal_dir, today)?;
    let d = dir(wal_dir);
    let mut days: Vec<(i32, PathBuf)> = match fs::read_dir(&d) {
        Ok(rd) => rd
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                let day = parse_day(p.file_name()?.to_str()?.strip_suffix(".wal")?)?;
                Some((day, p))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(&d)(e)),
    };
    days.sort();
    Ok(days)
}

/// The day files, oldest first, each read and described.
pub fn list(wal_dir: &Path, today: i32) -> Result<Vec<FileInfo>, QuarantineError> {
    let mut out = Vec::new();
    for (day, path) in day_files(wal_dir, today)? {
        let entries = read(&path)?;
        let mut sites = BTreeMap::new();
        let mut reasons = BTreeMap::new();
        for e in &entries {
            let site = e.site_and_ts().map_or_else(|| "?".to_string(), |(s, _)| s);
            *sites.entry(site).or_insert(0) += 1;
            *reasons.entry(e.reason.clone()).or_insert(0) += 1;
        }
        out.push(FileInfo {
            day: format_day(day),
            bytes: fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
            path,
            rows: entries.len() as u64,
            sites,
            reasons,
        });
    }
    Ok(out)
}

/// Rows held in every day file.
pub fn rows_held(wal_dir: &Path, today: i32) -> Result<u64, QuarantineError> {
    Ok(list(wal_dir, today)?.iter().map(|f| f.rows).sum())
}

/// Delete the day files `ttl_days` old or more at `today` (a row of day D
/// is kept at most until D + ttl_days, as in `events`). Returns the rows
/// deleted.
pub fn expire(wal_dir: &Path, today: i32, ttl_days: u32) -> Result<u64, QuarantineError> {
    let mut rows = 0;
    for (day, path) in day_files(wal_dir, today)? {
        if day + ttl_days as i32 <= today {
            // Counted as it goes; a damaged file is deleted all the same.
            rows += read(&path).map_or(0, |e| e.len() as u64);
            fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(rows)
}

/// Rows of `site` whose time is before `cutoff_ms` in the quarantine (a
/// row whose site or time cannot be read is no site's; it goes at the TTL).
pub fn rows_of_site(
    wal_dir: &Path,
    site: &str,
    cutoff_ms: i64,
    today: i32,
) -> Result<u64, QuarantineError> {
    let mut n = 0;
    for f in list(wal_dir, today)? {
        n += read(&f.path)?
            .iter()
            .filter(|e| of_site(e, site, cutoff_ms))
            .count() as u64;
    }
    Ok(n)
}

fn of_site(e: &Entry, site: &str, cutoff_ms: i64) -> bool {
    e.site_and_ts()
        .is_some_and(|(s, ts)| s == site && ts < cutoff_ms)
}

/// Remove the rows of `site` whose time is before `cutoff_ms` from every
/// day file. Returns the rows removed.
pub fn purge_site(
    wal_dir: &Path,
    site: &str,
    cutoff_ms: i64,
    today: i32,
) -> Result<u64, QuarantineError> {
    let mut removed = 0;
    for f in list(wal_dir, today)? {
        let entries = read(&f.path)?;
        let before = entries.len();
        let kept: Vec<Entry> = entries
            .into_iter()
            .filter(|e| !of_site(e, site, cutoff_ms))
            .collect();
        if kept.len() != before {
            removed += (before - kept.len()) as u64;
            write_all(&f.path, &kept)?;
        }
    }
    Ok(removed)
}

/// Delete one day's file; returns its rows.
pub fn drop_day(wal_dir: &Path, day: &str, today: i32) -> Result<u64, QuarantineError> {
    let f = find(wal_dir, day, today)?;
    fs::remove_file(&f.path).map_err(io(&f.path))?;
    Ok(f.rows)
}

fn find(wal_dir: &Path, day: &str, today: i32) -> Result<FileInfo, QuarantineError> {
    let d = parse_day(day).ok_or_else(|| QuarantineError::BadDay(day.to_string()))?;
    list(wal_dir, today)?
        .into_iter()
        .find(|f| f.day == format_day(d))
        .ok_or_else(|| QuarantineError::NoSuchDay(format_day(d)))
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Replayed {
    /// Rows ClickHouse took (or had already taken: same token).
    pub stored: u64,
    /// Rows it refused again; they stay in the file with the new reason.
    pub refused: u64,
    /// Rows of a range a purge fence keeps out: not sent, and dropped
    /// from the file (the purge removed the rest of them).
    pub fenced: u64,
}

/// The deduplication token of a quarantined row: its day, its place in
/// the file and its bytes, so replaying the same file twice stores each
/// row once (within ClickHouse's deduplication window).
pub fn token(day: &str, index: usize, payload: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(day.as_bytes());
    h.update((index as u64).to_le_bytes());
    h.update(payload);
    format!("tacit-q-{}", hex::encode(&h.finalize()[..16]))
}

/// Send each row of one day's file to ClickHouse again, one insert per
/// row with its [`token`]. Rows that land leave the file; refused ones
/// stay, with the new reason (the file is deleted when none is left).
/// Rows a purge fence in force at `now_ms` keeps out are never sent.
pub async fn replay(
    client: &clickhouse::Client,
    wal_dir: &Path,
    day: &str,
    now_ms: i64,
    timeout: std::time::Duration,
) -> Result<Replayed, QuarantineError> {
    let today = day_of(now_ms);
    let f = find(wal_dir, day, today)?;
    let fences = crate::store::fence::Applied::of(
        crate::store::timed(timeout, crate::store::fence::active(client, now_ms)).await?,
        "",
    );
    let entries = read(&f.path)?;
    let mut out = Replayed::default();
    let mut kept = Vec::new();
    let mut rows = entries.into_iter().enumerate();
    while let Some((i, e)) = rows.next() {
        if site_and_ts(&e.payload).is_some_and(|(s, ts)| fences.blocks(s, ts)) {
            out.fenced += 1;
            continue;
        }
        let (table, row) = InsertTable::of(&e.payload);
        let mut ins = client
            .insert_formatted_with(table.insert_sql("RowBinary"))
            .with_setting("insert_deduplication_token", token(&f.day, i, &e.payload))
            .with_timeouts(Some(timeout), Some(timeout));
        let sent = async {
            crate::store::timed(timeout, ins.send(bytes::Bytes::copy_from_slice(row))).await?;
            crate::store::timed(timeout, ins.end()).await
        }
        .await;
        match sent.map_err(super::classify::classify) {
            Ok(()) => out.stored += 1,
            Err(super::classify::Failure::Data(err)) => {
                out.refused += 1;
                kept.push(Entry {
                    reason: crate::store::log_safe(&err),
                    payload: e.payload,
                });
            }
            Err(super::classify::Failure::Retry(err)) => {
                // Keep what is left for the next try; write what landed.
                kept.push(e);
                kept.extend(rows.map(|(_, e)| e));
                write_all(&f.path, &kept)?;
                return Err(err.into());
            }
        }
    }
    write_all(&f.path, &kept)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Vec<u8> {
        let mut b = Vec::new();
        crate::sink::row::StoredRow::write_row_binary(&crate::privacy::Event::sample(), &mut b);
        b
    }

    #[test]
    fn rows_are_kept_by_day_listed_purged_and_expired() {
        let tmp_dir = tempfile::tempdir().unwrap();
        let tmp = tmp_dir.path().to_path_buf();
        let m = Metrics::default();
        let ev = row();
        let (_, ts) = site_and_ts(&ev).unwrap();
        let day = day_of(ts);
        // A file of an older version: one bare record, adopted as today's.
        let today = day + 3;
        let mut legacy = Vec::new();
        record::frame(&mut legacy, &ev);
        fs::write(tmp.join(LEGACY), &legacy).unwrap();
        keep(
            &tmp,
            today,
            InsertTable::Events,
            &ev,
            "ClickHouse error 27",
            &m,
        );
        keep(
            &tmp,
            today,
            InsertTable::Events,
            &[200, 1, b'a'],
            "ClickHouse error 33",
            &m,
        );
        let files = list(&tmp, today).unwrap();
        assert!(!tmp.join(LEGACY).exists(), "the old file is adopted");
        assert_eq!(files.len(), 2, "{files:?}");
        assert_eq!((files[0].day.clone(), files[0].rows), (format_day(day), 1));
        assert_eq!(files[0].sites["example.com"], 1);
        assert_eq!(files[0].reasons["ClickHouse error 27"], 1);
        assert_eq!(
            files[1].rows, 2,
            "the unreadable row and the adopted one, today"
        );
        assert_eq!(files[1].sites["?"], 1);
        assert_eq!(files[1].reasons[""], 1, "no reason was recorded before");
        assert_eq!(
            read(&files[0].path).unwrap()[0].payload,
            ev,
            "byte for byte"
        );
        assert_eq!(m.rows_quarantined.load(Ordering::Relaxed), 2);

        assert_eq!(
            rows_of_site(&tmp, "example.com", i64::MAX, today).unwrap(),
            2
        );
        assert_eq!(rows_of_site(&tmp, "example.com", ts, today).unwrap(), 0);
        assert_eq!(purge_site(&tmp, "example.com", i64::MAX, today).unwrap(), 2);
        let files = list(&tmp, today).unwrap();
        assert_eq!(files.len(), 1, "the day file left empty is deleted");
        assert_eq!(files[0].rows, 1, "the row whose site cannot be read stays");

        // Kept exactly event_ttl_days after its day.
        assert_eq!(expire(&tmp, today + 29, 30).unwrap(), 0);
        assert_eq!(expire(&tmp, today + 30, 30).unwrap(), 1);
        assert!(list(&tmp, today + 30).unwrap().is_empty());
        keep(&tmp, today, InsertTable::Events, &ev, "x", &m);
        assert_eq!(drop_day(&tmp, &format_day(day), today).unwrap(), 1);
        assert!(matches!(
            drop_day(&tmp, &format_day(day), today),
            Err(QuarantineError::NoSuchDay(_))
        ));
    }

    #[test]
    fn tokens_follow_the_row_and_its_place() {
        let a = token("2026-12-01", 0, b"row");
        assert_eq!(a, token("2026-12-01", 0, b"row"));
        assert_ne!(a, token("2026-12-01", 1, b"row"));
        assert_ne!(a, token("2026-12-02", 0, b"row"));
    }
}
