//! One file's import: checked against the imports done (same site, same
//! SHA-256: nothing to do), every row staged through the rules (nothing
//! visible yet; malformed rows counted, reported by line number, fatal past
//! `max_bad_lines`), then the days moved (`days.rs`), and the attempt
//! recorded in `imports` whatever its end.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::config::Config;
use crate::enrich::Enrichers;
use crate::store::Store;

use super::input::{file_hash, io_err, open};
use super::rules::{LineOutcome, Rules};
use super::source::{rows, Item, Rows, RowsError};
use super::{days, stage, umami, Format, ImportError, Options, Summary};
use std::io::BufRead;

/// How far a running import is (for a progress line).
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub lines: u64,
    pub bytes_read: u64,
    pub bytes_total: u64,
    pub seconds: f64,
}

/// Lines between two progress reports.
const PROGRESS_EVERY: u64 = 16_384;

/// Import one file. `now_ms` is the injected clock's time (which days are
/// open, which are past the event TTL); `progress` is called every few
/// thousand lines.
pub async fn import_file(
    cfg: &Config,
    store: &Store,
    enrichers: Arc<Enrichers>,
    path: &Path,
    opts: &Options,
    now_ms: i64,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Summary, ImportError> {
    let started = std::time::Instant::now();
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rules = Rules::new(cfg, enrichers, &opts.site, now_ms)
        .ok_or_else(|| ImportError::UnknownSite(opts.site.clone()))?;
    let site = rules.site();
    if opts.format.is_export() && super::zip::is_zip(path) {
        return Err(ImportError::NotTheFormat {
            file,
            why: match opts.format {
                Format::Umami => umami::METRICS_ZIP.into(),
                _ => "a zip archive, not a CSV export (unzip it first)".into(),
            },
        });
    }
    let counter = Arc::new(AtomicU64::new(0));
    let input = open(path, counter.clone()).map_err(io_err(&file))?;
    let mut rows = rows(opts.format, opts.log_format.as_deref(), input)?;
    let hash = file_hash(path).map_err(io_err(&file))?;
    let mut summary = Summary {
        file: file.clone(),
        ..Summary::default()
    };
    if let Some(id) = already_imported(store, site, &hash).await? {
        summary.already_imported = Some(id);
        return Ok(summary);
    }
    summary.import_id = rand::random::<u64>() | 1;
    let id = summary.import_id;
    let record = Record {
        import_id: id,
        site,
        format: opts.format.as_str(),
        file_sha256: &hash,
        file_name: &file,
        started: now_ms,
    };

    // Phase 1: stage every line (nothing visible yet).
    let file_size = std::fs::metadata(path).map_err(io_err(&file))?.len();
    let reading = Reading {
        file: &file,
        rules: &rules,
        max_bad_lines: opts.max_bad_lines,
        counter,
        file_size,
        started,
    };
    let staged = stage_rows(&reading, &mut rows, store, id, &mut summary, progress).await;
    if let Err(e) = staged {
        let _ = stage::drop_staged(store, id).await;
        record
            .write(store, &summary, "failed", &e.to_string())
            .await;
        return Err(e);
    }

    // Phase 2: decide the days, then move them.
    let moved = days::move_days(
        store,
        site,
        id,
        opts.overlap,
        now_ms,
        cfg.policy.event_ttl_days,
        &mut summary,
    )
    .await;
    let _ = stage::drop_staged(store, id).await;
    match moved {
        Ok(()) => {
            summary.seconds = started.elapsed().as_secs_f64();
            record.write(store, &summary, "done", "").await;
            Ok(summary)
        }
        Err(e) => {
            record
                .write(store, &summary, "failed", &e.to_string())
                .await;
            Err(e)
        }
    }
}

/// What staging reads, and from where.
struct Reading<'a> {
    file: &'a str,
    rules: &'a Rules,
    max_bad_lines: u64,
    /// Bytes of the file read so far.
    counter: Arc<AtomicU64>,
    file_size: u64,
    started: std::time::Instant,
}

