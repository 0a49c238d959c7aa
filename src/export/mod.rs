//! Partner exports: aggregate releases that identify no one, and the
//! ledger of every release.
//!
//! A release runs in a fixed order: parse the period (it must be over, and
//! within the event retention, since exact visitor counts need events) →
//! count every cell exactly (`cells`) → withhold cells under k and their
//! complements (`suppress`) → add discrete Laplace noise to the released
//! counts if the export has an epsilon, charging the partner's monthly
//! budget (`noise`) → round → write the file (`format`) → append to the
//! ledger (`ledger`) → hand the file over. Suppression is decided on exact
//! counts before noise; rounding is applied after noise. A noisy release
//! is made once per export, period and definition; repeats return the same
//! file and spend nothing.

pub mod api;
pub mod cells;
pub mod format;
pub mod ledger;
pub mod noise;
pub mod period;
pub mod spec;
pub mod suppress;

use rand::{CryptoRng, Rng};
use sha2::{Digest, Sha256};

use crate::clock::{day_of, format_day};
use cells::Cell;
use format::{Table, Value};
use period::Period;
use spec::{ExportSpec, Granularity};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no export for partner {partner:?}{}", name.as_ref().map(|n| format!(" named {n:?}")).unwrap_or_default())]
    UnknownExport {
        partner: String,
        name: Option<String>,
    },
    #[error("partner {0:?} has several exports; name one ({1})")]
    Ambiguous(String, String),
    #[error("{0}")]
    Period(String),
    #[error("period {period} is not over yet (it ends {ends}); a partial period could be subtracted from the full one later")]
    NotOver { period: String, ends: String },
    #[error("period {period} starts before the event retention ({days} days): exports need exact visitor counts, which only event rows hold")]
    Expired { period: String, days: u64 },
    #[error("privacy budget exceeded for partner {partner:?}: {spent:.3} of {budget:.3} epsilon spent this month; this release needs {epsilon:.3}")]
    Budget {
        partner: String,
        spent: f64,
        budget: f64,
        epsilon: f64,
    },
    #[error(transparent)]
    TooManySmallCells(#[from] suppress::TooManySmallCells),
    #[error("clickhouse: {}", crate::store::log_safe(.0))]
    ClickHouse(#[from] clickhouse::error::Error),
}

/// How a release was requested (recorded in the ledger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Cli,
    Api,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Cli => "cli",
            Channel::Api => "api",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub partner: String,
    pub export: String,
    pub period: String,
    pub rows: u64,
    pub suppressed: u64,
    pub epsilon_spent: f64,
    pub sha256: String,
    /// A repeat of an earlier noisy release.
    pub repeat: bool,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} {}: {} rows, {} suppressed cells, epsilon spent {}{}, sha256 {}",
            self.partner,
            self.export,
            self.period,
            self.rows,
            self.suppressed,
            self.epsilon_spent,
            if self.repeat {
                " (repeat of an earlier noisy release)"
            } else {
                ""
            },
            self.sha256
        )
    }
}

pub struct Released {
    pub bytes: Vec<u8>,
    pub summary: Summary,
}

/// Find a partner's export by name, or its only one.
pub fn find<'a>(
    exports: &'a [ExportSpec],
    partner: &str,
    name: Option<&str>,
) -> Result<&'a ExportSpec, ExportError> {
    let mine: Vec<&ExportSpec> = exports.iter().filter(|e| e.partner == partner).collect();
    match name {
        Some(n) => mine.into_iter().find(|e| e.name == n),
        None if mine.len() > 1 => {
            return Err(ExportError::Ambiguous(
                partner.into(),
                mine.iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ))
        }
        None => mine.into_iter().next(),
    }
    .ok_or_else(|| ExportError::UnknownExport {
        partner: partner.into(),
        name: name.map(Into::into),
    })
}

