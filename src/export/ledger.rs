//! The disclosure ledger (`disclosures`): every release appends one row,
//! before the file is handed over; nothing here updates or deletes. Also the
//! claims of releases, the cache of released files, and the
//! annual report of what went to which third party (what a business needs
//! to answer a California Civil Code § 1798.83 request).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::clock::{day_of, format_day};
use crate::model::export::Dimension;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
pub struct Disclosure {
    /// Milliseconds since the epoch, UTC.
    pub time: i64,
    pub partner: String,
    pub export: String,
    pub period: String,
    pub channel: String,
    pub config_hash: String,
    pub sites: Vec<String>,
    pub dimensions: Vec<String>,
    pub metrics: Vec<String>,
    pub min_visitors: u32,
    pub epsilon_spent: f64,
    pub rows: u64,
    pub suppressed: u64,
    pub format: String,
    pub file_sha256: String,
    /// For `channel = "purge"`: a note that the site's data was removed.
    pub note: String,
}

pub async fn append(
    client: &clickhouse::Client,
    d: &Disclosure,
) -> Result<(), clickhouse::error::Error> {
    let mut ins = client.insert::<Disclosure>("disclosures").await?;
    ins.write(d).await?;
    ins.end().await
}

/// The months (`YYYY-MM`) a half-open day range touches.
pub fn months_of(start: i32, end: i32) -> Vec<String> {
    let mut out: Vec<String> = (start..end)
        .map(|d| format_day(d)[..7].to_string())
        .collect();
    out.dedup();
    out
}

/// What identifies one release.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseKey<'a> {
    pub partner: &'a str,
    pub export: &'a str,
    pub period: &'a str,
    pub config_hash: &'a str,
}

/// The condition naming one release, with [`ReleaseKey::apply`]'s parameters.
const KEY_IS: &str = "partner = {partner:String} AND export = {export:String} \
AND period = {period:String} AND config_hash = {config_hash:String}";

impl ReleaseKey<'_> {
    /// Bind this key's query parameters (`partner`, `export`, `period`,
    /// `config_hash`).
    fn apply(&self, q: clickhouse::query::Query) -> clickhouse::query::Query {
        q.param("partner", self.partner)
            .param("export", self.export)
            .param("period", self.period)
            .param("config_hash", self.config_hash)
    }
}

/// Claim a release: true if this claim is the earliest live one. Claims
/// are timed by the database's clock; a short pause before reading lets a
/// claim inserted at the same moment elsewhere become visible.
pub async fn claim(
    client: &clickhouse::Client,
    key: &ReleaseKey<'_>,
    claim: &str,
) -> Result<bool, clickhouse::error::Error> {
    key.apply(client.query(
        "INSERT INTO export_claims (partner, export, period, config_hash, claim) \
         SELECT {partner:String}, {export:String}, {period:String}, {config_hash:String}, {claim:String}",
    ))
    .param("claim", claim)
    .execute()
        .await?;
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let winner: Option<String> = key
        .apply(client.query(&format!(
            "SELECT claim FROM export_claims
             WHERE {KEY_IS} AND abandoned = 0
               AND claim NOT IN (SELECT claim FROM export_claims WHERE abandoned = 1)
               AND claimed_at > now64(6) - INTERVAL 10 MINUTE
             ORDER BY claimed_at, claim LIMIT 1"
        )))
        .fetch_optional()
        .await?;
    Ok(winner.as_deref() == Some(claim))
}

/// Give a failed claim up, so a later request can make the release.
pub async fn abandon(
    client: &clickhouse::Client,
    key: &ReleaseKey<'_>,
    claim: &str,
) -> Result<(), clickhouse::error::Error> {
    key.apply(client.query(
        "INSERT INTO export_claims (partner, export, period, config_hash, claim, abandoned) \
         SELECT {partner:String}, {export:String}, {period:String}, {config_hash:String}, {claim:String}, 1",
    ))
    .param("claim", claim)
    .execute()
        .await
}

/// Wait for the release another claim is making; `None` if it gave up or
/// did not finish in time.
pub async fn wait_for(
    client: &clickhouse::Client,
    key: &ReleaseKey<'_>,
    limit: std::time::Duration,
) -> Result<Option<CachedRelease>, clickhouse::error::Error> {
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(50);
    while start.elapsed() < limit {
        if let Some(c) = cached(client, key).await? {
            return Ok(Some(c));
        }
        let live: u64 = key
            .apply(client.query(&format!(
                "SELECT count() FROM export_claims
                 WHERE {KEY_IS} AND abandoned = 0
                   AND claim NOT IN (SELECT claim FROM export_claims WHERE abandoned = 1)
                   AND claimed_at > now64(6) - INTERVAL 10 MINUTE"
            )))
            .fetch_one()
            .await?;
        if live == 0 {
            return Ok(None);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(500));
    }
    Ok(None)
}

