//! Schema migrations: append-only SQL files applied in order, each recorded
//! in `schema_migrations` with a checksum so an edited, already-applied file
//! is reported rather than silently ignored. Applying is idempotent.
//!
//! A file whose first line is `-- tacit: server-only` holds DDL that only a
//! real ClickHouse server accepts (users, roles, grants); it is skipped, and
//! recorded as skipped, on the embedded engine of `scripts/clickhouse-dev`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::ClickHouseConfig;

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("migration {name}: {source}")]
    Apply {
        name: String,
        source: clickhouse::error::Error,
    },
    #[error("migration {0} was applied with different contents (checksum mismatch); migrations are append-only")]
    Changed(String),
    #[error("migration file name {0:?} is not NNNN_name.sql")]
    BadName(String),
}

#[derive(Debug, Clone)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
    pub checksum: String,
    pub server_only: bool,
}

#[derive(clickhouse::Row, Serialize, Deserialize)]
struct AppliedRow {
    version: u32,
    name: String,
    checksum: String,
    applied_at: i64,
}

/// The migrations built into this binary, in order.
pub fn embedded() -> Result<Vec<Migration>, MigrateError> {
    MIGRATIONS
        .iter()
        .map(|(name, sql)| {
            let version = name
                .split_once('_')
                .filter(|(n, _)| n.len() == 4)
                .and_then(|(n, _)| n.parse::<u32>().ok())
                .ok_or_else(|| MigrateError::BadName(name.to_string()))?;
            Ok(Migration {
                version,
                name,
                sql,
                checksum: hex_sha256(sql.as_bytes()),
                server_only: sql
                    .lines()
                    .next()
                    .is_some_and(|l| l.trim() == "-- tacit: server-only"),
            })
        })
        .collect()
}

fn hex_sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Split a file into statements at `;` that end a line (comments dropped).
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if trimmed.ends_with(';') {
            let stmt = cur.trim().trim_end_matches(';').trim().to_string();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            cur.clear();
        }
    }
    let rest = cur.trim().to_string();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
    (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC')) \
    ENGINE = MergeTree ORDER BY version";

/// Whether the server is the embedded engine of `scripts/clickhouse-dev`.
async fn is_embedded_engine(client: &clickhouse::Client) -> bool {
    client
        .query("SELECT count() FROM system.functions WHERE name = 'chdb'")
        .fetch_one::<u64>()
        .await
        .map(|n| n > 0)
        .unwrap_or(false)
}

/// Versions recorded as applied, or empty if the database is new.
pub async fn applied(cfg: &ClickHouseConfig) -> Result<Vec<(u32, String)>, MigrateError> {
    let base = super::base_client(cfg);
    let exists: u64 = base
        .query(
            "SELECT count() FROM system.tables WHERE database = ? AND name = 'schema_migrations'",
        )
        .bind(&cfg.database)
        .fetch_one()
        .await?;
    if exists == 0 {
        return Ok(vec![]);
    }
    let rows: Vec<(u32, String)> = super::client(cfg)
        .query("SELECT version, checksum FROM schema_migrations ORDER BY version")
        .fetch_all()
        .await?;
    Ok(rows)
}

/// Migrations not yet applied; errors if an applied one has changed.
pub async fn pending(cfg: &ClickHouseConfig) -> Result<Vec<Migration>, MigrateError> {
    let done = applied(cfg).await?;
    let mut out = Vec::new();
    for m in embedded()? {
        match done.iter().find(|(v, _)| *v == m.version) {
            Some((_, sum)) if *sum != m.checksum => {
                return Err(MigrateError::Changed(m.name.into()))
            }
            Some(_) => {}
            None => out.push(m),
        }
    }
    Ok(out)
}

/// Apply every pending migration; returns the names applied.
pub async fn migrate(cfg: &ClickHouseConfig, now_ms: i64) -> Result<Vec<String>, MigrateError> {
    migrate_to(cfg, now_ms, u32::MAX).await
}

/// Apply pending migrations up to and including version `last` (tests of a
/// migration start from the schema before it).
pub async fn migrate_to(
    cfg: &ClickHouseConfig,
    now_ms: i64,
    last: u32,
) -> Result<Vec<String>, MigrateError> {
    // On a cluster every statement is rewritten (`cluster::rewrite`).
    let on_cluster = |stmt: &str| match &cfg.cluster {
        Some(c) => super::cluster::rewrite(stmt, c, &cfg.database),
        None => vec![stmt.to_string()],
    };
    let base = super::base_client(cfg);
    for stmt in on_cluster(&format!("CREATE DATABASE IF NOT EXISTS `{}`", cfg.database)) {
        base.query(&stmt).execute().await?;
    }
    let client = super::client(cfg);
    for stmt in on_cluster(MIGRATIONS_TABLE) {
        client.query(&stmt).execute().await?;
    }
    let todo: Vec<Migration> = pending(cfg)
        .await?
        .into_iter()
        .filter(|m| m.version <= last)
        .collect();
    let embedded_engine = if todo.iter().any(|m| m.server_only) {
        is_embedded_engine(&client).await
    } else {
        false
    };
    let mut names = Vec::new();
    for m in todo {
        if !(m.server_only && embedded_engine) {
            for stmt in statements(m.sql)
                .iter()
                .flat_map(|s| on_cluster(&s.replace("{database}", &cfg.database)))
            {
                // Raw: migrations are literal SQL; a `?` in a comment is not a
                // bind placeholder.
                client
                    .query_raw(&stmt)
                    .execute()
                    .await
                    .map_err(|source| MigrateError::Apply {
                        name: m.name.into(),
                        source,
                    })?;
            }
        }
        let mut ins = client.insert::<AppliedRow>("schema_migrations").await?;
        ins.write(&AppliedRow {
            version: m.version,
            name: m.name.into(),
            checksum: m.checksum.clone(),
            applied_at: now_ms,
        })
        .await?;
        ins.end().await?;
        names.push(m.name.to_string());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_migrations_are_numbered_in_order() {
        let all = embedded().unwrap();
        assert!(!all.is_empty());
        for (i, m) in all.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{} out of sequence", m.name);
            assert!(!statements(m.sql).is_empty());
        }
    }

    #[test]
    fn statements_split_at_line_end_semicolons() {
        let s =
            statements("-- c\nCREATE TABLE a (x String DEFAULT ';')\nENGINE = Log;\n\nSELECT 1;\n");
        assert_eq!(
            s,
            vec![
                "CREATE TABLE a (x String DEFAULT ';')\nENGINE = Log",
                "SELECT 1"
            ]
        );
    }
}
