//! One release, in its fixed order: check the period, reuse a cached noisy
//! release or charge the budget, count, suppress, noise and round
//! ([`build_table`]), write the file, record it in the ledger, hand it over.

use rand::{CryptoRng, Rng};
use sha2::{Digest, Sha256};

use super::{build_table, cells, check_period, format, ledger, suppress};
use super::{Channel, ExportError, Released, Summary};
use crate::config::exports::ExportSpec;

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
    let sha = hex::encode(Sha256::digest(&bytes));
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
            dimensions: spec.dimensions.iter().map(|d| d.name()).collect(),
            metrics: spec
                .metrics
                .iter()
                .map(|m| m.as_str().to_string())
                .collect(),
            min_visitors: spec.min_visitors as u32,
            epsilon_spent: epsilon,
            rows,
            suppressed,
            format: spec.format.extension().into(),
            file_sha256: sha.clone(),
            note: String::new(),
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
