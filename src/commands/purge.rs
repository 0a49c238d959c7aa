//! `tacit purge`: remove one site's data on its owner's request, and keep
//! the evidence. In order: refuse an unknown site, or a configured one
//! without `--force`; wait until the write-ahead log holds no row of the
//! site (a running collector delivers it within seconds; a stopped one
//! must be started, and the purge rerun); count the site's rows in every
//! table that holds site data; delete them with synchronous mutations;
//! remove its rows from the quarantine files (`sink::quarantine`);
//! count again; record the attempt in `purges` and a note in the
//! disclosure ledger (whose release rows are kept, as the law requires).
//! A purge that cannot finish says which tables are left; rerunning it
//! finishes the work.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::model::clock::day_of_date;
use crate::sink::log::each_unacked;
use crate::sink::quarantine;
use crate::store::{Store, StoreError};

/// The tables holding site data, with the expression a `--before` day is
/// compared to: every event-, aggregate- and partner-audit-tier table with
/// a `site` column (`store::tiers`), so a table added there is purged too.
/// The ledger's release rows are kept, as the law requires;
/// `export_releases` has no site column: its rows are found through the
/// ledger; `export_cells` lists its release's sites (`cells_condition`).
pub fn tables() -> Vec<(&'static str, String)> {
    use crate::store::tiers::{Lifetime, Tier, TABLES};
    TABLES
        .iter()
        .filter(|t| {
            matches!(t.tier, Tier::Event | Tier::Aggregate | Tier::Audit)
                && t.columns.contains(&"site")
        })
        .filter_map(|t| match t.lifetime {
            Lifetime::EventDays(col)
            | Lifetime::AggregateMonths(col)
            | Lifetime::Horizon(col, _) => Some((t.name, format!("toDate({col})"))),
            Lifetime::Fixed => None,
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PurgeError {
    #[error("{0:?} is not a configured site and no table holds rows of it")]
    UnknownSite(String),
    #[error("{0:?} is still configured in [[sites]]: remove it first (new hits would keep arriving), or pass --force")]
    StillConfigured(String),
    #[error("--before: not a day (YYYY-MM-DD): {0:?}")]
    BadDay(String),
    #[error(
        "--before {0}: the day is in the future (a purge fence would drop new hits until then)"
    )]
    FutureDay(String),
    #[error("the write-ahead log at {dir} still holds {rows} row(s) of the site: start tacit so it delivers them, then rerun the purge")]
    InLog { dir: String, rows: u64 },
    #[error("the purge did not complete; tables still holding rows of the site: {}", .0.join(", "))]
    Incomplete(Vec<String>),
    #[error("clickhouse: {0}")]
    Store(#[from] StoreError),
    #[error("write-ahead log: {0}")]
    Log(String),
    #[error("{0}")]
    Fence(#[from] crate::store::fence::FenceError),
    #[error(transparent)]
    Quarantine(#[from] crate::sink::quarantine::QuarantineError),
}

impl From<clickhouse::error::Error> for PurgeError {
    fn from(e: clickhouse::error::Error) -> Self {
        PurgeError::Store(StoreError(e))
    }
}

/// The cut-off of a purge of a site no longer configured: every row of
/// it, whatever its time (2286-11-20, inside `DateTime64(3)`).
pub const FOREVER_MS: i64 = 10_000_000_000_000;

/// What to purge.
#[derive(Debug, Clone)]
pub struct Request {
    pub site: String,
    /// Only rows before this UTC day (`YYYY-MM-DD`).
    pub before: Option<String>,
    pub reason: String,
    pub dry_run: bool,
    pub force: bool,
}

/// Rows of the site per table (the log included), before and after.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PurgeReport {
    pub site: String,
    pub before: Option<String>,
    pub dry_run: bool,
    /// Rows found per table before deleting.
    pub found: BTreeMap<String, u64>,
    /// Rows left per table after deleting (all zero when complete).
    pub left: BTreeMap<String, u64>,
}

/// How a recorded purge ended (`purges.status`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
    strum::Display,
)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str", try_from = "String")]
pub enum PurgeStatus {
    /// Every table holds no row of the purged range any more.
    Done,
    /// Some tables still do (listed in `tables_left`).
    Incomplete,
}

crate::model::named::named!(PurgeStatus);

#[derive(clickhouse::Row, serde::Serialize)]
struct PurgeRow {
    site: String,
    before: String,
    reason: String,
    requested: i64,
    completed: i64,
    status: PurgeStatus,
    rows: Vec<(String, u64)>,
    tables_left: Vec<String>,
}

/// One recorded purge, for `tacit purges`.
#[derive(Debug, Clone, clickhouse::Row, serde::Deserialize, serde::Serialize)]
pub struct Recorded {
    pub site: String,
    pub before: String,
    pub reason: String,
    pub requested: String,
    pub completed: String,
    pub status: PurgeStatus,
    pub rows: Vec<(String, u64)>,
    pub tables_left: Vec<String>,
}

/// Rows of `site` whose time is before `cutoff_ms` in the log under `dir`
/// that ClickHouse has not acknowledged (acknowledged rows leave the disk
/// with their segment).
pub fn rows_in_log(dir: &Path, site: &str, cutoff_ms: i64) -> Result<u64, PurgeError> {
    let mut n = 0;
    each_unacked(dir, |s, ts| {
        n += u64::from(s == site.as_bytes() && ts < cutoff_ms);
        true
    })
    .map_err(|e| PurgeError::Log(e.to_string()))?;
    Ok(n)
}

/// The query parameters every condition below may name: `site`, `before`
/// (a day, with `--before`) and `cutoff` (ms).
struct Params<'a> {
    site: &'a str,
    before: Option<&'a str>,
    cutoff_ms: i64,
}

impl Params<'_> {
    fn apply(&self, q: clickhouse::query::Query) -> clickhouse::query::Query {
        let q = q.param("site", self.site).param("cutoff", self.cutoff_ms);
        match self.before {
            Some(d) => q.param("before", d),
            None => q,
        }
    }
}