/// Phase 1: every row through the rules, the kept ones staged.
async fn stage_rows(
    r: &Reading<'_>,
    rows: &mut Rows<impl BufRead>,
    store: &Store,
    id: u64,
    summary: &mut Summary,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(), ImportError> {
    let mut stager = stage::Stager::new(store, id);
    let mut bad = 0u64;
    let mut reported = 0u64;
    let mut skipped: BTreeMap<&'static str, u64> = BTreeMap::new();
    loop {
        let item = match rows.next(r.rules) {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(RowsError::Io(e)) => return Err(io_err(r.file)(e)),
            Err(RowsError::NotTheFormat(why)) => {
                return Err(ImportError::NotTheFormat {
                    file: r.file.to_string(),
                    why,
                })
            }
        };
        match item {
            Item::Blank | Item::Other => {}
            Item::Malformed(why) => bad_line(r.file, rows.line(), &why, &mut bad, r.max_bad_lines)?,
            Item::Row { outcome, .. } => {
                summary.rows_read += 1;
                match outcome {
                    LineOutcome::Store(ev) => stager.push(&ev).await?,
                    LineOutcome::Skip(reason) => *skipped.entry(reason).or_default() += 1,
                }
            }
        }
        if rows.line() / PROGRESS_EVERY > reported {
            reported = rows.line() / PROGRESS_EVERY;
            progress(Progress {
                lines: rows.line(),
                bytes_read: r.counter.load(Ordering::Relaxed),
                bytes_total: r.file_size,
                seconds: r.started.elapsed().as_secs_f64(),
            });
        }
    }
    stager.flush().await?;
    summary.imported = stager.staged;
    summary.skipped = skipped
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    if bad > 0 {
        summary.skipped.insert("malformed".into(), bad);
    }
    Ok(())
}

/// Report a malformed line (by number, never its text) on stderr; fail
/// once there are more than `max`.
fn bad_line(
    file: &str,
    line: u64,
    reason: &str,
    bad: &mut u64,
    max: u64,
) -> Result<(), ImportError> {
    *bad += 1;
    if *bad > max {
        return Err(ImportError::TooManyBadLines {
            file: file.to_string(),
            max,
            line,
            reason: reason.to_string(),
        });
    }
    eprintln!("tacit import: {file}: line {line}: {reason}; skipped");
    Ok(())
}

/// The import that already brought this content (same SHA-256) to the site.
pub(super) async fn already_imported(
    store: &Store,
    site: &str,
    hash: &str,
) -> Result<Option<u64>, ImportError> {
    let done: Vec<u64> = store
        .client()
        .query(
            "SELECT import_id FROM imports WHERE site = {site:String} \
             AND file_sha256 = {hash:String} AND status = 'done'",
        )
        .param("site", site)
        .param("hash", hash)
        .fetch_all()
        .await?;
    Ok(done.first().copied())
}

/// The `imports` row of one attempt.
pub(super) struct Record<'a> {
    pub import_id: u64,
    pub site: &'a str,
    pub format: &'a str,
    pub file_sha256: &'a str,
    pub file_name: &'a str,
    pub started: i64,
}

impl Record<'_> {
    /// Record the attempt; a failure to record is reported, not fatal.
    pub async fn write(&self, store: &Store, s: &Summary, status: &str, message: &str) {
        #[derive(clickhouse::Row, serde::Serialize)]
        struct Row<'a> {
            import_id: u64,
            site: &'a str,
            format: &'a str,
            file_sha256: &'a str,
            file_name: &'a str,
            started: i64,
            finished: i64,
            status: &'a str,
            rows_read: u64,
            rows_stored: u64,
            skipped: Vec<(&'a str, u64)>,
            message: &'a str,
        }
        let row = Row {
            import_id: self.import_id,
            site: self.site,
            format: self.format,
            file_sha256: self.file_sha256,
            file_name: self.file_name,
            started: self.started,
            finished: self.started + (s.seconds * 1000.0) as i64,
            status,
            rows_read: s.rows_read,
            rows_stored: if status == "done" { s.imported } else { 0 },
            skipped: s.skipped.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
            message,
        };
        let sent = async {
            let mut ins = store.client().insert::<Row<'_>>("imports").await?;
            ins.write(&row).await?;
            ins.end().await
        }
        .await;
        if let Err(e) = sent {
            tracing::warn!(error = %crate::store::log_safe(&e), "could not record the import");
        }
    }
}
