//! Purge fences: how `tacit purge` makes sure nothing writes a purged
//! site's rows back behind it, whatever runs in the background.
//!
//! A fence says "rows of site S whose time is before T are never written
//! again" (T is the purge's start for `--site`, the day for `--before`).
//! The purge raises it in `purge_fences` before it deletes anything. Every
//! `tacit serve` process is a *member*: a watcher task reads the fences
//! every second and, when they change, takes this module's lock for
//! writing. Every background writer (the logs' writers, each rollup and
//! its recomputation of the day's visits) holds the lock for reading from before it reads rows until
//! its write is acknowledged, and filters fenced rows out: the log's writer
//! row by row ([`Applied::blocks`]), the engine-side `INSERT … SELECT`s by
//! the `additional_table_filters` setting on every table they read
//! ([`Applied::client`]). So once the watcher holds the lock, no run that
//! read before the fence is still writing, and every later run filters.
//! Only then does it record an acknowledgement in `fence_members`, and the
//! purge deletes only after every live member (seen within
//! [`MEMBER_LIVE_MS`]) acknowledged the fence, then counts again.
//!
//! A member's view is a lease: a writer whose view is older than
//! [`LEASE_MS`] (the watcher could not reach the engine) waits instead of
//! writing, so a member that stopped acknowledging cannot be writing with
//! an old view. Fences are kept for the event TTL plus two days, so rows of
//! the purged range replayed later (a replica that was down) are dropped
//! too. A process killed while its own insert is still running inside the
//! engine is the one case this cannot see; `docs/operations.md` says so.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedRwLockReadGuard, RwLock};

/// A member not seen for this long is presumed stopped.
pub const MEMBER_LIVE_MS: i64 = 20_000;

/// How long a member's view of the fences may be used without a refresh.
pub const LEASE_MS: u64 = 10_000;

/// How often a member re-reads the fences (and, every fifth time or on a
/// change, says it is alive).
pub const POLL: Duration = Duration::from_secs(1);

/// The event-tier tables a fence filters, with the column holding the
/// time a row is about. Reads through views are filtered too: the setting
/// applies to the tables under them.
pub const FILTERED: &[(&str, &str)] = &[
    ("events", "ts"),
    ("email_events", "ts"),
    ("sessions", "start"),
    ("visits", "start"),
];

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FenceError {
    #[error("clickhouse: {}", crate::store::log_safe(.0))]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("{} running collector(s) did not acknowledge the purge fence in time ({}): make sure they can reach ClickHouse, then rerun the purge", .0.len(), .0.join(", "))]
    NotAcknowledged(Vec<String>),
}

/// One fence: rows of `site` whose time is before `cutoff_ms` stay out.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, serde::Deserialize, serde::Serialize)]
pub struct Fence {
    pub id: String,
    pub site: String,
    pub cutoff_ms: i64,
}

/// The fences a member has applied.
#[derive(Debug, Default)]
pub struct Applied {
    fences: Vec<Fence>,
    database: String,
}

impl Applied {
    /// A view of `fences`, for a one-shot command that is not a member
    /// (`tacit rollup`): it filters what was fenced when it started.
    pub fn of(fences: Vec<Fence>, database: &str) -> Self {
        Applied {
            fences,
            database: database.to_string(),
        }
    }

    /// Whether a row of `site` at `ts_ms` is fenced off.
    pub fn blocks(&self, site: &[u8], ts_ms: i64) -> bool {
        self.fences
            .iter()
            .any(|f| f.site.as_bytes() == site && ts_ms < f.cutoff_ms)
    }

    pub fn is_empty(&self) -> bool {
        self.fences.is_empty()
    }