fn condition(col: &str, before: bool) -> String {
    if before {
        format!("site = {{site:String}} AND {col} < {{before:Date}}")
    } else {
        "site = {site:String}".to_string()
    }
}

/// What must be gone once the purge is done: rows of the site before the
/// cut-off, by the exact time column where the fence filters by it, by
/// day elsewhere (counts of the purge day itself may grow again for a site
/// still configured).
fn left_condition(table: &str, col: &str) -> String {
    let at = "fromUnixTimestamp64Milli({cutoff:Int64}, 'UTC')";
    match crate::store::fence::FILTERED
        .iter()
        .find(|(t, _)| *t == table)
    {
        Some((_, exact)) => format!("site = {{site:String}} AND {exact} < {at}"),
        None => format!("site = {{site:String}} AND {col} < toDate({at})"),
    }
}

/// The partner-audit cells of every release covering the site (with
/// `--before`, of every period that starts before the day).
fn cells_condition(before: bool) -> &'static str {
    if before {
        "has(sites, {site:String}) AND period_start < {before:Date}"
    } else {
        "has(sites, {site:String})"
    }
}

const RELEASES_CONDITION: &str = "(partner, export, period, config_hash) IN \
     (SELECT partner, export, period, config_hash FROM disclosures \
      WHERE has(sites, {site:String}) AND channel != 'purge')";

/// The mutations that delete the site's rows, per table (with `before`,
/// only the rows before that day): the data tables, then the partner-audit
/// cells, then (a whole site only) the audit releases. Parameters as
/// `Params`.
pub fn delete_sql(store: &Store, before: bool) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = tables()
        .into_iter()
        .map(|(t, col)| {
            let sql = format!(
                "ALTER TABLE {} DELETE WHERE {}",
                store.target(t),
                condition(&col, before)
            );
            (t, sql)
        })
        .collect();
    out.push((
        "export_cells",
        format!(
            "ALTER TABLE {} DELETE WHERE {}",
            store.target("export_cells"),
            cells_condition(before)
        ),
    ));
    if !before {
        out.push((
            "export_releases",
            format!(
                "ALTER TABLE {} DELETE WHERE {RELEASES_CONDITION}",
                store.target("export_releases")
            ),
        ));
    }
    out
}

