//! The `salts` table: where the day's random salts are shared between
//! replicas. This is only the storage: which days have a salt, adding
//! salts, destroying old ones, and reading each day's winner (the smallest
//! salt stored for it). What a salt is for, and when one is made or
//! forgotten, is `privacy::salt`'s business; this file never sees a
//! visitor. A salt is never logged.

use serde::{Deserialize, Serialize};

use crate::model::clock::format_day;

#[derive(Debug, thiserror::Error)]
pub enum SaltStoreError {
    #[error("salt store: {}", super::log_safe(.0))]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("salt store: stored salt for day {0} is malformed")]
    Malformed(i32),
}

#[derive(clickhouse::Row, Serialize, Deserialize)]
struct SaltRow {
    day: u16,
    salt: String,
    created_at: i64,
}

#[derive(clickhouse::Row, Deserialize)]
struct WinnerRow {
    day: u16,
    salt: String,
}

/// The days from `from` on that have at least one stored salt.
pub async fn days_from(client: &clickhouse::Client, from: i32) -> Result<Vec<i32>, SaltStoreError> {
    let have: Vec<u16> = client
        .query("SELECT DISTINCT day FROM salts WHERE day >= {from:Date}")
        .param("from", format_day(from))
        .fetch_all()
        .await?;
    Ok(have.into_iter().map(i32::from).collect())
}

/// Store one salt per day (replicas that race each add theirs; readers
/// take the smallest).
pub async fn add(
    client: &clickhouse::Client,
    salts: &[(i32, [u8; 32])],
    now_ms: i64,
) -> Result<(), SaltStoreError> {
    if salts.is_empty() {
        return Ok(());
    }
    let mut insert = client.insert::<SaltRow>("salts").await?;
    for (day, salt) in salts {
        insert
            .write(&SaltRow {
                day: *day as u16,
                salt: hex::encode(salt),
                created_at: now_ms,
            })
            .await?;
    }
    insert.end().await?;
    Ok(())
}

/// Destroy every salt of a day before `day`: a synchronous mutation
/// rewrites the parts, so the bytes are gone when this returns.
pub async fn destroy_before(store: &super::Store, day: i32) -> Result<(), SaltStoreError> {
    store
        .client()
        .query(&destroy_sql(store))
        .param("day", format_day(day))
        .execute()
        .await?;
    Ok(())
}

/// The mutation that destroys the salts before `{day:Date}`.
pub fn destroy_sql(store: &super::Store) -> String {
    format!(
        "ALTER TABLE {} DELETE WHERE day < {{day:Date}} SETTINGS mutations_sync = 2",
        store.target("salts")
    )
}

/// Each day's winning salt, from `from` on.
pub async fn winners_from(
    client: &clickhouse::Client,
    from: i32,
) -> Result<Vec<(i32, [u8; 32])>, SaltStoreError> {
    let rows: Vec<WinnerRow> = client
        .query(
            "SELECT day, min(salt) AS salt FROM salts \
             WHERE day >= {from:Date} GROUP BY day",
        )
        .param("from", format_day(from))
        .fetch_all()
        .await?;
    rows.into_iter()
        .map(|w| {
            let day = i32::from(w.day);
            let mut out = [0u8; 32];
            hex::decode_to_slice(&w.salt, &mut out).map_err(|_| SaltStoreError::Malformed(day))?;
            Ok((day, out))
        })
        .collect()
}
