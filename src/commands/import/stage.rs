//! Where an import's rows go, in two phases. **Staging**: each event is
//! encoded once (`sink::row`, the live encoding), the import's id appended,
//! and sent in `Native` blocks (`sink::native`) to `import_staging`;
//! nothing there is visible to the analyst views. **Moving**, once the
//! whole file was read: closed days the event tier still keeps go to
//! `events` and are rolled up like live days (`analytics::rollup`); older
//! days go straight to the aggregate tier through the same rollup queries
//! over the staged rows of the site (per-visitor rows are never stored past
//! the event TTL). Then the staged rows are deleted.

use crate::analytics::{rollup, sessions};
use crate::model::clock::format_day;
use crate::privacy::Event;
use crate::sink::row::{InsertTable, StoredRow, COLUMNS};
use crate::store::{Store, StoreError};

/// Rows per staged block.
const BLOCK_ROWS: usize = 32_768;

/// Sends an import's events to `import_staging` in blocks.
pub struct Stager {
    store: Store,
    import_id: u64,
    buf: Vec<u8>,
    offsets: Vec<usize>,
    pub staged: u64,
}

impl Stager {
    pub fn new(store: &Store, import_id: u64) -> Self {
        Self {
            store: store.clone(),
            import_id,
            buf: Vec::with_capacity(8 << 20),
            offsets: Vec::with_capacity(BLOCK_ROWS),
            staged: 0,
        }
    }

    /// Add one event; sends a block when one is full.
    pub async fn push(&mut self, ev: &Event) -> Result<(), StoreError> {
        self.offsets.push(self.buf.len());
        ev.write_row_binary(&mut self.buf);
        self.buf.extend_from_slice(&self.import_id.to_le_bytes());
        if self.offsets.len() >= BLOCK_ROWS {
            self.flush().await?;
        }
        Ok(())
    }

    /// Send what is buffered.
    pub async fn flush(&mut self) -> Result<(), StoreError> {
        if self.offsets.is_empty() {
            return Ok(());
        }
        let mut names = InsertTable::Events.columns();
        names.push("import_id");
        let mut types = InsertTable::Events.types().to_vec();
        types.push("UInt64");
        let (buf, offsets) = (&self.buf, &self.offsets);
        let rows = offsets
            .iter()
            .enumerate()
            .map(|(i, &a)| &buf[a..offsets.get(i + 1).copied().unwrap_or(buf.len())]);
        let block = crate::sink::native::block(&names, &types, rows, buf.len())
            .expect("events rows encode as a Native block");
        let mut ins = self.store.client().insert_formatted_with(format!(
            "INSERT INTO import_staging ({COLUMNS}, import_id) FORMAT Native"
        ));
        if self.store.cluster().is_some() {
            // The move reads the staged rows right after: no background
            // forwarding by the `Distributed` table.
            ins = ins.with_setting("insert_distributed_sync", "1");
        }
        ins.send(bytes::Bytes::from(block)).await?;
        ins.end().await?;
        self.staged += self.offsets.len() as u64;
        self.buf.clear();
        self.offsets.clear();
        Ok(())
    }
}

/// The staged events per day of an import: (day, events).
pub async fn staged_days(store: &Store, import_id: u64) -> Result<Vec<(i32, u64)>, StoreError> {
    let rows: Vec<(u16, u64)> = store
        .client()
        .query(
            "SELECT toDate(ts) AS d, count() FROM import_staging
             WHERE import_id = {id:UInt64} GROUP BY d ORDER BY d",
        )
        .param("id", import_id)
        .fetch_all()
        .await?;
    Ok(rows.into_iter().map(|(d, n)| (i32::from(d), n)).collect())
}

