//! Importing a Plausible export: its CSV files (given one by one, or the
//! zip), read into daily aggregates (`plausible.rs`), checked against the
//! days collected live, and written straight to the aggregate tier as one
//! import, all or nothing; the content hash spans every file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::model::clock::{day_of, format_day};
use crate::store::Store;

use super::input::{file_hash, io_err, open_plain};
use super::plausible::{self, Aggregates, PlausibleFile};
use super::run::{already_imported, Record};
use super::{stage, zip, ImportError, Options, Overlap, Summary};

/// One CSV of the export: its name, table, file and (inside an archive)
/// entry.
struct CsvFile<'a> {
    name: String,
    table: PlausibleFile,
    path: &'a PathBuf,
    entry: Option<zip::Entry>,
}

/// Import a Plausible CSV export (its files, any subset) as one import:
/// daily aggregates straight to the aggregate tier, all or nothing.
pub async fn import_plausible(
    cfg: &Config,
    store: &Store,
    files: &[PathBuf],
    opts: &Options,
    now_ms: i64,
) -> Result<Summary, ImportError> {
    let started = std::time::Instant::now();
    let site = crate::ingest::Sites::new(cfg)
        .find(&opts.site)
        .ok_or_else(|| ImportError::UnknownSite(opts.site.clone()))?
        .domain;
    let csvs = list_files(files)?;
    let label = csvs
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let hash = content_hash(&csvs)?;
    let mut summary = Summary {
        file: label.clone(),
        ..Summary::default()
    };
    if let Some(id) = already_imported(store, site, &hash).await? {
        summary.already_imported = Some(id);
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
        let mut agg = read_all(cfg, &csvs, now_ms, &mut summary)?;
        let days = settle_live(store, site, opts.overlap, &mut agg, &mut summary).await?;
        summary.imported = write(store, summary.import_id, site, &agg, &days, now_ms).await?;
        summary.aggregate_days = days.keys().map(|d| format_day(*d)).collect();
        Ok::<_, ImportError>(())
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

/// The export's CSV files, from the files and archives given, by name.
fn list_files(files: &[PathBuf]) -> Result<Vec<CsvFile<'_>>, ImportError> {
    let mut csvs = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if zip::is_zip(f) {
            for e in zip::entries(f).map_err(io_err(&name))? {
                let inner = e.name.rsplit('/').next().unwrap_or("").to_string();
                if let Some(table) = PlausibleFile::of_file(&inner) {
                    csvs.push(CsvFile {
                        name: inner,
                        table,
                        path: f,
                        entry: Some(e),
                    });
                }
            }
            continue;
        }
        let table =
            PlausibleFile::of_file(&name).ok_or_else(|| ImportError::NotPlausible(name.clone()))?;
        csvs.push(CsvFile {
            name,
            table,
            path: f,
            entry: None,
        });
    }
    csvs.sort_by(|a, b| (&a.name, a.path).cmp(&(&b.name, b.path)));
    Ok(csvs)
}

/// One hash over the files' names and bytes (an archive hashed once).
fn content_hash(csvs: &[CsvFile<'_>]) -> Result<String, ImportError> {
    let mut h = Sha256::new();
    let mut hashed = BTreeSet::new();
    for c in csvs {
        if hashed.insert(c.path) {
            h.update(c.name.as_bytes());
            h.update(file_hash(c.path).map_err(io_err(&c.name))?.as_bytes());
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// Every file read into one set of aggregates, open days left out.
fn read_all(
    cfg: &Config,
    csvs: &[CsvFile<'_>],
    now_ms: i64,
    summary: &mut Summary,
) -> Result<Aggregates, ImportError> {
    let mut agg = Aggregates::default();
    let mut open = 0u64;
    for c in csvs {
        let input = match &c.entry {
            Some(e) => zip::open(c.path, e),
            None => open_plain(c.path),
        }
        .map_err(io_err(&c.name))?;
        plausible::read(
            c.table,
            input,
            &cfg.policy,
            day_of(now_ms) - 1,
            &mut agg,
            &mut open,
        )
        .map_err(|source| ImportError::Csv {
            file: c.name.clone(),
            source,
        })?;
    }
    summary.rows_read = agg.rows;
    if open > 0 {
        summary.skipped.insert("open_day".into(), open);
    }
    Ok(agg)
}

/// The days to import with their events, after `--overlap` settled the
/// days collected live.
async fn settle_live(
    store: &Store,
    site: &str,
    overlap: Overlap,
    agg: &mut Aggregates,
    summary: &mut Summary,
) -> Result<BTreeMap<i32, u64>, ImportError> {
    let mut days: BTreeMap<i32, u64> = BTreeMap::new();
    for ((d, dim, _), c) in &agg.daily {
        *days.entry(*d).or_default() += if dim == "all" { c.events } else { 0 };
    }
    for (d, _, _) in agg.visits.keys() {
        days.entry(*d).or_default();
    }
    let all: Vec<i32> = days.keys().copied().collect();
    let live = stage::live_days(store, site, &all).await?;
    if live.is_empty() {
        return Ok(days);
    }
    match overlap {
        Overlap::Refuse => {
            return Err(ImportError::LiveOverlap {
                file: summary.file.clone(),
                days: live.iter().map(|d| format_day(*d)).collect(),
            })
        }
        Overlap::KeepLive => {
            let before = agg.daily.len() + agg.visits.len();
            agg.daily.retain(|(d, _, _), _| !live.contains(d));
            agg.visits.retain(|(d, _, _), _| !live.contains(d));
            days.retain(|d, _| !live.contains(d));
            let dropped = (before - agg.daily.len() - agg.visits.len()) as u64;
            summary.skipped.insert("live_day".into(), dropped);
        }
        Overlap::Replace => stage::delete_site_days(store, site, &live).await?,
    }
    Ok(days)
}

/// Record the days, then write the rows; on failure, the days no other
/// import holds lose what this one attached, and are forgotten.
async fn write(
    store: &Store,
    import_id: u64,
    site: &str,
    agg: &Aggregates,
    days: &BTreeMap<i32, u64>,
    now_ms: i64,
) -> Result<u64, ImportError> {
    let others: Vec<u16> = store
        .client()
        .query("SELECT DISTINCT day FROM import_days WHERE site = {site:String}")
        .param("site", site)
        .fetch_all()
        .await?;
    // Recorded first (see `days::move_days`).
    stage::record_days(
        store,
        import_id,
        site,
        days.iter().map(|(d, n)| (*d, *n)),
        |_| "aggregate",
    )
    .await?;
    let day_list: Vec<i32> = days.keys().copied().collect();
    match stage::write_aggregates(store, site, agg, &day_list, now_ms).await {
        Ok(n) => Ok(n),
        Err(e) => {
            let mine: Vec<i32> = day_list
                .iter()
                .copied()
                .filter(|d| !others.contains(&(*d as u16)))
                .collect();
            let _ = stage::delete_site_days(store, site, &mine).await;
            let _ = stage::forget_days(store, import_id).await;
            Err(e.into())
        }
    }
}
