//! The numbers behind an export: one row per combination of dimension
//! values, counted exactly from `events` (`uniqExact` visitors; visits
//! sessionized in the query with the same 30-minute rule as `sessions`).
//! Visit metrics belong to the cell of the visit's first hit. An email
//! export counts from `email_events`, people only (`class = 'human'`):
//! visitors are distinct daily readers, events their opens and clicks.

use serde::Deserialize;

use super::period::Period;
use super::suppress::CellKeys;
use crate::analytics::sessions::VISIT_GAP_SECONDS;
use crate::config::exports::{Dimension, ExportSpec, Field, Source};
use crate::model::clock::format_day;

#[derive(Debug, Clone, PartialEq, clickhouse::Row, Deserialize)]
pub struct Cell {
    pub keys: Vec<String>,
    /// Exact distinct visitors (anonymous hits not counted).
    pub visitors: u64,
    pub pageviews: u64,
    pub events: u64,
    pub visits: u64,
    pub bounces: u64,
    pub duration_ms: u64,
}

impl CellKeys for Cell {
    fn keys(&self) -> &[String] {
        &self.keys
    }
    fn visitors(&self) -> u64 {
        self.visitors
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// SQL for one dimension over `events` columns.
pub fn dimension_sql(d: &Dimension) -> String {
    match d {
        Dimension::Field(Field::Date) => "toString(toDate(ts))".into(),
        Dimension::Field(Field::Week) => "toString(toMonday(ts))".into(),
        Dimension::Field(Field::Month) => "formatDateTime(ts, '%Y-%m')".into(),
        Dimension::Field(Field::Event) => "toString(name)".into(),
        Dimension::Field(Field::EmailCampaign) => "toString(campaign)".into(),
        Dimension::Field(Field::EmailVariant) => "toString(variant)".into(),
        Dimension::Field(Field::EmailKind) => "toString(kind)".into(),
        Dimension::Field(f) => format!("toString({})", f.as_str()),
        Dimension::Prop(k) => format!("prop_values[indexOf(prop_keys, {})]", quote(k)),
    }
}

/// The rows a source counts: the table and the condition on it.
pub fn source_rows(source: Source) -> (&'static str, &'static str) {
    match source {
        Source::Web => ("events", "1"),
        Source::Email => ("email_events", "class = 'human'"),
    }
}

fn visit_metrics(spec: &ExportSpec) -> bool {
    spec.metrics.iter().any(|m| m.needs_visits())
}

/// The query of a noisy export: each visitor id (one site, one day) counts
/// in its first `C` cells of the day only (by its first hit in each, ties
/// by the cell's values), and adds at most `L` to each of page views,
/// events and visits of a cell (`bound`). Hits without a visitor id cannot
/// be bounded and are left out.
fn bounded_sql(
    spec: &ExportSpec,
    keys: &str,
    filter: &str,
    table: &str,
    rows: &str,
    pageviews: &str,
) -> String {
    let c = super::bound::cells_per_day(spec);
    let l = spec.dp.map_or(1, |d| d.max_events_per_cell);
    let per = format!(
        "SELECT keys, site, day, visitor_id, pv, ev FROM ( \
             SELECT keys, site, day, visitor_id, pv, ev, \
                    row_number() OVER (PARTITION BY site, day, visitor_id ORDER BY first, keys) AS rank \
             FROM ( \
                 SELECT {keys} AS keys, toString(site) AS site, toDate(ts) AS day, visitor_id, min(ts) AS first, \
                        toUInt64({pageviews}) AS pv, toUInt64(count()) AS ev \
                 FROM {table} WHERE {filter} AND {rows} AND visitor_id != 0 \
                 GROUP BY keys, site, day, visitor_id \
             ) \
         ) WHERE rank <= {c}"
    );
    let visits = if visit_metrics(spec) {
        format!(
            "SELECT keys, site, day, visitor_id, toUInt64(count()) AS n FROM ( \
                 SELECT argMin(k, ts) AS keys, site, day, visitor_id FROM ( \
                     SELECT k, site, day, visitor_id, ts, \
                            sum(new_visit) OVER (PARTITION BY site, day, visitor_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS visit_no \
                     FROM ( \
                         SELECT {keys} AS k, toString(site) AS site, toDate(ts) AS day, visitor_id, ts, \
                                if(dateDiff('second', lagInFrame(ts, 1, toDateTime64(0, 3, 'UTC')) OVER \
                                   (PARTITION BY site, toDate(ts), visitor_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), ts) > {VISIT_GAP_SECONDS}, 1, 0) AS new_visit \
                         FROM {table} WHERE {filter} AND {rows} AND visitor_id != 0 \
                     ) \
                 ) GROUP BY site, day, visitor_id, visit_no \
             ) GROUP BY keys, site, day, visitor_id"
        )
    } else {
        "SELECT [''] AS keys, '' AS site, toDate(0) AS day, toUInt64(0) AS visitor_id, toUInt64(0) AS n WHERE 0".into()
    };
    format!(
        "SELECT a.keys AS keys, toUInt64(count()) AS visitors, toUInt64(sum(least(a.pv, {l}))) AS pageviews, \
                toUInt64(sum(least(a.ev, {l}))) AS events, toUInt64(sum(least(v.n, {l}))) AS visits, \
                toUInt64(0) AS bounces, toUInt64(0) AS duration_ms \
         FROM ({per}) AS a LEFT JOIN ({visits}) AS v \
           ON a.keys = v.keys AND a.site = v.site AND a.day = v.day AND a.visitor_id = v.visitor_id \
         GROUP BY keys ORDER BY keys \
         SETTINGS join_use_nulls = 0"
    )
}

/// The query for an export over a period.
pub fn sql(spec: &ExportSpec, period: &Period) -> String {
    // No dimensions (a grand total, for the audit): a typed empty array.
    let keys = format!(
        "CAST([{}], 'Array(String)')",
        spec.dimensions
            .iter()
            .map(dimension_sql)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let sites = spec
        .sites
        .iter()
        .map(|s| quote(s))
        .collect::<Vec<_>>()
        .join(", ");
    let filter = format!(
        "site IN ({sites}) AND ts >= toDateTime64('{} 00:00:00', 3, 'UTC') AND ts < toDateTime64('{} 00:00:00', 3, 'UTC')",
        format_day(period.start),
        format_day(period.end)
    );
    let (table, rows) = source_rows(spec.source);
    let pageviews = match spec.source {
        Source::Web => "countIf(name = 'pageview')",
        Source::Email => "0",
    };
    if spec.dp.is_some() {
        return bounded_sql(spec, &keys, &filter, table, rows, pageviews);
    }
    let hits = format!(
        "SELECT {keys} AS keys, uniqExactIf(visitor_id, visitor_id != 0) AS visitors, \
         toUInt64({pageviews}) AS pageviews, toUInt64(count()) AS events \
         FROM {table} WHERE {filter} AND {rows} GROUP BY keys"
    );
    if !visit_metrics(spec) {
        return format!(
            "SELECT keys, visitors, pageviews, events, toUInt64(0) AS visits, toUInt64(0) AS bounces, \
             toUInt64(0) AS duration_ms FROM ({hits}) ORDER BY keys"
        );
    }
    let visits = format!(
        "SELECT keys, toUInt64(count()) AS visits, toUInt64(countIf(n <= 1)) AS bounces, \
                toUInt64(sum(dur)) AS duration_ms \
         FROM ( \
             SELECT argMin(k, ts) AS keys, count() AS n, toUInt64(dateDiff('millisecond', min(ts), max(ts))) AS dur \
             FROM ( \
                 SELECT k, site, day, visitor_id, ts, \
                        sum(new_visit) OVER (PARTITION BY site, day, visitor_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS visit_no \
                 FROM ( \
                     SELECT {keys} AS k, site, toDate(ts) AS day, visitor_id, ts, \
                            if(dateDiff('second', lagInFrame(ts, 1, toDateTime64(0, 3, 'UTC')) OVER \
                               (PARTITION BY site, toDate(ts), visitor_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), ts) > {VISIT_GAP_SECONDS}, 1, 0) AS new_visit \
                     FROM events WHERE {filter} AND visitor_id != 0 \
                 ) \
             ) GROUP BY site, day, visitor_id, visit_no \
         ) GROUP BY keys"
    );
    format!(
        "SELECT h.keys AS keys, h.visitors AS visitors, h.pageviews AS pageviews, h.events AS events, \
                v.visits AS visits, v.bounces AS bounces, v.duration_ms AS duration_ms \
         FROM ({hits}) AS h LEFT JOIN ({visits}) AS v ON h.keys = v.keys \
         ORDER BY keys \
         SETTINGS join_use_nulls = 0"
    )
}

pub async fn fetch(
    client: &clickhouse::Client,
    spec: &ExportSpec,
    period: &Period,
) -> Result<Vec<Cell>, clickhouse::error::Error> {
    // An export query gives up in the engine after a minute.
    let mut cells: Vec<Cell> = client
        .query_raw(&sql(spec, period))
        .with_setting("max_execution_time", "60")
        .fetch_all()
        .await?;
    // Byte order, independent of the server's collation.
    cells.sort_by(|a, b| a.keys.cmp(&b.keys));
    Ok(cells)
}