/// Days of `days` on which the site has data that no import brought:
/// collected live.
pub async fn live_days(store: &Store, site: &str, days: &[i32]) -> Result<Vec<i32>, StoreError> {
    if days.is_empty() {
        return Ok(vec![]);
    }
    let rows: Vec<u16> = store
        .client()
        .query(
            "SELECT DISTINCT d FROM (
                 SELECT toDate(ts) AS d FROM events
                 WHERE site = {site:String} AND toDate(ts) IN {days:Array(Date)}
                 UNION ALL
                 SELECT day AS d FROM rollup_daily
                 WHERE site = {site:String} AND dimension = 'all' AND day IN {days:Array(Date)})
             WHERE d NOT IN (SELECT day FROM import_days WHERE site = {site:String})
             ORDER BY d",
        )
        .param("site", site)
        .param("days", dates(days))
        .fetch_all()
        .await?;
    Ok(rows.into_iter().map(i32::from).collect())
}

pub fn dates(days: &[i32]) -> Vec<String> {
    days.iter().map(|d| format_day(*d)).collect()
}

/// The tables holding a site's data per day that an import writes (the
/// event tier, visits and the rollups), with each one's day expression.
pub const SITE_DAY_TABLES: &[(&str, &str)] = &[
    ("events", "toDate(ts)"),
    ("sessions", "day"),
    ("rollup_hourly", "toDate(hour)"),
    ("rollup_daily", "day"),
    ("rollup_landing_daily", "day"),
    ("rollup_filtered_daily", "day"),
    ("rollup_visits_filtered_daily", "day"),
    ("rollup_visits_daily", "day"),
    ("rollup_goals_daily", "day"),
    ("rollup_funnels_daily", "day"),
];

/// Delete every row of `site` on `days` from [`SITE_DAY_TABLES`]
/// (synchronous mutations).
pub async fn delete_site_days(store: &Store, site: &str, days: &[i32]) -> Result<(), StoreError> {
    if days.is_empty() {
        return Ok(());
    }
    for (table, day) in SITE_DAY_TABLES {
        store
            .client()
            .query(&format!(
                "ALTER TABLE {} DELETE WHERE site = {{site:String}} AND {day} IN {{days:Array(Date)}} \
                 SETTINGS mutations_sync = 1",
                store.target(table)
            ))
            .param("site", site)
            .param("days", dates(days))
            .execute()
            .await?;
    }
    Ok(())
}

/// Delete an import's staged rows.
pub async fn drop_staged(store: &Store, import_id: u64) -> Result<(), StoreError> {
    store
        .client()
        .query(&format!(
            "ALTER TABLE {} DELETE WHERE import_id = {{id:UInt64}} SETTINGS mutations_sync = 1",
            store.target("import_staging")
        ))
        .param("id", import_id)
        .execute()
        .await?;
    Ok(())
}

/// Move the staged rows of `days` (closed, still in the event tier's
/// retention) to `events`, then roll each day up as the live job would.
pub async fn move_to_events(
    store: &Store,
    import_id: u64,
    days: &[i32],
    now_ms: i64,
) -> Result<(), StoreError> {
    if days.is_empty() {
        return Ok(());
    }
    store
        .client()
        .query(&format!(
            "INSERT INTO events ({COLUMNS}) SELECT {COLUMNS} FROM import_staging
             WHERE import_id = {{id:UInt64}} AND toDate(ts) IN {{days:Array(Date)}}"
        ))
        .with_setting("insert_deduplication_token", format!("import-{import_id}"))
        .param("id", import_id)
        .param("days", dates(days))
        .execute()
        .await?;
    // The fences in force now are applied (as `tacit rollup` does).
    let fenced = crate::store::fence::Applied::of(
        crate::store::fence::active(store.client(), now_ms).await?,
        "",
    )
    .store(store);
    for &d in days {
        rollup::rollup_day(&fenced, d, now_ms.max(1) as u64).await?;
    }
    Ok(())
}