/// Rows per table: to be removed, or (with `left` = the cut-off) left
/// that must not be.
async fn counts(
    store: &Store,
    p: &Params<'_>,
    left: bool,
) -> Result<BTreeMap<String, u64>, PurgeError> {
    let client = store.client();
    let before = p.before.is_some();
    let mut out = BTreeMap::new();
    for (t, col) in tables() {
        let cond = if left {
            left_condition(t, &col)
        } else {
            condition(&col, before)
        };
        let n: u64 = p
            .apply(client.query(&format!("SELECT count() FROM {t} WHERE {cond}")))
            .fetch_one()
            .await?;
        out.insert(t.to_string(), n);
    }
    let n: u64 = p
        .apply(client.query(&format!(
            "SELECT count() FROM export_cells WHERE {}",
            cells_condition(before)
        )))
        .fetch_one()
        .await?;
    out.insert("export_cells".into(), n);
    if !before {
        let n: u64 = p
            .apply(client.query(&format!(
                "SELECT count() FROM export_releases WHERE {RELEASES_CONDITION}"
            )))
            .fetch_one()
            .await?;
        out.insert("export_releases".into(), n);
    }
    Ok(out)
}

/// What a request removes: the site, the optional `--before` day, whether
/// the site is still configured, and the cut-off (ms) before which its rows
/// are removed and never written again.
struct Scope {
    site: String,
    configured: bool,
    cutoff_ms: i64,
}

impl Scope {
    /// Check a request against the configuration, with no I/O: a bad or
    /// future day, or a configured site without `--force`, is refused.
    fn of(cfg: &Config, req: &Request, now_ms: i64) -> Result<Scope, PurgeError> {
        let site = req.site.trim().to_ascii_lowercase();
        let before_day = match req.before.as_deref() {
            Some(d) => Some(day_of_date(
                d.parse::<jiff::civil::Date>()
                    .map_err(|_| PurgeError::BadDay(d.to_string()))?,
            )),
            None => None,
        };
        if before_day.is_some_and(|d| d > crate::model::clock::day_of(now_ms)) {
            return Err(PurgeError::FutureDay(
                req.before.clone().unwrap_or_default(),
            ));
        }
        let configured = cfg.sites.iter().any(|s| s.domain == site);
        if configured && !req.force {
            return Err(PurgeError::StillConfigured(site));
        }
        // A `--before` day's start; for a site still configured (`--force`),
        // now (new hits keep arriving); otherwise every row.
        let cutoff_ms = match before_day {
            Some(d) => d as i64 * 86_400_000,
            None if configured => now_ms,
            None => FOREVER_MS,
        };
        Ok(Scope {
            site,
            configured,
            cutoff_ms,
        })
    }
}

