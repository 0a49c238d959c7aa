//! Closed-day rollups: the move of a day from the event tier (visitor ids,
//! visits, millisecond times; kept `policy.event_ttl_days`) to the
//! aggregate tier (counts only; kept `policy.aggregate_ttl_months`).
//!
//! A UTC day is closed once its salt is gone (two days later) plus
//! `policy.rollup_delay_minutes`. Rolling it up re-sessionizes it if its
//! visits do not hold exactly its events (so late rows count), then writes
//! each `rollup_*` table with one `INSERT … SELECT` from the event tier
//! under one version, records the version in
//! `rollup_days` last, and deletes older versions. Analyst views read the
//! newest recorded version of a closed day and the event tier for the days
//! not rolled up, so a reader never sees half a rollup. Visitor ids are
//! per day, so an exact daily count (`uniqExact`) is all a range needs.
//!
//! Which days: every closed day the event tier still holds in full that has
//! events and no rollup, only one finalized from the old sketches (version 0), a
//! rollup whose event count no longer matches the events (rows that arrived
//! late, e.g. replayed from the write-ahead log after an outage), or one
//! whose newest version has no per-visit landing counts
//! (`rollup_landing_daily`, migration 0028: rolled up before it existed). Email
//! opens and clicks (`email_events`) are rolled up with the same days and
//! counted in the same comparison. Rows `tacit import` wrote straight to
//! the aggregate tier (`import_days`, tier `aggregate`) are left out of the
//! comparison and carried into each new version of their day.

use std::time::Duration;

use crate::model::clock::{day_of, format_day, SharedClock};
use crate::store::{Store, StoreError};