    /// The `additional_table_filters` value that keeps fenced rows out of
    /// every read of the event-tier tables (local tables on a cluster
    /// too), or `None` with no fence.
    pub fn table_filters(&self) -> Option<String> {
        if self.fences.is_empty() {
            return None;
        }
        // One condition per site, at its latest cut-off.
        let mut by_site: std::collections::BTreeMap<&str, i64> = Default::default();
        for f in &self.fences {
            let c = by_site.entry(f.site.as_str()).or_insert(f.cutoff_ms);
            *c = (*c).max(f.cutoff_ms);
        }
        let mut entries = Vec::new();
        for (table, col) in FILTERED {
            let cond = by_site
                .iter()
                .map(|(site, cutoff)| {
                    format!(
                        "(site = {} AND {col} < fromUnixTimestamp64Milli(toInt64({cutoff}), 'UTC'))",
                        quote(site)
                    )
                })
                .collect::<Vec<_>>()
                .join(" OR ");
            let cond = format!("NOT ({cond})");
            // By bare name and qualified: a shard may run the query in
            // another current database.
            let mut names = vec![table.to_string(), format!("{table}_local")];
            if !self.database.is_empty() {
                names.push(format!("{}.{table}", self.database));
                names.push(format!("{}.{table}_local", self.database));
            }
            for name in names {
                entries.push(format!("{}: {}", quote(&name), quote(&cond)));
            }
        }
        Some(format!("{{{}}}", entries.join(", ")))
    }

    /// `client` with the fences applied to every table it reads.
    pub fn client(&self, client: &clickhouse::Client) -> clickhouse::Client {
        match self.table_filters() {
            Some(f) => client.clone().with_setting("additional_table_filters", f),
            None => client.clone(),
        }
    }

    /// `store` with the fences applied to every table it reads.
    pub fn store(&self, store: &super::Store) -> super::Store {
        store.with_client(self.client(store.client()))
    }
}

/// A ClickHouse string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// What a member runs when it applies a new fence, before it says so (the
/// collector removes the site's rows from its own quarantine files).
pub type OnApply = Arc<dyn Fn(&Fence) + Send + Sync>;

/// One process's view of the fences, shared by its writers, its watcher
/// and its heartbeat.
#[derive(Clone)]
pub struct Fences {
    inner: Arc<RwLock<Applied>>,
    member: Arc<str>,
    /// The fence ids the writers apply, as the heartbeat reports them
    /// (published only once the watcher holds the lock for writing).
    applied_ids: Arc<std::sync::Mutex<Vec<String>>>,
    /// When the watcher last read the fences and found them applied, and
    /// when the heartbeat last reached the engine, in ms after `base` (0:
    /// never). The view is fresh only while both are recent: a member
    /// whose heartbeats fail (the purge presumes it stopped) stops writing.
    read_at: Arc<AtomicU64>,
    said_at: Arc<AtomicU64>,
    on_apply: Option<OnApply>,
    base: Instant,
}

impl std::fmt::Debug for Fences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fences")
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

/// What a writer holds while it reads and writes.
pub type WriterGuard = OwnedRwLockReadGuard<Applied>;

/// How often a member says which fences it applies: never behind the
/// lock, so a long write cannot make a member look stopped.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

impl Fences {
    /// A member named `member` (unique per process) of `database`, with no
    /// view yet.
    pub fn new(member: impl Into<Arc<str>>, database: &str) -> Self {
        Fences {
            inner: Arc::new(RwLock::new(Applied::of(Vec::new(), database))),
            member: member.into(),
            applied_ids: Arc::new(std::sync::Mutex::new(Vec::new())),
            read_at: Arc::new(AtomicU64::new(0)),
            said_at: Arc::new(AtomicU64::new(0)),
            on_apply: None,
            base: Instant::now(),
        }
    }

    /// Run `f` for each fence this member applies, before it says so.
    pub fn on_apply(mut self, f: OnApply) -> Self {
        self.on_apply = Some(f);
        self
    }

    fn since_base(&self) -> u64 {
        (self.base.elapsed().as_millis() as u64).max(1)
    }

    fn recent(&self, at: &AtomicU64) -> bool {
        let at = at.load(Ordering::Acquire);
        at != 0 && self.since_base().saturating_sub(at) < LEASE_MS
    }

    /// Whether the view may still be used by a writer.
    pub fn fresh(&self) -> bool {
        self.recent(&self.read_at) && self.recent(&self.said_at)
    }

    /// A random member name for this process.
    pub fn random_member() -> String {
        format!("{:016x}", rand::random::<u64>())
    }

    pub fn member(&self) -> &str {
        &self.member
    }

