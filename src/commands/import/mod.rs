//! `tacit import`: past traffic from a file, for a site that switches to
//! tacit or never ran a tracker. Access logs (`access.rs`: nginx, Apache,
//! Caddy, CloudFront; `.gz` read as such) go request by request through
//! the import's rules and the live pipeline (`rules.rs`), each day's
//! visitor ids under a salt made for this import and destroyed when it
//! ends. The rows are staged, and moved only once the whole file was read
//! (`stage.rs`): an import is all or nothing per file. Plausible's CSV
//! export (`plausible.rs`, its zip through `zip.rs`) is daily aggregates:
//! they go straight to the aggregate tier, all files one import.
//!
//! Around that: a file already imported for the site (same SHA-256) is not
//! imported again; a day the site already collected live is refused unless
//! `--overlap` says which wins; `imports` records each attempt and
//! `import_days` which site-days hold imported data, so they can be shown,
//! excluded and removed (`tacit purge --site S --imports`, [`purge`]).
//! Malformed lines are reported by number (never quoted: they hold
//! addresses) and the import stops after `max_bad_lines` of them.

pub mod access;
pub mod plausible;
pub mod rules;
pub mod stage;
pub mod zip;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::enrich::{EnrichError, Enrichers};
use crate::model::clock::{day_of, format_day};
use crate::privacy::event_json;
use crate::store::{Store, StoreError};

use access::{Parsed, Request, Template};
use rules::{LineOutcome, Rules};

/// The formats `tacit import --from` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    Nginx,
    Apache,
    Caddy,
    CloudFront,
    /// Plausible's CSV export (daily aggregates; all files are one import).
    Plausible,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "nginx" => Format::Nginx,
            "apache" => Format::Apache,
            "caddy" => Format::Caddy,
            "cloudfront" => Format::CloudFront,
            "plausible" => Format::Plausible,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Nginx => "nginx",
            Format::Apache => "apache",
            Format::Caddy => "caddy",
            Format::CloudFront => "cloudfront",
            Format::Plausible => "plausible",
        }
    }
}

/// What to do with days the site already collected live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overlap {
    /// Refuse the file, naming the days.
    #[default]
    Refuse,
    /// Keep the live data; skip the file's requests of those days.
    KeepLive,
    /// Delete the live data of those days; import the file's.
    Replace,
}

impl Overlap {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "refuse" => Overlap::Refuse,
            "keep-live" => Overlap::KeepLive,
            "replace" => Overlap::Replace,
            _ => return None,
        })
    }
}

