//! ClickHouse access: building the client from config and the schema
//! migrations (`schema/NNNN_name.sql`, embedded at build time).

pub mod migrate;

use crate::config::ClickHouseConfig;

/// A client bound to tacit's database.
pub fn client(cfg: &ClickHouseConfig) -> clickhouse::Client {
    let mut c = base_client(cfg).with_database(&cfg.database);
    if !cfg.lz4 {
        c = c.with_compression(clickhouse::Compression::None);
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

/// Whether ClickHouse answers a trivial query.
pub async fn ping(client: &clickhouse::Client) -> bool {
    client.query("SELECT 1").fetch_one::<u8>().await.is_ok()
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct EngineRow {
    engine_full: String,
}

/// Make the `events` TTL match `policy.event_ttl_days`. Returns whether it
/// had to change.
pub async fn apply_event_ttl(
    client: &clickhouse::Client,
    database: &str,
    days: u32,
) -> Result<bool, clickhouse::error::Error> {
    let row: EngineRow = client
        .query("SELECT engine_full FROM system.tables WHERE database = ? AND name = 'events'")
        .bind(database)
        .fetch_one()
        .await?;
    if row
        .engine_full
        .contains(&format!("TTL toDateTime(ts) + toIntervalDay({days})"))
    {
        return Ok(false);
    }
    client
        .query(&format!(
            "ALTER TABLE events MODIFY TTL toDateTime(ts) + INTERVAL {days} DAY"
        ))
        .execute()
        .await?;
    Ok(true)
}