/// Parse and check a period against the clock and the event retention.
pub fn check_period(
    spec: &ExportSpec,
    period: &str,
    now_ms: i64,
    event_ttl_days: u64,
) -> Result<Period, ExportError> {
    let p = period::parse(period, spec.period).map_err(ExportError::Period)?;
    let today = day_of(now_ms);
    if p.end > today {
        return Err(ExportError::NotOver {
            period: p.label,
            ends: format_day(p.end),
        });
    }
    if p.start < today - event_ttl_days as i32 {
        return Err(ExportError::Expired {
            period: p.label,
            days: event_ttl_days,
        });
    }
    Ok(p)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The released table: suppression, then noise, then rounding, then
/// ratios and totals from the released numbers only.
pub fn build_table<R: Rng + CryptoRng + ?Sized>(
    spec: &ExportSpec,
    cells: &[Cell],
    hidden: &[bool],
    rng: &mut R,
) -> Table {
    let n_counts = spec
        .metrics
        .iter()
        .filter(|m| spec::is_count(m))
        .count()
        .max(1);
    let mech = spec
        .dp
        .map(|dp| noise::DiscreteLaplace::new(dp.epsilon / n_counts as f64, dp.sensitivity));
    let round = |x: u64| match spec.round_to {
        Some(r) if r > 1 => (x + r / 2) / r * r,
        _ => x,
    };
    let mut noisy = |x: u64| -> u64 {
        let x = match &mech {
            Some(m) => m.apply(x, rng),
            None => x,
        };
        round(x)
    };
    let mut columns: Vec<String> = spec.dimensions.clone();
    columns.extend(spec.metrics.iter().cloned());
    let mut types: Vec<&'static str> = vec!["String"; spec.dimensions.len()];
    types.extend(spec.metrics.iter().map(|m| {
        if spec::is_count(m) {
            "Nullable(UInt64)"
        } else {
            "Nullable(Float64)"
        }
    }));
    let mut rows = Vec::new();
    // Sums over released cells, for the optional total row.
    let (mut t_visits, mut t_pv, mut t_ev, mut t_bounces, mut t_dur) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for (c, _) in cells.iter().zip(hidden).filter(|(_, h)| !**h) {
        let mut row: Vec<Value> = c.keys.iter().cloned().map(Value::Text).collect();
        for m in &spec.metrics {
            row.push(match m.as_str() {
                "visitors" => Value::Count(noisy(c.visitors)),
                "visits" => {
                    let v = noisy(c.visits);
                    t_visits += v;
                    Value::Count(v)
                }
                "pageviews" => {
                    let v = noisy(c.pageviews);
                    t_pv += v;
                    Value::Count(v)
                }
                "events" => {
                    let v = noisy(c.events);
                    t_ev += v;
                    Value::Count(v)
                }
                "bounce_rate" if c.visits > 0 => Value::Ratio(c.bounces as f64 / c.visits as f64),
                "visit_duration" if c.visits > 0 => {
                    Value::Ratio(c.duration_ms as f64 / 1000.0 / c.visits as f64)
                }
                _ => Value::Null,
            });
        }
        t_bounces += c.bounces;
        t_dur += c.duration_ms;
        rows.push(row);
    }
    if spec.totals && !rows.is_empty() {
        let released_visits: u64 = cells
            .iter()
            .zip(hidden)
            .filter(|(_, h)| !**h)
            .map(|(c, _)| c.visits)
            .sum();
        let mut row: Vec<Value> = spec
            .dimensions
            .iter()
            .map(|_| Value::Text("(total of released rows)".into()))
            .collect();
        for m in &spec.metrics {
            row.push(match m.as_str() {
                // Distinct visitors do not add up across rows.
                "visitors" => Value::Null,
                "visits" => Value::Count(t_visits),
                "pageviews" => Value::Count(t_pv),
                "events" => Value::Count(t_ev),
                "bounce_rate" if released_visits > 0 => {
                    Value::Ratio(t_bounces as f64 / released_visits as f64)
                }
                "visit_duration" if released_visits > 0 => {
                    Value::Ratio(t_dur as f64 / 1000.0 / released_visits as f64)
                }
                _ => Value::Null,
            });
        }
        rows.push(row);
    }
    Table {
        columns,
        types,
        rows,
    }
}

/// Make one release: compute, protect, write, record, return the file.
pub async fn release<R: Rng + CryptoRng + ?Sized>(
    client: &clickhouse::Client,
    spec: &ExportSpec,
    period: &str,
    now_ms: i64,
    event_ttl_days: u64,
    channel: Channel,
    rng: &mut R,
) -> Result<Released, ExportError> {
    let p = check_period(spec, period, now_ms, event_ttl_days)?;
    let mut repeat = None;
    if let Some(dp) = spec.dp {
        repeat = ledger::cached(
            client,
            &spec.partner,
            &spec.name,
            &p.label,
            &spec.config_hash,
        )
        .await?;
        if repeat.is_none() {
            let spent = ledger::spent_this_month(client, &spec.partner, now_ms).await?;
            if spent + dp.epsilon > dp.budget + 1e-9 {
                return Err(ExportError::Budget {
                    partner: spec.partner.clone(),
                    spent,
                    budget: dp.budget,
                    epsilon: dp.epsilon,
                });
            }
        }
    }
    let (bytes, rows, suppressed, epsilon) = match repeat {
        Some(c) => (c.file, c.rows, c.suppressed, 0.0),
        None => {
            let cells = cells::fetch(client, spec, &p).await?;
            let hidden = suppress::suppress(&cells, spec.min_visitors)?;
            let table = build_table(spec, &cells, &hidden, rng);
            let bytes = format::write(client, spec.format, &table).await?;
            let suppressed = hidden.iter().filter(|h| **h).count() as u64;
            let rows = table.rows.len() as u64;
            let epsilon = spec.dp.map_or(0.0, |d| d.epsilon);
            (bytes, rows, suppressed, epsilon)
        }
    };
    let repeat = spec.dp.is_some() && epsilon == 0.0;
    let sha = hex(&Sha256::digest(&bytes));
    // The ledger row is written before anything is handed over; a noisy
    // file is cached with it so that a repeat cannot get fresh noise.
    if spec.dp.is_some() && !repeat {
        ledger::store(
            client,
            &ledger::CachedRelease {
                partner: spec.partner.clone(),
                export: spec.name.clone(),
                period: p.label.clone(),
                config_hash: spec.config_hash.clone(),
                created_at: now_ms,
                epsilon,
                rows,
                suppressed,
                file: bytes.clone(),
            },
        )
        .await?;
    }
    ledger::append(
        client,
        &ledger::Disclosure {
            time: now_ms,
            partner: spec.partner.clone(),
            export: spec.name.clone(),
            period: p.label.clone(),
            channel: channel.as_str().into(),
            config_hash: spec.config_hash.clone(),
            sites: spec.sites.clone(),
            dimensions: spec.dimensions.clone(),
            metrics: spec.metrics.clone(),
            min_visitors: spec.min_visitors as u32,
            epsilon_spent: epsilon,
            rows,
            suppressed,
            format: spec.format.extension().into(),
            file_sha256: sha.clone(),
        },
    )
    .await?;
    Ok(Released {
        bytes,
        summary: Summary {
            partner: spec.partner.clone(),
            export: spec.name.clone(),
            period: p.label,
            rows,
            suppressed,
            epsilon_spent: epsilon,
            sha256: sha,
            repeat,
        },
    })
}

/// Default file name of a release.
pub fn file_name(spec: &ExportSpec, period: &str) -> String {
    format!(
        "{}_{}_{}.{}",
        spec.partner,
        spec.name,
        period,
        spec.format.extension()
    )
}

/// Whether a period label matches the granularity (for API errors).
pub fn granularity_name(g: Granularity) -> &'static str {
    match g {
        Granularity::Day => "day",
        Granularity::Week => "week",
        Granularity::Month => "month",
    }
}
