//! ClickHouse access: building the client from config and the schema
//! migrations (`schema/NNNN_name.sql`, embedded at build time).

pub mod cluster;
pub mod fence;
pub mod migrate;
pub mod salts;
pub mod tiers;

use crate::config::ClickHouseConfig;

/// A client bound to tacit's database.
pub fn client(cfg: &ClickHouseConfig) -> clickhouse::Client {
    let mut c = base_client(cfg).with_database(&cfg.database);
    if !cfg.lz4 {
        c = c.with_compression(clickhouse::Compression::None);
    }
    if cfg.cluster.is_some() {
        for (k, v) in cluster::SETTINGS {
            c = c.with_setting(*k, *v);
        }
    }
    c
}

/// A client with no database selected (to create the database itself).
pub fn base_client(cfg: &ClickHouseConfig) -> clickhouse::Client {
    let mut c = clickhouse::Client::default()
        .with_url(&cfg.url)
        .with_user(&cfg.user);
    if !cfg.password.is_empty() {
        c = c.with_password(&cfg.password);
    }
    if !cfg.lz4 {
        c = c.with_compression(clickhouse::Compression::None);
    }
    c
}

/// Whether ClickHouse answers a trivial query within two seconds.
pub async fn ping(client: &clickhouse::Client) -> bool {
    timed(
        std::time::Duration::from_secs(2),
        client.query("SELECT 1").fetch_one::<u8>(),
    )
    .await
    .is_ok()
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct EngineRow {
    engine_full: String,
}

/// The retention each table should have, from the policy and the tier of
/// each table (`tiers`): (table, TTL expression as ClickHouse prints it,
/// TTL clause to set).
pub fn retention(policy: &crate::config::Policy) -> Vec<(&'static str, String, String)> {
    let d = policy.event_ttl_days;
    let m = policy.aggregate_ttl_months;
    tiers::TABLES
        .iter()
        .filter_map(|t| match t.lifetime {
            tiers::Lifetime::EventDays(col) => Some((
                t.name,
                format!("TTL {col} + toIntervalDay({d})"),
                format!("{col} + INTERVAL {d} DAY"),
            )),
            tiers::Lifetime::AggregateMonths(col) => Some((
                t.name,
                format!("TTL {col} + toIntervalMonth({m})"),
                format!("{col} + INTERVAL {m} MONTH"),
            )),
            tiers::Lifetime::Horizon(col, extra) => Some((
                t.name,
                format!("TTL {col} + toIntervalDay({})", d + extra),
                format!("{col} + INTERVAL {} DAY", d + extra),
            )),
            tiers::Lifetime::Fixed | tiers::Lifetime::Hours(_) => None,
        })
        .collect()
}

/// Make table TTLs match the policy. Returns the tables changed.
pub async fn apply_retention(
    client: &clickhouse::Client,
    database: &str,
    policy: &crate::config::Policy,
) -> Result<Vec<&'static str>, clickhouse::error::Error> {
    let mut changed = Vec::new();
    for (table, printed, clause) in retention(policy) {
        let row: EngineRow = client
            .query("SELECT engine_full FROM system.tables WHERE database = ? AND name = ?")
            .bind(database)
            .bind(table)
            .fetch_one()
            .await?;
        if row.engine_full.contains(&printed) {
            continue;
        }
        client
            .query(&format!(
                "ALTER TABLE {} MODIFY TTL {clause}",
                cluster::target(table)
            ))
            .execute()
            .await?;
        changed.push(table);
    }
    Ok(changed)
}

/// A ClickHouse error for the logs: the error code and name only. Server
/// messages can quote the data being written (a constraint's column values,
/// a parse error's row), and stored rows carry visitor ids, so the message
/// body is never logged.
pub fn log_safe(e: &clickhouse::error::Error) -> String {
    use clickhouse::error::Error;
    match e {
        Error::BadResponse(msg) => {
            let code = msg
                .split_once("Code: ")
                .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
                .filter(|c| !c.is_empty());
            let name = msg
                .trim_end()
                .rsplit_once('(')
                .map(|(_, n)| n.trim_end_matches(')'))
                .filter(|n| {
                    !n.is_empty() && n.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                });
            match (code, name) {
                (Some(c), Some(n)) => format!("ClickHouse error {c} ({n})"),
                (Some(c), None) => format!("ClickHouse error {c}"),
                _ => "ClickHouse error response".to_string(),
            }
        }
        Error::Network(_) => "network error".to_string(),
        Error::TimedOut => "timed out".to_string(),
        other => {
            let s = other.to_string();
            s.chars().take(120).collect()
        }
    }
}

/// Run a ClickHouse call with a deadline: a server that accepts connections
/// and never answers is a timeout, not a hang.
pub async fn timed<T>(
    limit: std::time::Duration,
    call: impl std::future::Future<Output = Result<T, clickhouse::error::Error>>,
) -> Result<T, clickhouse::error::Error> {
    tokio::time::timeout(limit, call)
        .await
        .unwrap_or(Err(clickhouse::error::Error::TimedOut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_errors_keep_code_and_name_only() {
        let e = clickhouse::error::Error::BadResponse(
            "Code: 469. DB::Exception: Constraint `c` is violated at row 1. Column values: visitor_id = 1234567. (VIOLATED_CONSTRAINT)".into(),
        );
        let s = log_safe(&e);
        assert_eq!(s, "ClickHouse error 469 (VIOLATED_CONSTRAINT)");
        assert!(!s.contains("1234567"));
    }
}
