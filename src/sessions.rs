//! The sessionizer: turns a day's events into visits in `sessions`. A visit
//! is a run of one visitor's hits on one site with no gap over 30 minutes.
//! Visitor ids are per UTC day (the salt rotates), so a day is a closed
//! unit: each run recomputes whole days from `events` in ClickHouse and
//! writes them under a new version; analyst views read only the newest
//! version of each day, and older versions are deleted. Any number of tacit
//! replicas may run it at once: they compute the same visits, whichever
//! version is newest is complete, so the result does not depend on which
//! replica saw which hit.

use crate::model::clock::{day_of, format_day};

/// Inactivity that ends a visit.
pub const VISIT_GAP_SECONDS: u32 = 30 * 60;

/// `steps` (migration 0020) is left to its column default, computed from
/// `event_names` and `pages` as they are written.
const SESSIONIZE: &str = "
INSERT INTO sessions (site, day, visitor_id, start, end, pageviews, events, entry_page, exit_page,
                      referrer_source, channel, utm_campaign, country, device, event_names, pages,
                      version)
SELECT site, day, visitor_id,
       min(ts) AS start, max(ts) AS end,
       toUInt32(countIf(name = 'pageview')) AS pageviews,
       toUInt32(count()) AS events,
       argMinIf(pathname, ts, name = 'pageview') AS entry_page,
       argMaxIf(pathname, ts, name = 'pageview') AS exit_page,
       argMin(referrer_source, ts) AS referrer_source,
       argMin(channel, ts) AS channel,
       argMin(utm_campaign, ts) AS utm_campaign,
       argMin(country, ts) AS country,
       argMin(device, ts) AS device,
       arrayMap(x -> x.2, arraySort(x -> x.1, groupArray((ts, name)))) AS event_names,
       arrayMap(x -> x.2, arraySort(x -> x.1, groupArrayIf((ts, pathname), name = 'pageview'))) AS pages,
       toUInt64(?) AS version
FROM
(
    SELECT *, sum(new_visit) OVER (PARTITION BY site, visitor_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS visit_no
    FROM
    (
        SELECT site, toDate(ts) AS day, visitor_id, ts, name, pathname, referrer_source, channel,
               utm_campaign, country, device,
               if(dateDiff('second',
                           lagInFrame(ts, 1, toDateTime64(0, 3, 'UTC')) OVER (PARTITION BY site, visitor_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
                           ts) > ?, 1, 0) AS new_visit
        FROM events
        WHERE toDate(ts) = toDate(?) AND visitor_id != 0
    )
)
GROUP BY site, day, visitor_id, visit_no";

/// Recompute the visits of one UTC day under `version`, then delete older
/// versions of that day.
pub async fn sessionize_day(
    client: &clickhouse::Client,
    day: i32,
    version: u64,
) -> Result<(), clickhouse::error::Error> {
    let date = format_day(day);
    // On a cluster, each shard sessionizes its own rows (a visitor-day is
    // on one shard); on one server the setting changes nothing.
    client
        .query(SESSIONIZE)
        .bind(version)
        .bind(VISIT_GAP_SECONDS)
        .bind(&date)
        .with_setting("parallel_distributed_insert_select", "2")
        .execute()
        .await?;
    client
        .query(&format!(
            "ALTER TABLE {} DELETE WHERE day = toDate(?) AND version < ? SETTINGS mutations_sync = 1",
            crate::store::cluster::target("sessions")
        ))
        .bind(&date)
        .bind(version)
        .execute()
        .await
}

/// What a day's events were when this process last sessionized it: their
/// count and newest time (ms). A day whose events did not change since is
/// not recomputed: its newest version is still complete.
pub type Seen = std::collections::HashMap<i32, (u64, i64)>;

async fn fingerprint(
    client: &clickhouse::Client,
    day: i32,
) -> Result<(u64, i64), clickhouse::error::Error> {
    client
        .query("SELECT count(), toUnixTimestamp64Milli(max(ts)) FROM events WHERE toDate(ts) = toDate(?)")
        .bind(format_day(day))
        .fetch_one()
        .await
}

/// Recompute yesterday's and today's visits at `now_ms`, each only if its
/// events changed since this process last did (yesterday rarely does: a
/// full re-read of it every run was two thirds of the sessionizer's cost).
/// The fingerprint is read before the run, so rows that land during it
/// change the next fingerprint. Failures are logged; the next run retries.
pub async fn sessionize_recent(client: &clickhouse::Client, now_ms: i64, seen: &mut Seen) {
    let today = day_of(now_ms);
    seen.retain(|d, _| *d >= today - 1);
    for day in [today - 1, today] {
        if let Err(e) = sessionize_if_changed(client, day, now_ms as u64, seen).await {
            tracing::warn!(error = %crate::store::log_safe(&e), day = %format_day(day), "sessionizing failed; will retry");
        }
    }
}

async fn sessionize_if_changed(
    client: &clickhouse::Client,
    day: i32,
    version: u64,
    seen: &mut Seen,
) -> Result<(), clickhouse::error::Error> {
    let fp = fingerprint(client, day).await?;
    if seen.get(&day) != Some(&fp) {
        sessionize_day(client, day, version).await?;
        seen.insert(day, fp);
    }
    Ok(())
}
