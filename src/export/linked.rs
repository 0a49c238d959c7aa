//! The store behind linked suppression (`link`): every cell of every
//! release to a partner (`export_cells`) and the atoms that existed
//! (`export_atoms`: site, day and the values of the partner's finest
//! dimensions; no counts), and the translation of both into the atom model
//! the audit solves. A new release is checked against the partner's
//! releases whose periods come within [`HORIZON_DAYS`] of its own.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::cells::{dimension_sql, Cell};
use super::link::LinkedCell;
use super::period::{key_range, Period};
use crate::config::exports::{Dimension, ExportSpec, Field, Granularity};
use crate::model::clock::format_day;
use crate::model::export::Metric;

/// Earlier releases ending more than this many days before a new one
/// starts are not linked to it.
pub const HORIZON_DAYS: i32 = 62;

/// One stored cell of one release.
#[derive(Debug, Clone, clickhouse::Row, Serialize, Deserialize)]
pub struct StoredCell {
    pub partner: String,
    pub export: String,
    pub period: String,
    pub config_hash: String,
    pub period_start: u16,
    pub period_end: u16,
    pub sites: Vec<String>,
    pub dimensions: Vec<String>,
    pub keys: Vec<String>,
    pub visitors: u64,
    pub withheld: u8,
    pub small: u8,
    pub exact: u8,
    pub round_to: u32,
    pub min_visitors: u32,
    pub visits: u64,
    pub pageviews: u64,
    pub events: u64,
    /// Which of `visits`, `pageviews`, `events` the partner receives.
    pub counts: Vec<String>,
    /// A margin of the release, not a row: public when it has at least
    /// k visitors (`small` = 0), tacit's own otherwise.
    pub margin: u8,
}

/// One atom: a site, a day, the values of the finest dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, clickhouse::Row, Serialize, Deserialize)]
pub struct Atom {
    pub site: String,
    pub day: u16,
    pub keys: Vec<String>,
    /// The finest dimensions of the kind fixed per visitor (location,
    /// device, browser, OS) that did not hold one value per visitor id on
    /// this site and day (a geolocation database reloaded during the day,
    /// generated traffic): the audit does not treat them as fixed there.
    pub loose: Vec<String>,
}

fn is_time(d: &Dimension) -> Option<Granularity> {
    match d {
        Dimension::Field(Field::Date) => Some(Granularity::Day),
        Dimension::Field(Field::Week) => Some(Granularity::Week),
        Dimension::Field(Field::Month) => Some(Granularity::Month),
        _ => None,
    }
}