/// Write the aggregate-tier rows of `site` on `day` from the import's
/// staged rows: the rollup queries of `analytics::rollup` over the staged
/// events and the visits computed from them, under the day's newest
/// rollup version (a new one, recorded, if the day has none).
pub async fn move_to_rollups(
    store: &Store,
    import_id: u64,
    site: &str,
    day: i32,
    now_ms: i64,
) -> Result<(), StoreError> {
    let date = format_day(day);
    let client = store.client();
    let newest: u64 = client
        .query("SELECT max(version) FROM rollup_days WHERE day = {day:Date}")
        .param("day", &date)
        .fetch_one()
        .await?;
    let version = if newest > 0 {
        newest
    } else {
        now_ms.max(1) as u64
    };
    let staged =
        "(SELECT * FROM import_staging WHERE import_id = {import:UInt64} AND site = {site:String})";
    let visits = format!("({})", sessions::visits_from(staged));
    for (table, sql) in rollup::ROLLUPS {
        if !IMPORTED_ROLLUPS.contains(table) {
            continue;
        }
        let sql = sql
            .replace("FROM events", &format!("FROM {staged}"))
            .replace("FROM analytics_visits", &format!("FROM {visits}"));
        client
            .query(&sql)
            .param("day", &date)
            .param("version", version)
            .param("import", import_id)
            .param("site", site)
            .param("gap", sessions::VISIT_GAP_SECONDS)
            .execute()
            .await?;
    }
    if newest == 0 {
        client
            .query(
                "INSERT INTO rollup_days (day, version, computed_at) \
                 SELECT {day:Date}, {version:UInt64}, now()",
            )
            .param("day", &date)
            .param("version", version)
            .execute()
            .await?;
    }
    Ok(())
}

/// The rollup tables an import of web hits fills (email rollups read
/// `email_events`, which imports never write; the filtered rollups live
/// only as long as the event tier, so days older than it have none).
pub const IMPORTED_ROLLUPS: &[&str] = &[
    "rollup_hourly",
    "rollup_daily",
    "rollup_landing_daily",
    "rollup_visits_daily",
    "rollup_goals_daily",
    "rollup_funnels_daily",
];

/// Forget an import's days (it failed).
pub async fn forget_days(store: &Store, import_id: u64) -> Result<(), StoreError> {
    store
        .client()
        .query(&format!(
            "ALTER TABLE {} DELETE WHERE import_id = {{id:UInt64}} SETTINGS mutations_sync = 1",
            store.target("import_days")
        ))
        .param("id", import_id)
        .execute()
        .await?;
    Ok(())
}

/// Record which site-days an import filled (`import_days`).
pub async fn record_days(
    store: &Store,
    import_id: u64,
    site: &str,
    days: impl Iterator<Item = (i32, u64)>,
    tier: impl Fn(i32) -> &'static str,
) -> Result<(), StoreError> {
    #[derive(clickhouse::Row, serde::Serialize)]
    struct DayRow<'a> {
        import_id: u64,
        site: &'a str,
        day: u16,
        tier: &'a str,
        events: u64,
    }
    let mut ins = store.client().insert::<DayRow<'_>>("import_days").await?;
    for (d, n) in days {
        ins.write(&DayRow {
            import_id,
            site,
            day: d as u16,
            tier: tier(d),
            events: n,
        })
        .await?;
    }
    Ok(ins.end().await?)
}

/// Write an export's aggregates for `site` on `days`, all or nothing: the
/// rows go in under a version no reader sees, then each day joins its
/// newest rollup version (a closed day the event tier holds with no rollup
/// yet is rolled up first), or the import's version is recorded as the
/// day's. On failure the import's rows are deleted. Returns the rows
/// written.
pub async fn write_aggregates(
    store: &Store,
    site: &str,
    agg: &super::plausible::Aggregates,
    days: &[i32],
    now_ms: i64,
) -> Result<u64, StoreError> {
    let version = now_ms.max(1) as u64;
    let result = write_aggregates_at(store, site, agg, days, version, now_ms).await;
    if result.is_err() {
        for table in ["rollup_daily", "rollup_visits_daily"] {
            let _ = store
                .client()
                .query(&format!(
                    "ALTER TABLE {} DELETE WHERE site = {{site:String}} AND version = {{v:UInt64}} \
                     SETTINGS mutations_sync = 1",
                    store.target(table)
                ))
                .param("site", site)
                .param("v", version)
                .execute()
                .await;
        }
    }
    result
}

