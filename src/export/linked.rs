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
}

/// One atom: a site, a day, the values of the finest dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, clickhouse::Row, Serialize, Deserialize)]
pub struct Atom {
    pub site: String,
    pub day: u16,
    pub keys: Vec<String>,
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
/// dimensions with at least one visitor, per site and day.
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
        "SELECT toString(site) AS site, toUInt16(toDate(ts)) AS day, arrayPopBack({keys}) AS keys
         FROM {table}
         WHERE has({{sites:Array(String)}}, toString(site))
           AND ts >= toDateTime64({{from:String}}, 3, 'UTC') AND ts < toDateTime64({{to:String}}, 3, 'UTC')
           AND visitor_id != 0 AND {rows}
         GROUP BY site, day, keys"
    );
    client
        .query(&sql)
        .param("sites", sites)
        .param("from", format!("{} 00:00:00", format_day(period.start)))
        .param("to", format!("{} 00:00:00", format_day(period.end)))
        .with_setting("max_execution_time", "60")
        .fetch_all()
        .await
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
            "SELECT DISTINCT toString(site) AS site, toUInt16(day) AS day, keys FROM export_atoms
             WHERE partner = {partner:String} AND finest = {finest:Array(String)}
               AND day >= {lo:UInt16} AND day < {hi:UInt16}
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
fn per_visitor(d: &str) -> bool {
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

/// The cells of a release, with the atoms each sums (none if it cannot be
/// mapped onto the finest dimensions: it is then left out of the audit).
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
            let found = matcher(
                finest,
                &c.dimensions,
                &c.keys,
                (c.period_start as i32, c.period_end as i32),
            )
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
            let additive = finest
                .iter()
                .all(|f| per_visitor(f) || c.dimensions.contains(f));
            LinkedCell {
                release,
                additive,
                atoms: found,
                visitors: c.visitors,
                withheld: c.withheld == 1,
                exact: c.exact == 1,
                round_to: c.round_to.max(1) as u64,
                small: c.small == 1,
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
        })
        .collect()
}