/// Run a purge. `now_ms` is the injected clock's time. In order: the
/// scope; what there is; wait until this host's log holds none of it; the
/// fence, acknowledged by every running collector; delete; count again
/// and record; a note in the disclosure ledger.
pub async fn run(
    cfg: &Config,
    store: &Store,
    req: &Request,
    now_ms: i64,
    log_wait: Duration,
) -> Result<PurgeReport, PurgeError> {
    let scope = Scope::of(cfg, req, now_ms)?;
    let (site, cutoff_ms) = (scope.site.as_str(), scope.cutoff_ms);
    let client = store.client();
    let params = Params {
        site,
        before: req.before.as_deref(),
        cutoff_ms,
    };
    let wal = cfg.data_dir.join("wal");
    let today = crate::model::clock::day_of(now_ms);
    let found = rows_to_remove(store, &params, &wal, today).await?;
    if !scope.configured && found.values().all(|n| *n == 0) {
        return Err(PurgeError::UnknownSite(scope.site));
    }
    if req.dry_run {
        return Ok(PurgeReport {
            site: scope.site,
            before: req.before.clone(),
            dry_run: true,
            found,
            left: BTreeMap::new(),
        });
    }
    let failed = |step: &str| vec![step.to_string()];
    // Rows still in this host's log would land after the delete: a running
    // collector delivers them within seconds.
    let in_log = drain_log(&wal, site, cutoff_ms, log_wait).await?;
    if in_log > 0 {
        record(
            client,
            req,
            site,
            now_ms,
            0,
            &found,
            &failed("write-ahead log"),
        )
        .await?;
        return Err(PurgeError::InLog {
            dir: wal.display().to_string(),
            rows: in_log,
        });
    }
    // Then the fence: once every running collector has it, none of their
    // writers writes the range again, and none still runs a write that
    // read it before.
    if let Err(e) = fence(cfg, client, site, cutoff_ms, now_ms, log_wait).await {
        record(client, req, site, now_ms, 0, &found, &failed("purge fence")).await?;
        tracing::warn!(error = %e, "purge fence not acknowledged");
        return Err(e);
    }
    let found = rows_to_remove(store, &params, &wal, today).await?;
    for (table, sql) in delete_sql(store, req.before.is_some()) {
        if found.get(table).copied().unwrap_or(0) > 0 {
            params
                .apply(client.query(&sql))
                .with_setting("mutations_sync", "2")
                .execute()
                .await?;
        }
    }
    quarantine::purge_site(&wal, site, cutoff_ms, today)?;
    let left = rows_left(store, &params, &wal, today).await?;
    let tables_left: Vec<String> = left
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(t, _)| t.clone())
        .collect();
    let completed = if tables_left.is_empty() { now_ms } else { 0 };
    record(client, req, site, now_ms, completed, &found, &tables_left).await?;
    if !tables_left.is_empty() {
        return Err(PurgeError::Incomplete(tables_left));
    }
    note_in_ledger(client, req, site, now_ms).await?;
    Ok(PurgeReport {
        site: scope.site,
        before: req.before.clone(),
        dry_run: false,
        found,
        left,
    })
}

/// The rows to remove: per table, in this host's log and its quarantine.
async fn rows_to_remove(
    store: &Store,
    params: &Params<'_>,
    wal: &Path,
    today: i32,
) -> Result<BTreeMap<String, u64>, PurgeError> {
    let mut found = counts(store, params, false).await?;
    found.insert(
        "write-ahead log".into(),
        rows_in_log(wal, params.site, params.cutoff_ms)?,
    );
    found.insert(
        "quarantine".into(),
        quarantine::rows_of_site(wal, params.site, params.cutoff_ms, today)?,
    );
    Ok(found)
}

/// What is left that must not be, once the deletes ran.
async fn rows_left(
    store: &Store,
    params: &Params<'_>,
    wal: &Path,
    today: i32,
) -> Result<BTreeMap<String, u64>, PurgeError> {
    let mut left = counts(store, params, true).await?;
    left.insert(
        "quarantine".into(),
        quarantine::rows_of_site(wal, params.site, params.cutoff_ms, today)?,
    );
    left.insert(
        "write-ahead log".into(),
        rows_in_log(wal, params.site, params.cutoff_ms)?,
    );
    Ok(left)
}

/// Wait up to `wait` for this host's log to deliver the site's rows;
/// returns how many are still in it.
async fn drain_log(
    wal: &Path,
    site: &str,
    cutoff_ms: i64,
    wait: Duration,
) -> Result<u64, PurgeError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut in_log = rows_in_log(wal, site, cutoff_ms)?;
    while in_log > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        in_log = rows_in_log(wal, site, cutoff_ms)?;
    }
    Ok(in_log)
}

/// Raise the fence and wait until every live collector has applied it. A
/// member that stopped without saying so is waited for until it is
/// presumed stopped.
async fn fence(
    cfg: &Config,
    client: &clickhouse::Client,
    site: &str,
    cutoff_ms: i64,
    now_ms: i64,
    log_wait: Duration,
) -> Result<(), PurgeError> {
    let keep_days = cfg.policy.event_ttl_days + 2;
    let fence = crate::store::fence::raise(client, site, cutoff_ms, now_ms, keep_days).await?;
    let wait = log_wait.max(Duration::from_millis(
        crate::store::fence::MEMBER_LIVE_MS as u64 + 5_000,
    ));
    let members = crate::store::fence::await_members(client, &fence.id, wait).await?;
    tracing::info!(collectors = members.len(), "purge fence acknowledged");
    Ok(())
}