/// One import.
#[derive(Debug, Clone)]
pub struct Options {
    pub site: String,
    pub format: Format,
    /// An nginx `log_format` (nginx, caddy: ignored) or Apache `LogFormat`;
    /// default: combined.
    pub log_format: Option<String>,
    /// Stop after more malformed lines than this.
    pub max_bad_lines: u64,
    pub overlap: Overlap,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("{0:?} is not a configured site")]
    UnknownSite(String),
    #[error("--log-format: {0}")]
    LogFormat(access::LineError),
    #[error("{0}")]
    Enrich(#[from] EnrichError),
    #[error("reading {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: more than {max} malformed lines (the last, line {line}: {reason}); nothing of the file was imported")]
    TooManyBadLines {
        file: String,
        max: u64,
        line: u64,
        reason: String,
    },
    #[error("{file}: the site already has data collected live on {}: pass --overlap keep-live (skip the file's requests of those days) or --overlap replace (delete the live data of those days); nothing was imported", .days.join(", "))]
    LiveOverlap { file: String, days: Vec<String> },
    #[error("{file}: {source}")]
    Csv {
        file: String,
        #[source]
        source: plausible::CsvError,
    },
    #[error("{0}: not a file of a Plausible export (the zip, or imported_visitors.csv, imported_pages.csv, …)")]
    NotPlausible(String),
    #[error("clickhouse: {0}")]
    Store(#[from] StoreError),
}

impl From<clickhouse::error::Error> for ImportError {
    fn from(e: clickhouse::error::Error) -> Self {
        ImportError::Store(StoreError(e))
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub file: String,
    pub import_id: u64,
    /// Set when the same file was imported before: nothing changed.
    pub already_imported: Option<u64>,
    pub rows_read: u64,
    pub imported: u64,
    /// Lines not imported, per reason (malformed lines as `malformed`).
    pub skipped: BTreeMap<String, u64>,
    /// Days moved to the event tier (then rolled up).
    pub event_days: Vec<String>,
    /// Days written straight to the aggregate tier.
    pub aggregate_days: Vec<String>,
    pub seconds: f64,
}

impl Summary {
    /// The summary for a terminal.
    pub fn describe(&self) -> String {
        if let Some(id) = self.already_imported {
            return format!(
                "{}: already imported (import {id:016x}); nothing changed\n",
                self.file
            );
        }
        let mut s = format!(
            "{}: import {:016x}: {} lines read, {} imported in {:.1} s ({:.0} lines/s)\n",
            self.file,
            self.import_id,
            self.rows_read,
            self.imported,
            self.seconds,
            self.rows_read as f64 / self.seconds.max(1e-9)
        );
        for (reason, n) in &self.skipped {
            s.push_str(&format!("  skipped {n}: {reason}\n"));
        }
        let span = |d: &[String]| match (d.first(), d.last()) {
            (Some(a), Some(b)) => format!("{} day(s), {a} to {b}", d.len()),
            _ => "none".into(),
        };
        s.push_str(&format!(
            "  days in the event tier: {}\n  days straight to the aggregate tier: {}\n",
            span(&self.event_days),
            span(&self.aggregate_days)
        ));
        s
    }
}

/// How far a running import is (for a progress line).
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub lines: u64,
    pub bytes_read: u64,
    pub bytes_total: u64,
    pub seconds: f64,
}

/// Counts the bytes read from the file (before decompression).
struct Counting<R> {
    inner: R,
    n: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n
            .fetch_add(k as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(k)
    }
}

/// The file's lines, gunzipped when it starts with the gzip magic.
fn open(
    path: &Path,
    counter: Arc<std::sync::atomic::AtomicU64>,
) -> std::io::Result<Box<dyn BufRead>> {
    let mut f = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let gz = f.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let counted = Counting {
        inner: f,
        n: counter,
    };
    Ok(if gz {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::bufread::MultiGzDecoder::new(BufReader::new(counted)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, counted))
    })
}

/// SHA-256 of the file's bytes, as stored.
fn file_hash(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// A line parser for one format.
pub enum Parser {
    Template(Template),
    Caddy,
    CloudFront(access::CloudFront),
}

impl Parser {
    pub fn new(format: Format, log_format: Option<&str>) -> Result<Self, ImportError> {
        Ok(match format {
            Format::Nginx => Parser::Template(
                Template::nginx(log_format.unwrap_or(access::COMBINED))
                    .map_err(ImportError::LogFormat)?,
            ),
            Format::Apache => Parser::Template(match log_format {
                Some(f) => Template::apache(f).map_err(ImportError::LogFormat)?,
                None => Template::nginx(access::COMBINED).map_err(ImportError::LogFormat)?,
            }),
            Format::Caddy => Parser::Caddy,
            Format::Plausible => {
                return Err(ImportError::LogFormat(access::LineError(
                    "a Plausible export is not a log: it is read by import_plausible".into(),
                )))
            }
            Format::CloudFront => Parser::CloudFront(access::CloudFront::default()),
        })
    }

    pub fn line<'a>(&mut self, line: &'a str) -> Result<Parsed<'a>, access::LineError> {
        match self {
            Parser::Template(t) => t.parse(line).map(Parsed::Request),
            Parser::Caddy => access::caddy(line),
            Parser::CloudFront(c) => c.parse(line),
        }
    }
}