#[derive(Debug, Clone, clickhouse::Row, Serialize, Deserialize)]
pub struct CachedRelease {
    pub partner: String,
    pub export: String,
    pub period: String,
    pub config_hash: String,
    pub created_at: i64,
    pub epsilon: f64,
    pub rows: u64,
    pub suppressed: u64,
    /// The file as released (binary for Parquet).
    #[serde(with = "serde_bytes")]
    pub file: Vec<u8>,
}

/// The frozen file of an earlier release of the same export, period and
/// definition (noisy or not: a period is released once).
pub async fn cached(
    client: &clickhouse::Client,
    key: &ReleaseKey<'_>,
) -> Result<Option<CachedRelease>, clickhouse::error::Error> {
    key.apply(client.query(&format!(
        "SELECT ?fields FROM export_releases WHERE {KEY_IS} ORDER BY created_at LIMIT 1"
    )))
    .fetch_optional()
    .await
}

pub async fn store(
    client: &clickhouse::Client,
    r: &CachedRelease,
) -> Result<(), clickhouse::error::Error> {
    let mut ins = client.insert::<CachedRelease>("export_releases").await?;
    ins.write(r).await?;
    ins.end().await
}

pub async fn for_year(
    client: &clickhouse::Client,
    year: i32,
) -> Result<Vec<Disclosure>, clickhouse::error::Error> {
    client
        .query("SELECT ?fields FROM disclosures WHERE toYear(time) = {year:Int32} ORDER BY partner, time")
        .param("year", year)
        .fetch_all()
        .await
}

/// Plain-language category of a dimension as the ledger stores it.
pub fn category(dimension: &str) -> &'static str {
    Dimension::parse(dimension).map_or("Other aggregate attribute", |d| d.category().describe())
}