/// The purge's note in the disclosure ledger (no release: its rows say
/// what range of which site was removed, and why).
async fn note_in_ledger(
    client: &clickhouse::Client,
    req: &Request,
    site: &str,
    now_ms: i64,
) -> Result<(), PurgeError> {
    let range = match req.before.as_deref() {
        Some(d) => format!("rows before {d}"),
        None => "all rows".into(),
    };
    crate::export::ledger::append(
        client,
        &crate::export::ledger::Disclosure {
            time: now_ms,
            partner: String::new(),
            export: String::new(),
            period: range,
            channel: "purge".into(),
            config_hash: String::new(),
            sites: vec![site.to_string()],
            dimensions: vec![],
            metrics: vec![],
            min_visitors: 0,
            epsilon_spent: 0.0,
            rows: 0,
            suppressed: 0,
            format: String::new(),
            file_sha256: String::new(),
            note: req.reason.clone(),
        },
    )
    .await?;
    Ok(())
}

async fn record(
    client: &clickhouse::Client,
    req: &Request,
    site: &str,
    now_ms: i64,
    completed: i64,
    found: &BTreeMap<String, u64>,
    left: &[String],
) -> Result<(), clickhouse::error::Error> {
    let mut ins = client.insert::<PurgeRow>("purges").await?;
    ins.write(&PurgeRow {
        site: site.to_string(),
        before: req.before.clone().unwrap_or_default(),
        reason: req.reason.clone(),
        requested: now_ms,
        completed,
        status: if left.is_empty() {
            PurgeStatus::Done
        } else {
            PurgeStatus::Incomplete
        },
        rows: found.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        tables_left: left.to_vec(),
    })
    .await?;
    ins.end().await
}

/// Every recorded purge, oldest first.
pub async fn recorded(
    client: &clickhouse::Client,
) -> Result<Vec<Recorded>, clickhouse::error::Error> {
    client
        .query(
            "SELECT site, before, reason, toString(requested) AS requested, \
             if(completed = 0, '', toString(completed)) AS completed, status, \
             CAST(rows, 'Array(Tuple(String, UInt64))') AS rows, tables_left \
             FROM purges ORDER BY requested",
        )
        .fetch_all()
        .await
}

/// The per-table counts as lines.
pub fn describe(o: &PurgeReport) -> String {
    let mut s = format!(
        "{} rows of {}{}:\n",
        if o.dry_run { "would remove" } else { "removed" },
        o.site,
        o.before
            .as_ref()
            .map(|d| format!(" before {d}"))
            .unwrap_or_default()
    );
    for (t, n) in &o.found {
        s.push_str(&format!("  {t:<16} {n}\n"));
    }
    if !o.dry_run {
        s.push_str(&format!(
            "verified: every table now holds 0 rows of {}\n",
            o.site
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_site_and_day_are_parameters_and_mutations_go_to_local_tables_on_a_cluster() {
        let one = Store::from_parts(clickhouse::Client::default(), "tacit", None);
        let cluster = Store::from_parts(clickhouse::Client::default(), "tacit", Some("c"));
        for before in [false, true] {
            let single = delete_sql(&one, before);
            let sharded = delete_sql(&cluster, before);
            assert_eq!(single.len(), sharded.len());
            for ((t, a), (_, b)) in single.iter().zip(&sharded) {
                assert!(a.contains("{site:String}"), "{a}");
                assert_eq!(
                    a.contains("{before:Date}"),
                    before && *t != "export_releases",
                    "{a}"
                );
                assert!(a.starts_with(&format!("ALTER TABLE {t} DELETE")), "{a}");
                assert!(b.contains("ON CLUSTER 'c'"), "{b}");
                let local = crate::store::cluster::shard_key(t).is_some();
                assert_eq!(b.contains(&format!("{t}_local ON CLUSTER")), local, "{b}");
            }
        }
    }
}