fn io_err(file: &str) -> impl Fn(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Io {
        file: file.to_string(),
        source,
    }
}

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
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, ImportError> {
    let started = std::time::Instant::now();
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rules = Rules::new(cfg, enrichers, &opts.site, now_ms)
        .ok_or_else(|| ImportError::UnknownSite(opts.site.clone()))?;
    let site = rules.site();
    let mut parser = Parser::new(opts.format, opts.log_format.as_deref())?;
    let hash = file_hash(path).map_err(io_err(&file))?;
    let mut summary = Summary {
        file: file.clone(),
        ..Summary::default()
    };
    let done: Vec<u64> = store
        .client()
        .query(
            "SELECT import_id FROM imports WHERE site = {site:String} \
             AND file_sha256 = {hash:String} AND status = 'done'",
        )
        .param("site", site)
        .param("hash", &hash)
        .fetch_all()
        .await?;
    if let Some(id) = done.first() {
        summary.already_imported = Some(*id);
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
    let staged = stage_file(
        path,
        &file,
        &rules,
        &mut parser,
        opts,
        store,
        id,
        &mut summary,
        started,
        progress,
    )
    .await;
    if let Err(e) = staged {
        let _ = stage::drop_staged(store, id).await;
        record
            .write(store, &summary, "failed", &e.to_string())
            .await;
        return Err(e);
    }

    // Phase 2: decide the days, then move them.
    let moved = move_days(
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

#[expect(
    clippy::too_many_arguments,
    reason = "one call site, the phases of one import"
)]
async fn stage_file(
    path: &Path,
    file: &str,
    rules: &Rules,
    parser: &mut Parser,
    opts: &Options,
    store: &Store,
    id: u64,
    summary: &mut Summary,
    started: std::time::Instant,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), ImportError> {
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let total = std::fs::metadata(path).map_err(io_err(file))?.len();
    let mut input = open(path, counter.clone()).map_err(io_err(file))?;
    let mut stager = stage::Stager::new(store, id);
    let mut line = String::new();
    let mut n = 0u64;
    let mut bad = 0u64;
    let mut skipped: BTreeMap<&'static str, u64> = BTreeMap::new();
    loop {
        line.clear();
        let k = match input.read_line(&mut line) {
            Ok(k) => k,
            // Not UTF-8: a malformed line like any other.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                n += 1;
                bad_line(file, n, "not UTF-8 text", &mut bad, opts.max_bad_lines)?;
                continue;
            }
            Err(e) => return Err(io_err(file)(e)),
        };
        if k == 0 {
            break;
        }
        n += 1;
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        match parser.line(text) {
            Err(e) => bad_line(file, n, &e.0, &mut bad, opts.max_bad_lines)?,
            Ok(Parsed::Other) => {}
            Ok(Parsed::Request(r)) => {
                summary.rows_read += 1;
                match rules.apply(r) {
                    LineOutcome::Store(ev) => stager.push(&ev).await?,
                    LineOutcome::Skip(reason) => *skipped.entry(reason).or_default() += 1,
                }
            }
        }
        if n.is_multiple_of(16_384) {
            progress(Progress {
                lines: n,
                bytes_read: counter.load(std::sync::atomic::Ordering::Relaxed),
                bytes_total: total,
                seconds: started.elapsed().as_secs_f64(),
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

async fn move_days(
    store: &Store,
    site: &str,
    id: u64,
    overlap: Overlap,
    now_ms: i64,
    event_ttl_days: u32,
    summary: &mut Summary,
) -> Result<(), ImportError> {
    let mut days = stage::staged_days(store, id).await?;
    let all: Vec<i32> = days.iter().map(|(d, _)| *d).collect();
    let live = stage::live_days(store, site, &all).await?;
    if !live.is_empty() {
        match overlap {
            Overlap::Refuse => {
                return Err(ImportError::LiveOverlap {
                    file: summary.file.clone(),
                    days: live.iter().map(|d| format_day(*d)).collect(),
                })
            }
            Overlap::KeepLive => {
                let kept: u64 = days
                    .iter()
                    .filter(|(d, _)| live.contains(d))
                    .map(|(_, n)| n)
                    .sum();
                days.retain(|(d, _)| !live.contains(d));
                summary.imported -= kept;
                *summary.skipped.entry("live_day".into()).or_default() += kept;
            }
            Overlap::Replace => stage::delete_site_days(store, site, &live).await?,
        }
    }
    // The oldest day the event tier holds in full, with a day's margin so
    // no day expires while it is moved.
    let oldest_kept = day_of(now_ms) - event_ttl_days as i32 + 2;
    let (recent, old): (Vec<i32>, Vec<i32>) = days
        .iter()
        .map(|(d, _)| *d)
        .partition(|d| *d >= oldest_kept);
    // The days other imports hold, before this one is recorded.
    let others: Vec<u16> = store
        .client()
        .query("SELECT DISTINCT day FROM import_days WHERE site = {site:String}")
        .param("site", site)
        .fetch_all()
        .await?;
    // Recorded first, so a rollup running meanwhile already carries the
    // aggregate-tier days over; forgotten again on failure.
    stage::record_days(store, id, site, days.iter().copied(), |d| {
        if d >= oldest_kept {
            "event"
        } else {
            "aggregate"
        }
    })
    .await?;
    let result = async {
        for &d in &old {
            stage::move_to_rollups(store, id, site, d, now_ms).await?;
        }
        stage::move_to_events(store, id, &recent, now_ms).await?;
        Ok::<_, StoreError>(())
    }
    .await;
    if let Err(e) = result {
        // Undo: the days no other import holds lose what this one wrote.
        let mine: Vec<i32> = all
            .iter()
            .copied()
            .filter(|d| !others.contains(&(*d as u16)) && !live.contains(d))
            .collect();
        let _ = stage::delete_site_days(store, site, &mine).await;
        let _ = stage::forget_days(store, id).await;
        return Err(e.into());
    }
    summary.event_days = recent.iter().map(|d| format_day(*d)).collect();
    summary.aggregate_days = old.iter().map(|d| format_day(*d)).collect();
    Ok(())
}

/// The `imports` row of one attempt.
struct Record<'a> {
    import_id: u64,
    site: &'a str,
    format: &'a str,
    file_sha256: &'a str,
    file_name: &'a str,
    started: i64,
}

impl Record<'_> {
    /// Record the attempt; a failure to record is reported, not fatal.
    async fn write(&self, store: &Store, s: &Summary, status: &str, message: &str) {
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

/// `tacit purge --site S --imports`: remove every imported day of the
/// site (event tier, visits, rollups) and its `import_days` rows, and mark
/// its imports purged. Returns the days removed.
pub async fn purge(store: &Store, site: &str) -> Result<Vec<String>, ImportError> {
    let days: Vec<u16> = store
        .client()
        .query("SELECT DISTINCT day FROM import_days WHERE site = {site:String} ORDER BY day")
        .param("site", site)
        .fetch_all()
        .await?;
    let days: Vec<i32> = days.into_iter().map(i32::from).collect();
    stage::delete_site_days(store, site, &days).await?;
    for sql in [
        "ALTER TABLE {t} DELETE WHERE site = {site:String} SETTINGS mutations_sync = 1",
        "ALTER TABLE {i} UPDATE status = 'purged' WHERE site = {site:String} AND status = 'done' SETTINGS mutations_sync = 1",
    ] {
        store
            .client()
            .query(
                &sql.replace("{t}", &store.target("import_days"))
                    .replace("{i}", &store.target("imports")),
            )
            .param("site", site)
            .execute()
            .await?;
    }
    Ok(days.iter().map(|d| format_day(*d)).collect())
}

/// `tacit import --explain`: the rules, then what each line of `input`
/// becomes (a JSON line each), through the same rules and pipeline.
pub fn explain(
    cfg: &Config,
    opts: &Options,
    now_ms: i64,
    input: impl BufRead,
    mut out: impl Write,
) -> Result<(), ImportError> {
    let enrichers = Arc::new(Enrichers::load(&cfg.enrich)?);
    let rules = Rules::new(cfg, enrichers, &opts.site, now_ms)
        .ok_or_else(|| ImportError::UnknownSite(opts.site.clone()))?;
    let mut parser = Parser::new(opts.format, opts.log_format.as_deref())?;
    let w = |e| io_err("output")(e);
    writeln!(out, "{}", serde_json::json!({ "rules": rules::describe() })).map_err(w)?;
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(io_err("input"))?;
        if line.trim().is_empty() {
            continue;
        }
        let v = match parser.line(&line) {
            Err(e) => serde_json::json!({ "line": i + 1, "malformed": e.0 }),
            Ok(Parsed::Other) => serde_json::json!({ "line": i + 1, "not_a_request": true }),
            Ok(Parsed::Request(r)) => explain_request(&rules, i as u64 + 1, r),
        };
        writeln!(out, "{v}").map_err(w)?;
    }
    Ok(())
}

fn explain_request(rules: &Rules, line: u64, r: Request<'_>) -> serde_json::Value {
    let day = format_day(day_of(r.ts_ms));
    match rules.apply(r) {
        LineOutcome::Store(ev) => serde_json::json!({
            "line": line,
            "day": day,
            "stored": event_json(&ev),
            "note": "visitor_id under a throwaway salt: it shows that an id is stored, not the id the import stores",
        }),
        LineOutcome::Skip(reason) => {
            serde_json::json!({ "line": line, "day": day, "skipped": reason })
        }
    }
}

/// Import a Plausible CSV export (its files, any subset) as one import:
/// daily aggregates straight to the aggregate tier, all or nothing.
pub async fn import_plausible(
    cfg: &Config,
    store: &Store,
    files: &[std::path::PathBuf],
    opts: &Options,
    now_ms: i64,
) -> Result<Summary, ImportError> {
    let started = std::time::Instant::now();
    let site = crate::ingest::Sites::new(cfg)
        .find(&opts.site)
        .ok_or_else(|| ImportError::UnknownSite(opts.site.clone()))?
        .domain;
    // Each CSV: its name, table, file and (inside an archive) entry.
    let mut named: Vec<(
        String,
        plausible::PlausibleFile,
        &std::path::PathBuf,
        Option<zip::Entry>,
    )> = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if zip::is_zip(f) {
            for e in zip::entries(f).map_err(io_err(&name))? {
                let inner = e.name.rsplit('/').next().unwrap_or("").to_string();
                if let Some(table) = plausible::PlausibleFile::of_file(&inner) {
                    named.push((inner, table, f, Some(e)));
                }
            }
            continue;
        }
        let table = plausible::PlausibleFile::of_file(&name)
            .ok_or_else(|| ImportError::NotPlausible(name.clone()))?;
        named.push((name, table, f, None));
    }
    named.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
    let label = named
        .iter()
        .map(|(n, _, _, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    // One hash over the files' names and bytes.
    let mut h = Sha256::new();
    let mut hashed = std::collections::BTreeSet::new();
    for (name, _, path, _) in &named {
        // An archive is hashed once, as a file.
        if hashed.insert(*path) {
            h.update(name.as_bytes());
            h.update(file_hash(path).map_err(io_err(name))?.as_bytes());
        }
    }
    let hash = hex::encode(h.finalize());
    let mut summary = Summary {
        file: label.clone(),
        ..Summary::default()
    };
    let done: Vec<u64> = store
        .client()
        .query(
            "SELECT import_id FROM imports WHERE site = {site:String} \
             AND file_sha256 = {hash:String} AND status = 'done'",
        )
        .param("site", site)
        .param("hash", &hash)
        .fetch_all()
        .await?;
    if let Some(id) = done.first() {
        summary.already_imported = Some(*id);
        return Ok(summary);
    }
    summary.import_id = rand::random::<u64>() | 1;
    let record = Record {
        import_id: summary.import_id,
        site,
        format: "plausible",
        file_sha256: &hash,
        file_name: &label,
        started: now_ms,
    };
    let result = async {
        let mut agg = plausible::Aggregates::default();
        let mut open = 0u64;
        for (name, table, path, entry) in &named {
            let input = match entry {
                Some(e) => zip::open(path, e),
                None => open_plain(path),
            }
            .map_err(io_err(name))?;
            plausible::read(
                *table,
                input,
                &cfg.policy,
                day_of(now_ms) - 1,
                &mut agg,
                &mut open,
            )
            .map_err(|source| ImportError::Csv {
                file: name.clone(),
                source,
            })?;
        }
        summary.rows_read = agg.rows;
        if open > 0 {
            summary.skipped.insert("open_day".into(), open);
        }
        let days: BTreeMap<i32, u64> = agg
            .daily
            .iter()
            .filter(|((_, dim, _), _)| dim == "all")
            .map(|((d, _, _), c)| (*d, c.events))
            .chain(agg.visits.keys().map(|(d, _, _)| (*d, 0)))
            .fold(BTreeMap::new(), |mut m, (d, n)| {
                *m.entry(d).or_insert(0) += n;
                m
            });
        let mut day_list: Vec<i32> = days.keys().copied().collect();
        let live = stage::live_days(store, site, &day_list).await?;
        if !live.is_empty() {
            match opts.overlap {
                Overlap::Refuse => {
                    return Err(ImportError::LiveOverlap {
                        file: label.clone(),
                        days: live.iter().map(|d| format_day(*d)).collect(),
                    })
                }
                Overlap::KeepLive => {
                    let before = agg.daily.len() + agg.visits.len();
                    agg.daily.retain(|(d, _, _), _| !live.contains(d));
                    agg.visits.retain(|(d, _, _), _| !live.contains(d));
                    day_list.retain(|d| !live.contains(d));
                    let dropped = (before - agg.daily.len() - agg.visits.len()) as u64;
                    summary.skipped.insert("live_day".into(), dropped);
                }
                Overlap::Replace => stage::delete_site_days(store, site, &live).await?,
            }
        }
        let others: Vec<u16> = store
            .client()
            .query("SELECT DISTINCT day FROM import_days WHERE site = {site:String}")
            .param("site", site)
            .fetch_all()
            .await?;
        // Recorded first (see `move_days`), forgotten again on failure.
        stage::record_days(
            store,
            summary.import_id,
            site,
            day_list
                .iter()
                .map(|d| (*d, days.get(d).copied().unwrap_or(0))),
            |_| "aggregate",
        )
        .await?;
        match stage::write_aggregates(store, site, &agg, &day_list, now_ms).await {
            Ok(n) => summary.imported = n,
            Err(e) => {
                // Days no other import holds lose what this one attached.
                let mine: Vec<i32> = day_list
                    .iter()
                    .copied()
                    .filter(|d| !others.contains(&(*d as u16)))
                    .collect();
                let _ = stage::delete_site_days(store, site, &mine).await;
                let _ = stage::forget_days(store, summary.import_id).await;
                return Err(e.into());
            }
        }
        summary.aggregate_days = day_list.iter().map(|d| format_day(*d)).collect();
        Ok(())
    }
    .await;
    summary.seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(()) => {
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

/// A file's text, gunzipped when it starts with the gzip magic.
fn open_plain(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    open(path, Arc::new(std::sync::atomic::AtomicU64::new(0)))
}