#[derive(Debug, Clone, Serialize)]
pub struct PartnerReport {
    pub partner: String,
    pub releases: usize,
    pub exports: Vec<String>,
    pub periods: Vec<String>,
    pub sites: Vec<String>,
    pub categories: Vec<String>,
    pub metrics: Vec<String>,
    /// The smallest k among the releases.
    pub min_visitors: u32,
    pub epsilon_spent: f64,
    /// Epsilon charged per month (`YYYY-MM`): each noisy release counts in
    /// full for every month its period touches.
    pub epsilon_by_month: BTreeMap<String, f64>,
    pub first_release: String,
    pub last_release: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnnualReport {
    pub year: i32,
    pub statement: String,
    pub third_parties: Vec<PartnerReport>,
    /// Site purges noted in the ledger this year.
    pub purges: Vec<String>,
}

fn day_string(ms: i64) -> String {
    format_day(day_of(ms))
}

/// Build the report from the year's ledger rows (pure).
pub fn report(year: i32, rows: &[Disclosure]) -> AnnualReport {
    let mut by: BTreeMap<&str, Vec<&Disclosure>> = BTreeMap::new();
    let mut purges = Vec::new();
    for r in rows {
        if r.channel == "purge" {
            purges.push(format!(
                "{}: the data of {} ({}) was removed: {}",
                day_string(r.time),
                r.sites.join(", "),
                r.period,
                r.note
            ));
            continue;
        }
        by.entry(r.partner.as_str()).or_default().push(r);
    }
    let third_parties = by
        .into_iter()
        .map(|(partner, rs)| {
            let set = |f: &dyn Fn(&Disclosure) -> Vec<String>| -> Vec<String> {
                rs.iter()
                    .flat_map(|r| f(r))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()
            };
            PartnerReport {
                partner: partner.to_string(),
                releases: rs.len(),
                exports: set(&|r| vec![r.export.clone()]),
                periods: set(&|r| vec![r.period.clone()]),
                sites: set(&|r| r.sites.clone()),
                categories: set(&|r| {
                    r.dimensions
                        .iter()
                        .map(|d| category(d).to_string())
                        .collect()
                }),
                metrics: set(&|r| r.metrics.clone()),
                min_visitors: rs.iter().map(|r| r.min_visitors).min().unwrap_or(0),
                epsilon_spent: rs.iter().map(|r| r.epsilon_spent).sum(),
                epsilon_by_month: {
                    let mut m: BTreeMap<String, f64> = BTreeMap::new();
                    for r in rs.iter().filter(|r| r.epsilon_spent > 0.0) {
                        if let Some(p) = super::period::parse_any(&r.period) {
                            for month in months_of(p.start, p.end) {
                                *m.entry(month).or_insert(0.0) += r.epsilon_spent;
                            }
                        }
                    }
                    m
                },
                first_release: day_string(rs.iter().map(|r| r.time).min().unwrap_or(0)),
                last_release: day_string(rs.iter().map(|r| r.time).max().unwrap_or(0)),
            }
        })
        .collect::<Vec<_>>();
    let statement = if third_parties.is_empty() {
        format!(
            "No information from this analytics system was disclosed to third parties in {year}."
        )
    } else {
        format!(
            "In {year}, only aggregate statistics left this analytics system. Each released figure \
             counts a group of at least the stated number of distinct visitors; groups smaller than \
             that were withheld, together with enough other figures that, using everything the same \
             third party received (every release, of every period, and each release's own totals), \
             no withheld group can be narrowed to fewer possible values than the stated protection \
             level. A period is released once; asking again returns the same figures. No \
             visitor identifier, IP address, user agent, full URL or query string was disclosed, and \
             none of the figures identifies a person."
        )
    };
    AnnualReport {
        year,
        statement,
        third_parties,
        purges,
    }
}

pub fn markdown(r: &AnnualReport) -> String {
    let mut s = format!(
        "# Disclosures to third parties, {}\n\nFrom tacit's disclosure ledger (table `disclosures`), for the calendar year {}.\n\n{}\n",
        r.year, r.year, r.statement
    );
    for p in &r.third_parties {
        s.push_str(&format!("\n## {}\n\n", p.partner));
        s.push_str(&format!(
            "- Releases: {} ({} to {}), exports: {}\n",
            p.releases,
            p.first_release,
            p.last_release,
            p.exports.join(", ")
        ));
        s.push_str(&format!("- Periods covered: {}\n", p.periods.join(", ")));
        s.push_str(&format!("- Sites: {}\n", p.sites.join(", ")));
        s.push_str("- Categories of information disclosed, all as aggregate counts:\n");
        for c in &p.categories {
            s.push_str(&format!("  - {c}\n"));
        }
        s.push_str(&format!("- Figures: {}\n", p.metrics.join(", ")));
        s.push_str(&format!(
            "- Smallest group released: {} distinct visitors\n",
            p.min_visitors
        ));
        if p.epsilon_spent > 0.0 {
            s.push_str(&format!(
                "- Differential privacy: noise added, epsilon {:.3} spent in total; per month (every release counts for each month its period touches): {}\n",
                p.epsilon_spent,
                p.epsilon_by_month
                    .iter()
                    .map(|(m, e)| format!("{m} {e:.3}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if !r.purges.is_empty() {
        s.push_str("\n## Data removed on request\n\n");
        for p in &r.purges {
            s.push_str(&format!("- {p}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_groups_by_partner_and_names_categories() {
        let d = |partner: &str, dims: &[&str], eps: f64, time: i64| Disclosure {
            time,
            partner: partner.into(),
            export: "monthly".into(),
            period: "2025-03".into(),
            channel: "cli".into(),
            config_hash: "h".into(),
            sites: vec!["example.com".into()],
            dimensions: dims.iter().map(|s| s.to_string()).collect(),
            metrics: vec!["visitors".into()],
            min_visitors: 10,
            epsilon_spent: eps,
            rows: 3,
            suppressed: 1,
            format: "csv".into(),
            file_sha256: "x".into(),
            note: String::new(),
        };
        let r = report(
            2025,
            &[
                d("acme", &["country"], 0.5, 1_740_000_000_000),
                d("acme", &["month", "device"], 0.0, 1_750_000_000_000),
                d("zeta", &["pathname"], 0.0, 1_741_000_000_000),
            ],
        );
        assert_eq!(r.third_parties.len(), 2);
        let a = &r.third_parties[0];
        assert_eq!(a.releases, 2);
        assert_eq!(a.categories.len(), 3);
        assert!((a.epsilon_spent - 0.5).abs() < 1e-12);
        let md = markdown(&r);
        assert!(md.contains("## acme") && md.contains("## zeta"), "{md}");
        assert!(md.contains("Approximate location"), "{md}");
        assert!(report(2024, &[]).statement.contains("No information"));
    }
}