/// The rollup of one table for one day, with the query parameters
/// `{version:UInt64}` and `{day:Date}` (`tacit import` runs the same
/// queries over its staged rows for days older than the event tier).
pub const ROLLUPS: &[(&str, &str)] = &[
    (
        "rollup_hourly",
        "INSERT INTO rollup_hourly (site, hour, pageviews, events, visitors, version)
         SELECT site, toStartOfHour(ts) AS hour, countIf(name = 'pageview'), count(),
                uniqExactIf(visitor_id, visitor_id != 0), {version:UInt64}
         FROM events WHERE toDate(ts) = {day:Date} GROUP BY site, hour",
    ),
    (
        "rollup_daily",
        "INSERT INTO rollup_daily (site, day, dimension, value, pageviews, events, visitors, version)
         SELECT site, toDate(ts) AS day, kv.1 AS dimension, kv.2 AS value, countIf(name = 'pageview'),
                count(), uniqExactIf(visitor_id, visitor_id != 0), {version:UInt64}
         FROM events
         ARRAY JOIN arrayConcat(
             [('all', ''), ('pathname', pathname), ('hostname', hostname),
              ('referrer_source', referrer_source), ('channel', toString(channel)),
              ('utm_source', utm_source), ('utm_medium', toString(utm_medium)),
              ('utm_campaign', utm_campaign), ('utm_content', utm_content), ('utm_term', utm_term),
              ('country', toString(country)), ('region', toString(region)), ('device', toString(device)),
              ('browser', toString(browser)), ('os', toString(os)), ('language', toString(language)),
              ('screen', toString(screen)), ('event', toString(name))],
             arrayMap((k, v) -> (concat('prop:', toString(k)), v), prop_keys, prop_values)) AS kv
         WHERE toDate(ts) = {day:Date}
         GROUP BY site, day, dimension, value",
    ),
    (
        // Each hit by its visit's landing values (the first hit of the
        // visit: the sessionizer's gap rule over the day's events, so an
        // import's staged rows roll up the same way); an anonymous hit,
        // in no visit, by its own. One tuple of the eight values per hit.
        "rollup_landing_daily",
        "INSERT INTO rollup_landing_daily (site, day, dimension, value, pageviews, events, visitors, version)
         SELECT site, {day:Date} AS day, kv.1 AS dimension, kv.2 AS value, countIf(name = 'pageview'), count(),
                uniqExactIf(visitor_id, visitor_id != 0), {version:UInt64}
         FROM
         (
             SELECT site, name, visitor_id,
                    if(visitor_id = 0, l, argMin(l, ts) OVER (PARTITION BY site, visitor_id, visit_no)) AS landing
             FROM
             (
                 SELECT site, name, visitor_id, ts, l,
                        sum(new_visit) OVER (PARTITION BY site, visitor_id ORDER BY ts, new_visit DESC ROWS UNBOUNDED PRECEDING) AS visit_no
                 FROM
                 (
                     SELECT site, name, visitor_id, ts,
                            (toString(referrer_source), toString(referrer_host), toString(channel), utm_source,
                             toString(utm_medium), utm_campaign, utm_content, utm_term) AS l,
                            if(dateDiff('second',
                                        lagInFrame(ts, 1, toDateTime64(0, 3, 'UTC'))
                                            OVER (PARTITION BY site, visitor_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
                                        ts) > {gap:UInt32}, 1, 0) AS new_visit
                     FROM events WHERE toDate(ts) = {day:Date}
                 )
             )
         )
         ARRAY JOIN [('referrer_source', landing.1), ('referrer', landing.2), ('channel', landing.3), ('utm_source', landing.4),
                     ('utm_medium', landing.5), ('utm_campaign', landing.6), ('utm_content', landing.7), ('utm_term', landing.8)] AS kv
         GROUP BY site, dimension, value",
    ),
    (
        // Within the event retention only (the table's TTL): each hit by
        // its own value of each filtering dimension, then as in
        // `rollup_daily` and, for landing values, `rollup_landing_daily`.
        "rollup_filtered_daily",
        "INSERT INTO rollup_filtered_daily
             (site, day, filter, filter_value, dimension, value, pageviews, events, visitors, version)
         SELECT site, {day:Date} AS day, f.1 AS filter, f.2 AS filter_value, kv.1 AS dimension, kv.2 AS value,
                countIf(name = 'pageview'), count(), uniqExactIf(visitor_id, visitor_id != 0), {version:UInt64}
         FROM
         (
             SELECT site, name, visitor_id, pathname, country, device, browser, os,
                    if(visitor_id = 0, l, argMin(l, ts) OVER (PARTITION BY site, visitor_id, visit_no)) AS landing
             FROM
             (
                 SELECT *, sum(new_visit) OVER (PARTITION BY site, visitor_id ORDER BY ts, new_visit DESC ROWS UNBOUNDED PRECEDING) AS visit_no
                 FROM
                 (
                     SELECT site, name, visitor_id, ts, pathname, toString(country) AS country, toString(device) AS device,
                            toString(browser) AS browser, toString(os) AS os,
                            (toString(referrer_source), toString(referrer_host), toString(channel), utm_source,
                             toString(utm_medium), utm_campaign, utm_content, utm_term) AS l,
                            if(dateDiff('second',
                                        lagInFrame(ts, 1, toDateTime64(0, 3, 'UTC'))
                                            OVER (PARTITION BY site, visitor_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
                                        ts) > {gap:UInt32}, 1, 0) AS new_visit
                     FROM events WHERE toDate(ts) = {day:Date}
                 )
             )
         )
         ARRAY JOIN [('country', country), ('device', device), ('browser', browser), ('os', os)] AS f
         ARRAY JOIN [('all', ''), ('pathname', pathname), ('referrer_source', landing.1), ('referrer', landing.2),
                     ('channel', landing.3), ('utm_source', landing.4), ('utm_medium', landing.5), ('utm_campaign', landing.6),
                     ('utm_content', landing.7), ('utm_term', landing.8), ('country', country), ('device', device),
                     ('browser', browser), ('os', os)] AS kv
         GROUP BY site, filter, filter_value, dimension, value",
    ),
    (
        // The day's visits (the sessionizer's gap rule, as above) by the
        // filter a visit matches on the event tier: its landing hit's
        // country and device, and every browser and OS of its visitor-day.
        "rollup_visits_filtered_daily",
        "INSERT INTO rollup_visits_filtered_daily
             (site, day, filter, filter_value, kind, value, visits, bounces, duration_s, pageviews, version)
         SELECT site, {day:Date} AS day, f.1 AS filter, f.2 AS filter_value, kv.1 AS kind, kv.2 AS value,
                count(), countIf(n_events <= 1), sum(dateDiff('millisecond', first_hit, last_hit) / 1000.0), sum(n_pageviews),
                {version:UInt64}
         FROM
         (
             SELECT site, visitor_id, visit_no, min(ts) AS first_hit, max(ts) AS last_hit,
                    countIf(name = 'pageview') AS n_pageviews, count() AS n_events,
                    argMinIf(pathname, ts, name = 'pageview') AS entry, argMaxIf(pathname, ts, name = 'pageview') AS exit,
                    argMin(country, ts) AS v_country, argMin(device, ts) AS v_device,
                    any(browsers) AS v_browsers, any(systems) AS v_systems
             FROM
             (
                 SELECT *, sum(new_visit) OVER (PARTITION BY site, visitor_id ORDER BY ts, new_visit DESC ROWS UNBOUNDED PRECEDING) AS visit_no,
                        groupUniqArray(browser) OVER (PARTITION BY site, visitor_id) AS browsers,
                        groupUniqArray(os) OVER (PARTITION BY site, visitor_id) AS systems
                 FROM
                 (
                     SELECT site, name, visitor_id, ts, pathname, toString(country) AS country, toString(device) AS device,
                            toString(browser) AS browser, toString(os) AS os,
                            if(dateDiff('second',
                                        lagInFrame(ts, 1, toDateTime64(0, 3, 'UTC'))
                                            OVER (PARTITION BY site, visitor_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
                                        ts) > {gap:UInt32}, 1, 0) AS new_visit
                     FROM events WHERE toDate(ts) = {day:Date} AND visitor_id != 0
                 )
             )
             GROUP BY site, visitor_id, visit_no
         )
         ARRAY JOIN arrayConcat([('country', v_country), ('device', v_device)],
                                arrayMap(b -> ('browser', b), v_browsers), arrayMap(o -> ('os', o), v_systems)) AS f
         ARRAY JOIN [('all', ''), ('entry_page', entry), ('exit_page', exit)] AS kv
         GROUP BY site, filter, filter_value, kind, value",
    ),
    (
        "rollup_visits_daily",
        "INSERT INTO rollup_visits_daily
             (site, day, kind, value, visits, bounces, duration_s, pageviews, version)
         SELECT site, day, kv.1 AS kind, kv.2 AS value, count(), sum(bounced), sum(duration_s),
                sum(pageviews), {version:UInt64}
         FROM analytics_visits
         ARRAY JOIN [('all', ''), ('entry_page', entry_page), ('exit_page', exit_page)] AS kv
         WHERE day = {day:Date}
         GROUP BY site, day, kind, value",
    ),
    (
        "rollup_goals_daily",
        "INSERT INTO rollup_goals_daily (site, day, goal_kind, goal, converted_visits, version)
         SELECT site, day, if(startsWith(g, '/'), 'page', 'event') AS goal_kind, g AS goal, count(),
                {version:UInt64}
         FROM analytics_visits
         ARRAY JOIN arrayDistinct(arrayConcat(arrayFilter(e -> e != 'pageview', event_names), pages)) AS g
         WHERE day = {day:Date}
         GROUP BY site, day, goal_kind, goal",
    ),
    (
        "rollup_funnels_daily",
        "INSERT INTO rollup_funnels_daily (site, day, funnel, step, name, visits, version)
         SELECT site, day, funnel, toUInt8(s) AS step, steps[s] AS name, countIf(depth >= s), {version:UInt64}
         FROM
         (
             SELECT v.site AS site, v.day AS day, f.name AS funnel, f.steps AS steps,
                    arrayFold(
                        (acc, hit) -> if(acc < length(f.steps) AND hit = f.steps[acc + 1], acc + 1, acc),
                        arrayMap((n, k) -> if(n = 'pageview', v.pages[k], n), v.event_names,
                                 arrayCumSum(arrayMap(n -> toUInt32(n = 'pageview'), v.event_names))),
                        toUInt64(0)) AS depth
             FROM analytics_visits AS v
             INNER JOIN (SELECT site, name, steps FROM funnel_definitions FINAL) AS f ON f.site = v.site
             WHERE v.day = {day:Date}
         )
         ARRAY JOIN arrayEnumerate(steps) AS s
         GROUP BY site, day, funnel, step, name",
    ),
    (
        "rollup_email_daily",
        // From the table, not the `email_counts` view: a definer view
        // escapes the purge fences' table filters. The same grouping.
        "INSERT INTO rollup_email_daily
             (site, day, campaign, variant, kind, link, class, machine, events, visitors, version)
         SELECT site, toDate(ts) AS day, campaign, variant, kind, link, class, machine,
                count() AS events, uniqExactIf(visitor_id, visitor_id != 0) AS visitors, {version:UInt64}
         FROM email_events
         ARRAY JOIN if(kind = 'click', ['', concat(link_host, link_path)], ['']) AS link
         WHERE toDate(ts) = {day:Date}
         GROUP BY site, day, campaign, variant, kind, link, class, machine",
    ),
];

/// Tables holding rollup rows, each with a `day` and a `version` column.
pub fn tables() -> impl Iterator<Item = &'static str> {
    ROLLUPS.iter().map(|(table, _)| *table)
}

/// When days close and how long the event tier keeps them.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub event_ttl_days: u32,
    /// After a day's salt is gone (start of the day after next), wait this
    /// long before rolling the day up.
    pub delay: Duration,
}

impl Schedule {
    /// The days to consider at `now_ms`: closed, and still held in full by
    /// the event tier (oldest first).
    pub fn candidates(&self, now_ms: i64) -> std::ops::RangeInclusive<i32> {
        let newest_closed = day_of(now_ms - self.delay.as_millis() as i64) - 2;
        let oldest_kept = day_of(now_ms) - self.event_ttl_days as i32 + 1;
        oldest_kept..=newest_closed
    }
}

/// Roll up one day under `version`: recompute its visits from its events
/// unless a previous rollup's already hold every one of them (no late row
/// came since), fill every rollup table, record the version, then delete
/// older versions.
pub async fn rollup_day(store: &Store, day: i32, version: u64) -> Result<(), StoreError> {
    if !crate::analytics::sessions::complete(store, day).await? {
        crate::analytics::sessions::sessionize_day(store, day, version).await?;
    }
    rollup_tables(store, day, version).await
}

/// The rollup proper: fill every rollup table for one day under `version`
/// from the event tier and the visits, record the version, delete older
/// ones. On a cluster this reads across shards (exact counts merge) and
/// writes one row per key.
pub async fn rollup_tables(store: &Store, day: i32, version: u64) -> Result<(), StoreError> {
    let date = format_day(day);
    let client = store.client();
    let run = |sql: &str| {
        client
            .query(sql)
            .param("day", &date)
            .param("version", version)
            .param("gap", crate::analytics::sessions::VISIT_GAP_SECONDS)
    };
    for (_, sql) in ROLLUPS {
        run(sql).execute().await?;
    }
    for sql in keep_imported_sql() {
        run(&sql).execute().await?;
    }
    run("INSERT INTO rollup_days (day, version, computed_at) \
         SELECT {day:Date}, {version:UInt64}, now()")
    .execute()
    .await?;
    let older: u64 = run(
        "SELECT count() FROM rollup_days WHERE day = {day:Date} AND version < {version:UInt64}",
    )
    .fetch_one()
    .await?;
    if older == 0 {
        return Ok(());
    }
    for sql in delete_older_sql(store) {
        run(&sql).execute().await?;
    }
    Ok(())
}

/// Rows that `tacit import` wrote straight to the aggregate tier (the
/// site-days `import_days` lists as `aggregate`: an export's aggregates,
/// or days past the event TTL) have no events to be recomputed from: each
/// new version of their day takes them over from the version before it.
/// (The filter sits in a subquery: in the outer query the `version` alias
/// of `REPLACE` would shadow the column.)
fn keep_imported_sql() -> Vec<String> {
    tables()
        .filter(|t| *t != "rollup_email_daily")
        .map(|t| {
            let day = if t == "rollup_hourly" { "toDate(hour)" } else { "day" };
            format!(
                "INSERT INTO {t} SELECT * REPLACE ({{version:UInt64}} AS version) FROM
                 (SELECT * FROM {t}
                  WHERE {day} = {{day:Date}}
                    AND version = (SELECT max(version) FROM rollup_days
                                   WHERE day = {{day:Date}} AND version < {{version:UInt64}})
                    AND (site, {day}) IN (SELECT site, day FROM import_days WHERE tier = 'aggregate'))"
            )
        })
        .collect()
}

/// The mutations that delete a day's older rollup versions, rollup tables
/// first and `rollup_days` last.
pub fn delete_older_sql(store: &Store) -> Vec<String> {
    tables()
        .chain(["rollup_days"])
        .map(|table| {
            format!(
                "ALTER TABLE {} DELETE WHERE day = {{day:Date}} AND version < {{version:UInt64}} \
                 SETTINGS mutations_sync = 1",
                store.target(table)
            )
        })
        .collect()
}

/// The closed days that need a (new) rollup at `now_ms`.
pub async fn due(store: &Store, schedule: Schedule, now_ms: i64) -> Result<Vec<i32>, StoreError> {
    let days = schedule.candidates(now_ms);
    if days.is_empty() {
        return Ok(vec![]);
    }
    let (from, to) = (format_day(*days.start()), format_day(*days.end()));
    let rows: Vec<u16> = store
        .client()
        .query(
            "SELECT days.d
             FROM (SELECT {from:Date} + number AS d
                   FROM numbers(toUInt64(dateDiff('day', {from:Date}, {to:Date}) + 1))) AS days
             LEFT JOIN (SELECT day, count() AS events, countIf(web = 1) AS hits FROM
                            (SELECT toDate(ts) AS day, 1 AS web FROM events
                             UNION ALL SELECT toDate(ts) AS day, 0 AS web FROM email_events)
                        WHERE day BETWEEN {from:Date} AND {to:Date} GROUP BY day) AS e ON e.day = days.d
             LEFT JOIN (SELECT day, sum(n) AS rolled FROM
                            (SELECT day, version, events AS n FROM rollup_daily WHERE dimension = 'all'
                               AND (site, day) NOT IN (SELECT site, day FROM import_days WHERE tier = 'aggregate')
                             UNION ALL SELECT day, version, events AS n FROM rollup_email_daily WHERE link = '')
                        WHERE day BETWEEN {from:Date} AND {to:Date}
                          AND (day, version) IN (SELECT day, max(version) FROM rollup_days GROUP BY day)
                        GROUP BY day) AS r ON r.day = days.d
             LEFT JOIN (SELECT day, max(version) AS v, count() AS markers FROM rollup_days GROUP BY day) AS m
                  ON m.day = days.d
             LEFT JOIN (SELECT day, max(version) AS v FROM rollup_landing_daily
                        WHERE day BETWEEN {from:Date} AND {to:Date} GROUP BY day) AS l ON l.day = days.d
             WHERE (m.markers = 0 AND e.events > 0) OR (m.markers > 0 AND m.v = 0) OR e.events != r.rolled
                OR (m.markers > 0 AND e.hits > 0 AND l.v != m.v)
             ORDER BY days.d
             SETTINGS join_use_nulls = 0",
        )
        .param("from", &from)
        .param("to", &to)
        .fetch_all()
        .await?;
    Ok(rows.into_iter().map(i32::from).collect())
}

/// Roll up every due day at `now_ms`; returns the days rolled up.
pub async fn run_once(
    store: &Store,
    schedule: Schedule,
    now_ms: i64,
) -> Result<Vec<i32>, StoreError> {
    let days = due(store, schedule, now_ms).await?;
    // Not a fence member: the fences in force now are applied.
    let fenced = crate::store::fence::Applied::of(
        crate::store::fence::active(store.client(), now_ms).await?,
        "",
    )
    .store(store);
    for &d in &days {
        rollup_day(&fenced, d, now_ms.max(1) as u64).await?;
    }
    Ok(days)
}

/// One configured funnel of one site, as `funnel_definitions` holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, clickhouse::Row, serde::Deserialize)]
pub struct FunnelDef {
    pub site: String,
    pub name: String,
    /// In order: `/path` for a page view, otherwise an event name.
    pub steps: Vec<String>,
}

/// Make `funnel_definitions` hold exactly `funnels`. Returns whether
/// anything changed.
pub async fn sync_funnels(store: &Store, funnels: &[FunnelDef]) -> Result<bool, StoreError> {
    let client = store.client();
    let mut have: Vec<FunnelDef> = client
        .query("SELECT toString(site) AS site, name, steps FROM funnel_definitions FINAL")
        .fetch_all::<FunnelDef>()
        .await?;
    let mut want = funnels.to_vec();
    want.sort();
    have.sort();
    if have == want {
        return Ok(false);
    }
    for FunnelDef { site, name, steps } in &want {
        client
            .query(
                "INSERT INTO funnel_definitions (site, name, steps) \
                 SELECT {site:String}, {name:String}, {steps:Array(String)}",
            )
            .param("site", site)
            .param("name", name)
            .param("steps", steps)
            .execute()
            .await?;
    }
    let keep: Vec<String> = want
        .iter()
        .map(|f| format!("{}\u{0}{}", f.site, f.name))
        .collect();
    client
        .query(&format!(
            "DELETE FROM {} WHERE NOT has({{keep:Array(String)}}, concat(toString(site), char(0), name))",
            store.target("funnel_definitions")
        ))
        .param("keep", keep)
        .execute()
        .await?;
    client
        .query(&format!(
            "OPTIMIZE TABLE {} FINAL",
            store.target("funnel_definitions")
        ))
        .execute()
        .await?;
    Ok(true)
}

/// Runs in `tacit serve`: every `every`, roll up the days that are due
/// (the open days' visits are built live from the events' fragment ids,
/// `visits/`). Several replicas may run it at once: a rollup writes
/// a complete version and the newest recorded one is what views read.
pub async fn run(
    store: Store,
    clock: SharedClock,
    fences: crate::store::fence::Fences,
    mut stop: tokio::sync::watch::Receiver<bool>,
    schedule: Schedule,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stopping = |stop: &tokio::sync::watch::Receiver<bool>| *stop.borrow();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if stopping(&stop) {
            return;
        }
        let now = clock.now_ms();
        let days = match due(&store, schedule, now).await {
            Ok(days) => days,
            Err(e) => {
                tracing::warn!(error = %e, "rollup failed; will retry");
                continue;
            }
        };
        let mut done = Vec::new();
        for d in days {
            if stopping(&stop) {
                return;
            }
            let Some(fence) = fences.writer(every).await else {
                break;
            };
            let fenced = fence.store(&store);
            match rollup_day(&fenced, d, now.max(1) as u64).await {
                Ok(()) => done.push(format_day(d)),
                Err(e) => {
                    tracing::warn!(error = %e, "rollup failed; will retry");
                    break;
                }
            }
        }
        if !done.is_empty() {
            tracing::info!(days = %done.join(","), "rolled up closed days");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollups_read_only_what_the_purge_fences_filter() {
        // Tables the fences filter, plain (invoker) views over them, and
        // the funnel definitions (no visitor data). A definer view would
        // escape the filters.
        let allowed = [
            "events",
            "email_events",
            "analytics_visits",
            "funnel_definitions",
        ];
        for (table, sql) in ROLLUPS {
            for part in sql.split("FROM").skip(1) {
                let word = part
                    .trim_start()
                    .trim_start_matches('(')
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("");
                if word.is_empty() || word == "SELECT" {
                    continue;
                }
                assert!(allowed.contains(&word), "{table} reads {word}");
            }
        }
    }

    const MS_PER_DAY: i64 = 86_400_000;

    #[test]
    fn a_day_closes_two_days_later_after_the_delay() {
        let s = Schedule {
            event_ttl_days: 30,
            delay: Duration::from_secs(3600),
        };
        let day = 20_000;
        let start = day as i64 * MS_PER_DAY;
        // At 00:30 on day+2 the delay has not passed: day-1 is the newest closed.
        assert_eq!(
            *s.candidates(start + 2 * MS_PER_DAY + 1_800_000).end(),
            day - 1
        );
        // At 01:00 it has.
        assert_eq!(*s.candidates(start + 2 * MS_PER_DAY + 3_600_000).end(), day);
        // The oldest candidate is the oldest day the event tier holds in full.
        assert_eq!(*s.candidates(start).start(), day - 29);
    }
}