async fn write_aggregates_at(
    store: &Store,
    site: &str,
    agg: &super::plausible::Aggregates,
    days: &[i32],
    version: u64,
    now_ms: i64,
) -> Result<u64, StoreError> {
    #[derive(clickhouse::Row, serde::Serialize)]
    struct Daily<'a> {
        site: &'a str,
        day: u16,
        dimension: &'a str,
        value: &'a str,
        pageviews: u64,
        events: u64,
        visitors: u64,
        version: u64,
    }
    #[derive(clickhouse::Row, serde::Serialize)]
    struct VisitRow<'a> {
        site: &'a str,
        day: u16,
        kind: &'a str,
        value: &'a str,
        visits: u64,
        bounces: u64,
        duration_s: f64,
        pageviews: u64,
        version: u64,
    }
    let client = store.client();
    let mut n = 0u64;
    let mut ins = client.insert::<Daily<'_>>("rollup_daily").await?;
    for ((d, dim, value), c) in agg.daily.iter().filter(|((d, _, _), _)| days.contains(d)) {
        ins.write(&Daily {
            site,
            day: *d as u16,
            dimension: dim,
            value,
            pageviews: c.pageviews,
            events: c.events,
            visitors: c.visitors,
            version,
        })
        .await?;
        n += 1;
    }
    ins.end().await?;
    let mut ins = client.insert::<VisitRow<'_>>("rollup_visits_daily").await?;
    for ((d, kind, value), v) in agg.visits.iter().filter(|((d, _, _), _)| days.contains(d)) {
        ins.write(&VisitRow {
            site,
            day: *d as u16,
            kind,
            value,
            visits: v.visits,
            bounces: v.bounces,
            duration_s: v.duration_s,
            pageviews: v.pageviews,
            version,
        })
        .await?;
        n += 1;
    }
    ins.end().await?;
    for &d in days {
        let date = format_day(d);
        let newest: u64 = client
            .query("SELECT max(version) FROM rollup_days WHERE day = {day:Date}")
            .param("day", &date)
            .fetch_one()
            .await?;
        let newest = if newest == 0 {
            let events: u64 = client
                .query("SELECT count() FROM events WHERE toDate(ts) = {day:Date}")
                .param("day", &date)
                .fetch_one()
                .await?;
            if events > 0 {
                // Other sites' events of a closed day not rolled up yet.
                rollup::rollup_day(store, d, version - 1).await?;
                version - 1
            } else {
                0
            }
        } else {
            newest
        };
        if newest == 0 {
            client
                .query(
                    "INSERT INTO rollup_days (day, version, computed_at) \
                     SELECT {day:Date}, {version:UInt64}, now()",
                )
                .param("day", &date)
                .param("version", version)
                .execute()
                .await?;
            continue;
        }
        for table in ["rollup_daily", "rollup_visits_daily"] {
            client
                .query(&format!(
                    "INSERT INTO {table} SELECT * REPLACE ({{to:UInt64}} AS version) FROM \
                     (SELECT * FROM {table} WHERE site = {{site:String}} AND day = {{day:Date}} \
                      AND version = {{from:UInt64}})"
                ))
                .param("to", newest)
                .param("from", version)
                .param("site", site)
                .param("day", &date)
                .execute()
                .await?;
            client
                .query(&format!(
                    "ALTER TABLE {} DELETE WHERE site = {{site:String}} AND day = {{day:Date}} \
                     AND version = {{from:UInt64}} SETTINGS mutations_sync = 1",
                    store.target(table)
                ))
                .param("from", version)
                .param("site", site)
                .param("day", &date)
                .execute()
                .await?;
        }
    }
    let _ = now_ms;
    Ok(n)
}
