//! Phase 2 of an import, once the whole file was staged: the days it
//! holds are checked against the days collected live (`--overlap`),
//! recorded in `import_days`, then moved: closed days the event tier keeps
//! to `events` (then rolled up), older days straight to the aggregate tier.
//! And `tacit purge --site S --imports`, which undoes every import of a
//! site.

use crate::model::clock::{day_of, format_day};
use crate::store::{Store, StoreError};

use super::{stage, ImportError, Overlap, Summary};

pub(super) async fn move_days(
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