    /// Hold the view for a write: waits while a fence is being applied, and
    /// while the view is older than the lease, at most `patience` in all
    /// (then `None`, and the writer retries later).
    pub async fn writer(&self, patience: Duration) -> Option<WriterGuard> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let g = tokio::time::timeout_at(deadline, self.inner.clone().read_owned())
                .await
                .ok()?;
            if self.fresh() {
                return Some(g);
            }
            drop(g);
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn ids(&self) -> Vec<String> {
        self.applied_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Read the fences; apply them if they changed (waiting for every
    /// writer holding the old view, then running the `on_apply` hook), and
    /// say so at once.
    pub async fn refresh(
        &self,
        client: &clickhouse::Client,
        now_ms: i64,
    ) -> Result<(), clickhouse::error::Error> {
        let mut now_fences = active(client, now_ms).await?;
        now_fences.sort_by(|a, b| a.id.cmp(&b.id));
        let ids: Vec<String> = now_fences.iter().map(|f| f.id.clone()).collect();
        if ids == self.ids() {
            self.read_at.store(self.since_base(), Ordering::Release);
            return Ok(());
        }
        let new: Vec<Fence> = {
            // Waits for every writer holding the old view; the heartbeat
            // keeps reporting the old ids meanwhile.
            let mut g = self.inner.write().await;
            let new = now_fences
                .iter()
                .filter(|f| !g.fences.contains(f))
                .cloned()
                .collect();
            g.fences = now_fences;
            new
        };
        if let Some(hook) = &self.on_apply {
            for f in &new {
                hook(f);
            }
        }
        *self.applied_ids.lock().unwrap_or_else(|p| p.into_inner()) = ids.clone();
        tracing::info!(fences = ids.len(), "purge fences applied");
        self.say(client, ids, false).await?;
        self.read_at.store(self.since_base(), Ordering::Release);
        Ok(())
    }

    /// Record this member's state (the engine's clock decides liveness).
    async fn say(
        &self,
        client: &clickhouse::Client,
        applied: Vec<String>,
        stopped: bool,
    ) -> Result<(), clickhouse::error::Error> {
        crate::store::timed(
            Duration::from_millis(LEASE_MS / 2),
            client
                .query(
                    "INSERT INTO fence_members (member, seen, applied, stopped)
                     SELECT {member:String}, now64(3), {applied:Array(String)}, {stopped:UInt8}",
                )
                .param("member", &*self.member)
                .param("applied", applied)
                .param("stopped", stopped as u8)
                .execute(),
        )
        .await?;
        self.said_at.store(self.since_base(), Ordering::Release);
        Ok(())
    }

    /// The heartbeat: say which fences are applied every [`HEARTBEAT`],
    /// without ever taking the lock, until `stop`.
    async fn beat(self, client: clickhouse::Client, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.say(&client, self.ids(), false).await {
                tracing::debug!(error = %crate::store::log_safe(&e), "purge fence heartbeat failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(HEARTBEAT) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// The watcher of `tacit serve`: refresh every [`POLL`] until `stop`.
    async fn watch(
        self,
        client: clickhouse::Client,
        clock: crate::model::clock::SharedClock,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut failing = false;
        loop {
            tokio::select! {
                r = self.refresh(&client, clock.now_ms()) => match r {
                    Ok(()) => {
                        if failing {
                            tracing::info!("purge fences readable again");
                        }
                        failing = false;
                    }
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %crate::store::log_safe(&e), "cannot read purge fences; writers pause when the lease ends");
                        }
                        failing = true;
                    }
                },
                _ = stop.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// A member's background tasks; [`Member::leave`] stops them and says the
/// member left (call it once its writers have stopped).
pub struct Member {
    fences: Fences,
    client: clickhouse::Client,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Member {
    pub async fn leave(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        if let Err(e) = self.fences.say(&self.client, Vec::new(), true).await {
            tracing::warn!(error = %crate::store::log_safe(&e), "cannot record that this collector left the purge fences");
        }
    }
}

/// Make this process a member of `database`: read the fences once and say
/// so (writers start with a view), then keep both fresh until
/// [`Member::leave`].
pub async fn start(
    client: clickhouse::Client,
    database: &str,
    clock: crate::model::clock::SharedClock,
    on_apply: Option<OnApply>,
) -> Result<(Fences, Member), clickhouse::error::Error> {
    let mut fences = Fences::new(Fences::random_member(), database);
    if let Some(f) = on_apply {
        fences = fences.on_apply(f);
    }
    fences.refresh(&client, clock.now_ms()).await?;
    fences.say(&client, fences.ids(), false).await?;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let tasks = vec![
        tokio::spawn(fences.clone().watch(client.clone(), clock, rx.clone())),
        tokio::spawn(fences.clone().beat(client.clone(), rx)),
    ];
    Ok((
        fences.clone(),
        Member {
            fences,
            client,
            stop,
            tasks,
        },
    ))
}

/// The fences in force at `now_ms`.
pub async fn active(
    client: &clickhouse::Client,
    now_ms: i64,
) -> Result<Vec<Fence>, clickhouse::error::Error> {
    client
        .query(
            "SELECT id, toString(site) AS site, toUnixTimestamp64Milli(cutoff) AS cutoff_ms
             FROM purge_fences
             WHERE expires > fromUnixTimestamp64Milli({now:Int64}, 'UTC')
             ORDER BY id",
        )
        .param("now", now_ms)
        .fetch_all()
        .await
}

/// Raise a fence for `site` before `cutoff_ms`, kept `keep_days`; returns it.
pub async fn raise(
    client: &clickhouse::Client,
    site: &str,
    cutoff_ms: i64,
    now_ms: i64,
    keep_days: u32,
) -> Result<Fence, clickhouse::error::Error> {
    let fence = Fence {
        id: format!("{now_ms:013}-{:08x}", rand::random::<u32>()),
        site: site.to_string(),
        cutoff_ms,
    };
    client
        .query(
            "INSERT INTO purge_fences (id, site, cutoff, raised, expires)
             SELECT {id:String}, {site:String}, fromUnixTimestamp64Milli({cutoff:Int64}, 'UTC'),
                    fromUnixTimestamp64Milli({now:Int64}, 'UTC'),
                    fromUnixTimestamp64Milli({now:Int64}, 'UTC') + toIntervalDay({keep_days:UInt32})",
        )
        .param("id", &fence.id)
        .param("site", site)
        .param("cutoff", cutoff_ms)
        .param("now", now_ms)
        .param("keep_days", keep_days)
        .execute()
        .await?;
    Ok(fence)
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct MemberRow {
    member: String,
    has: u8,
}

/// Wait until every live member has applied fence `id`; returns the
/// members that did. Members are live when seen within
/// [`MEMBER_LIVE_MS`] of the engine's clock.
pub async fn await_members(
    client: &clickhouse::Client,
    id: &str,
    wait: Duration,
) -> Result<Vec<String>, FenceError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let rows: Vec<MemberRow> = client
            .query(
                "SELECT member, toUInt8(has(argMax(applied, seen), {id:String})) AS has
                 FROM fence_members
                 GROUP BY member
                 HAVING max(seen) > now64(3) - toIntervalMillisecond({live_ms:UInt64})
                    AND argMax(stopped, seen) = 0
                 ORDER BY member",
            )
            .param("id", id)
            .param("live_ms", MEMBER_LIVE_MS)
            .fetch_all()
            .await?;
        let missing: Vec<String> = rows
            .iter()
            .filter(|r| r.has == 0)
            .map(|r| r.member.clone())
            .collect();
        if missing.is_empty() {
            return Ok(rows.into_iter().map(|r| r.member).collect());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(FenceError::NotAcknowledged(missing));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(fences: Vec<Fence>) -> Applied {
        Applied::of(fences, "db")
    }

    #[test]
    fn a_fence_blocks_only_its_site_before_its_cutoff() {
        let a = applied(vec![Fence {
            id: "1".into(),
            site: "gone.example".into(),
            cutoff_ms: 1_000,
        }]);
        assert!(a.blocks(b"gone.example", 999));
        assert!(!a.blocks(b"gone.example", 1_000));
        assert!(!a.blocks(b"kept.example", 10));
    }

    #[test]
    fn filters_name_every_table_and_quote_the_site() {
        let a = applied(vec![Fence {
            id: "1".into(),
            site: "a'b".into(),
            cutoff_ms: 5,
        }]);
        let f = a.table_filters().expect("a fence");
        for (t, _) in FILTERED {
            assert!(f.contains(&format!("'{t}': ")), "{t} in {f}");
            assert!(f.contains(&format!("'{t}_local': ")), "{t}_local in {f}");
            assert!(f.contains(&format!("'db.{t}': ")), "db.{t} in {f}");
            assert!(
                f.contains(&format!("'db.{t}_local': ")),
                "db.{t}_local in {f}"
            );
        }
        assert!(f.contains("a\\\\\\'b"), "{f}");
        assert!(applied(vec![]).table_filters().is_none());
    }
}