/// The atoms of `sites` over `period`: combinations of the finest
/// dimensions with at least one event, per site and day (anonymous events
/// too: they count in page views and events).
pub async fn atoms_of(
    client: &clickhouse::Client,
    sites: &[String],
    finest: &[Dimension],
    period: &Period,
) -> Result<Vec<Atom>, clickhouse::error::Error> {
    let keys = format!(
        "[{}]",
        finest
            .iter()
            .map(dimension_sql)
            .chain(std::iter::once("''".to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (table, rows) = super::cells::source_rows(crate::model::export::source_of(finest));
    let sql = format!(
        "SELECT toString(site) AS site, toUInt16(toDate(ts)) AS day, arrayPopBack({keys}) AS keys,
                CAST([], 'Array(String)') AS loose
         FROM {table}
         WHERE has({{sites:Array(String)}}, toString(site))
           AND ts >= toDateTime64({{from:String}}, 3, 'UTC') AND ts < toDateTime64({{to:String}}, 3, 'UTC')
           AND {rows}
         GROUP BY site, day, keys"
    );
    let from = format!("{} 00:00:00", format_day(period.start));
    let to = format!("{} 00:00:00", format_day(period.end));
    let mut atoms: Vec<Atom> = client
        .query(&sql)
        .param("sites", sites)
        .param("from", &from)
        .param("to", &to)
        .with_setting("max_execution_time", "60")
        .fetch_all()
        .await?;
    // Which dimensions of the per-visitor kind held more than one value
    // for some visitor id on a site and day.
    let fixed: Vec<&Dimension> = finest.iter().filter(|d| per_visitor(&d.name())).collect();
    if fixed.is_empty() {
        return Ok(atoms);
    }
    let uniq = fixed
        .iter()
        .map(|d| format!("uniqExact({}) > 1", dimension_sql(d)))
        .collect::<Vec<_>>()
        .join(", ");
    let names = fixed
        .iter()
        .map(|d| format!("'{}'", d.name()))
        .collect::<Vec<_>>()
        .join(", ");
    #[derive(clickhouse::Row, Deserialize)]
    struct Loose {
        site: String,
        day: u16,
        loose: Vec<String>,
    }
    let sql = format!(
        "SELECT site, day, arrayFilter((n, m) -> m, [{names}], [{}]) AS loose FROM (
             SELECT toString(site) AS site, toUInt16(toDate(ts)) AS day, [{uniq}] AS many
             FROM {table}
             WHERE has({{sites:Array(String)}}, toString(site))
           AND ts >= toDateTime64({{from:String}}, 3, 'UTC') AND ts < toDateTime64({{to:String}}, 3, 'UTC')
               AND {rows} AND visitor_id != 0
             GROUP BY site, day, visitor_id
         ) GROUP BY site, day HAVING notEmpty(loose)",
        (0..fixed.len())
            .map(|i| format!("max(many[{}])", i + 1))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let loose: Vec<Loose> = client
        .query(&sql)
        .param("sites", sites)
        .param("from", &from)
        .param("to", &to)
        .with_setting("max_execution_time", "60")
        .fetch_all()
        .await?;
    let loose: HashMap<(String, u16), Vec<String>> = loose
        .into_iter()
        .map(|l| ((l.site, l.day), l.loose))
        .collect();
    for a in &mut atoms {
        if let Some(l) = loose.get(&(a.site.clone(), a.day)) {
            a.loose = l.clone();
        }
    }
    Ok(atoms)
}

/// Record a release's cells and the atoms of its period.
pub async fn store(
    client: &clickhouse::Client,
    partner: &str,
    finest: &[Dimension],
    cells: &[StoredCell],
    atoms: &[Atom],
) -> Result<(), clickhouse::error::Error> {
    let mut ins = client.insert::<StoredCell>("export_cells").await?;
    for c in cells {
        ins.write(c).await?;
    }
    ins.end().await?;
    #[derive(clickhouse::Row, Serialize)]
    struct AtomRow<'a> {
        partner: &'a str,
        finest: Vec<String>,
        site: &'a str,
        day: u16,
        keys: &'a [String],
        loose: &'a [String],
    }
    let names: Vec<String> = finest.iter().map(|d| d.name()).collect();
    let mut ins = client.insert::<AtomRow<'_>>("export_atoms").await?;
    for a in atoms {
        ins.write(&AtomRow {
            partner,
            finest: names.clone(),
            site: &a.site,
            day: a.day,
            keys: &a.keys,
            loose: &a.loose,
        })
        .await?;
    }
    ins.end().await
}

/// The stored cells and atoms of a partner's releases near `period`.
pub async fn load(
    client: &clickhouse::Client,
    partner: &str,
    finest: &[Dimension],
    period: &Period,
) -> Result<(Vec<StoredCell>, Vec<Atom>), clickhouse::error::Error> {
    let from = period.start - HORIZON_DAYS;
    let cells: Vec<StoredCell> = client
        .query(
            "SELECT ?fields FROM export_cells
             WHERE partner = {partner:String} AND period_end > {from:Date} AND period_start < {to:Date}
             ORDER BY period_start, export, period, keys",
        )
        .param("partner", partner)
        .param("from", format_day(from))
        .param("to", format_day(period.end))
        .fetch_all()
        .await?;
    let (lo, hi) = cells
        .iter()
        .fold((period.start, period.end), |(lo, hi), c| {
            (lo.min(c.period_start as i32), hi.max(c.period_end as i32))
        });
    let names: Vec<String> = finest.iter().map(|d| d.name()).collect();
    let atoms: Vec<Atom> = client
        .query(
            "SELECT toString(site) AS site, toUInt16(day) AS day, keys,
                    arrayDistinct(arrayFlatten(groupArray(loose))) AS loose
             FROM export_atoms
             WHERE partner = {partner:String} AND finest = {finest:Array(String)}
               AND day >= {lo:UInt16} AND day < {hi:UInt16}
             GROUP BY site, day, keys
             ORDER BY site, day, keys",
        )
        .param("partner", partner)
        .param("finest", names)
        .param("lo", lo.max(0) as u16)
        .param("hi", hi.max(0) as u16)
        .fetch_all()
        .await?;
    Ok((cells, atoms))
}

/// Dimensions fixed for one visitor on one day: the visitor id hashes the
/// site, the address (so the location) and the user agent (so the device,
/// browser and OS). A cell lacking only such finest dimensions counts each
/// visitor in exactly one of its atoms.
pub fn per_visitor(d: &str) -> bool {
    matches!(
        d,
        "site" | "country" | "region" | "city" | "device" | "browser" | "os"
    )
}

/// How a cell picks its atoms: per finest position, the required value.
struct Matcher {
    /// (position in `finest`, required value).
    fixed: Vec<(usize, String)>,
    site: Option<String>,
    days: (i32, i32),
}

fn matcher(
    finest: &[String],
    dims: &[String],
    keys: &[String],
    period: (i32, i32),
) -> Option<Matcher> {
    let mut m = Matcher {
        fixed: Vec::new(),
        site: None,
        days: period,
    };
    for (d, k) in dims.iter().zip(keys) {
        let dim = Dimension::parse(d)?;
        if let Some(g) = is_time(&dim) {
            let (a, b) = key_range(g, k)?;
            m.days = (m.days.0.max(a), m.days.1.min(b));
        } else if dim == Dimension::Field(Field::Site) {
            m.site = Some(k.clone());
        } else {
            // A dimension outside the finest set: the cell cannot be mapped.
            let pos = finest.iter().position(|f| f == d)?;
            m.fixed.push((pos, k.clone()));
        }
    }
    Some(m)
}

/// The visitor group of each atom: its site, day and values of the finest
/// dimensions fixed per visitor that held one value per visitor id on that
/// site and day (indices, equal for equal groups). A dimension loose on any
/// atom of a site and day (as recorded by any release) is left out of the
/// groups of every atom of that site and day.
pub fn visitor_groups(atoms: &[Atom], finest: &[String]) -> Vec<usize> {
    let mut loose: HashMap<(&str, u16), Vec<&str>> = HashMap::new();
    for a in atoms {
        loose
            .entry((a.site.as_str(), a.day))
            .or_default()
            .extend(a.loose.iter().map(String::as_str));
    }
    let mut ids: HashMap<(&str, u16, Vec<&str>), usize> = HashMap::new();
    atoms
        .iter()
        .map(|a| {
            let off = &loose[&(a.site.as_str(), a.day)];
            let q: Vec<&str> = finest
                .iter()
                .zip(&a.keys)
                .filter(|(f, _)| per_visitor(f) && !off.contains(&f.as_str()))
                .map(|(_, k)| k.as_str())
                .collect();
            let next = ids.len();
            *ids.entry((a.site.as_str(), a.day, q)).or_insert(next)
        })
        .collect()
}

/// The cells of a release, with the atoms each covers (none if it cannot
/// be mapped onto the finest dimensions: it is then left out of the audit).
pub fn to_linked(
    release: usize,
    stored: &[&StoredCell],
    finest: &[String],
    atoms: &[Atom],
    index: &HashMap<(String, u16), Vec<usize>>,
) -> Vec<LinkedCell> {
    stored
        .iter()
        .map(|c| {
            let m = matcher(
                finest,
                &c.dimensions,
                &c.keys,
                (c.period_start as i32, c.period_end as i32),
            );
            let found = m
                .map(|m| {
                    let mut out = Vec::new();
                    for day in m.days.0..m.days.1 {
                        for site in &c.sites {
                            if m.site.as_ref().is_some_and(|s| s != site) {
                                continue;
                            }
                            let Some(list) = index.get(&(site.clone(), day as u16)) else {
                                continue;
                            };
                            out.extend(list.iter().copied().filter(|&a| {
                                m.fixed
                                    .iter()
                                    .all(|(p, v)| atoms[a].keys.get(*p) == Some(v))
                            }));
                        }
                    }
                    out
                })
                .unwrap_or_default();
            let count = |name: &str, v: u64| c.counts.iter().any(|n| n == name).then_some(v);
            LinkedCell {
                release,
                atoms: found,
                visitors: c.visitors,
                visits: count("visits", c.visits),
                pageviews: count("pageviews", c.pageviews),
                events: count("events", c.events),
                withheld: c.withheld == 1,
                exact: c.exact == 1,
                round_to: c.round_to.max(1) as u64,
                small: c.small == 1,
                margin: c.margin == 1,
                // Not stored: `release.rs` fills it in where it knows it.
                protection: 0,
            }
        })
        .collect()
}

/// Atoms by (site, day), for [`to_linked`].
pub fn index(atoms: &[Atom]) -> HashMap<(String, u16), Vec<usize>> {
    let mut m: HashMap<(String, u16), Vec<usize>> = HashMap::new();
    for (i, a) in atoms.iter().enumerate() {
        m.entry((a.site.clone(), a.day)).or_default().push(i);
    }
    m
}

/// The stored form of a new release's cells.
pub fn stored_cells(
    spec: &ExportSpec,
    period: &Period,
    cells: &[Cell],
    hidden: &[bool],
) -> Vec<StoredCell> {
    cells
        .iter()
        .zip(hidden)
        .map(|(c, h)| StoredCell {
            partner: spec.partner.clone(),
            export: spec.name.clone(),
            period: period.label.clone(),
            config_hash: spec.config_hash.clone(),
            period_start: period.start as u16,
            period_end: period.end as u16,
            sites: spec.sites.clone(),
            dimensions: spec.dimensions.iter().map(|d| d.name()).collect(),
            keys: c.keys.clone(),
            visitors: c.visitors,
            withheld: *h as u8,
            small: (c.visitors < spec.min_visitors) as u8,
            exact: spec.dp.is_none() as u8,
            round_to: spec.round_to.unwrap_or(1) as u32,
            min_visitors: spec.min_visitors as u32,
            visits: c.visits,
            pageviews: c.pageviews,
            events: c.events,
            counts: released_counts(spec),
            margin: 0,
        })
        .collect()
}

/// The counts besides visitors a release publishes per cell.
fn released_counts(spec: &ExportSpec) -> Vec<String> {
    spec.metrics
        .iter()
        .filter(|m| matches!(m, Metric::Visits | Metric::Pageviews | Metric::Events))
        .map(|m| m.as_str().to_string())
        .collect()
}

/// The public margins of a release: for every proper subset of its
/// dimensions (down to none, the grand total), the exact counts of every
/// combination with at least k visitors, counted from the events (distinct
/// visitors are not the sum of the cells' when a dimension not fixed per
/// visitor is summed out). The partner is assumed to know them all.
pub async fn margins(
    client: &clickhouse::Client,
    spec: &ExportSpec,
    period: &Period,
) -> Result<Vec<StoredCell>, clickhouse::error::Error> {
    let d = spec.dimensions.len();
    let mut out = Vec::new();
    for keep in 0..(1u32 << d).saturating_sub(1) {
        let mut sub = spec.clone();
        // Public figures are exact counts (not the bounded counts of a
        // noisy release).
        sub.dp = None;
        sub.dimensions = spec
            .dimensions
            .iter()
            .enumerate()
            .filter(|(j, _)| keep & (1 << j) != 0)
            .map(|(_, dim)| dim.clone())
            .collect();
        // Every combination: those with at least k visitors are public;
        // the small ones (`small`) are known to tacit only, and pin the
        // audit's base point (the visitors of a group of atoms).
        let cells = super::cells::fetch(client, &sub, period).await?;
        let hidden = vec![false; cells.len()];
        out.extend(
            stored_cells(&sub, period, &cells, &hidden)
                .into_iter()
                .map(|mut c| {
                    c.margin = 1;
                    c.exact = 1;
                    c.round_to = 1;
                    c
                }),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(day: u16, keys: &[&str], loose: &[&str]) -> Atom {
        Atom {
            site: "s".into(),
            day,
            keys: keys.iter().map(|k| k.to_string()).collect(),
            loose: loose.iter().map(|k| k.to_string()).collect(),
        }
    }

    #[test]
    fn a_dimension_loose_on_a_day_leaves_that_days_groups() {
        let finest = vec!["country".to_string(), "pathname".to_string()];
        let atoms = vec![
            atom(1, &["DE", "/"], &[]),
            atom(1, &["FR", "/"], &[]),
            atom(1, &["FR", "/a"], &[]),
            atom(2, &["DE", "/"], &["country"]),
            atom(2, &["FR", "/a"], &[]),
        ];
        let g = visitor_groups(&atoms, &finest);
        // Day 1: the country holds one value per visitor: two groups, the
        // pages of FR in one.
        assert_ne!(g[0], g[1]);
        assert_eq!(g[1], g[2]);
        // Day 2: the country was loose on the day (recorded on any atom):
        // one group for the site and day.
        assert_eq!(g[3], g[4]);
        assert_ne!(g[3], g[0]);
    }
}
