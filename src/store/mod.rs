//! ClickHouse access: the [`Store`] handle every module that talks to the
//! engine is given (client, database, cluster, settings; built once per
//! process), the one error type [`StoreError`] that prints only log-safe
//! text, the schema (`migrate`: a new install runs `schema/baseline.sql`,
//! `schema/views/` and `schema/grants.sql`; an existing one the
//! historical `schema/migrations/`), the tier of every table
//! (`tiers`), cluster mode (`cluster`), the purge fences (`fence`) and the
//! salts table (`salts`).

pub mod cluster;
pub mod fence;
pub mod migrate;
pub mod salts;
pub mod tiers;

use std::sync::Arc;

use crate::config::ClickHouseConfig;
use secrecy::ExposeSecret;

/// The engine, as tacit uses it: one client (bound to tacit's database,
/// with the cluster settings when there is a cluster), the database name
/// and the cluster name. Built once per process from the configuration and
/// passed down; cloning shares the client's connection pool. Statements
/// that name a table to mutate ask [`Store::target`], so the cluster lives
/// here and nowhere else.
#[derive(Clone)]
pub struct Store {
    client: clickhouse::Client,
    database: Arc<str>,
    cluster: Option<Arc<str>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.database)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The handle for a configuration (no I/O: the pool connects lazily).
    pub fn new(cfg: &ClickHouseConfig) -> Self {
        Store {
            client: client(cfg),
            database: cfg.database.as_str().into(),
            cluster: cfg.cluster.as_deref().map(Arc::from),
        }
    }

    /// A handle from its parts: `client` must already be bound to
    /// `database` (tests, and tools that build their own client).
    pub fn from_parts(client: clickhouse::Client, database: &str, cluster: Option<&str>) -> Self {
        Store {
            client,
            database: database.into(),
            cluster: cluster.map(Arc::from),
        }
    }

    /// The client, bound to tacit's database.
    pub fn client(&self) -> &clickhouse::Client {
        &self.client
    }

    /// tacit's database.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The cluster, if tacit runs on one.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// The same engine through another client (one with extra settings,
    /// such as the purge fences' table filters).
    pub fn with_client(&self, client: clickhouse::Client) -> Store {
        Store {
            client,
            database: self.database.clone(),
            cluster: self.cluster.clone(),
        }
    }

    /// The table a mutation (`ALTER TABLE … DELETE`, `MODIFY TTL`, `DELETE
    /// FROM`, `OPTIMIZE`) names: itself on one server; its local table, or
    /// itself, `ON CLUSTER` on a cluster. `table` is one of tacit's own
    /// table names (a constant of `store::tiers`), never user input.
    pub fn target(&self, table: &str) -> String {
        debug_assert!(tiers::TABLES.iter().any(|t| t.name == table), "{table}");
        cluster::target_on(table, self.cluster())
    }
}

/// A failed call to the engine. Its text is log-safe (`log_safe`): the
/// error code and name, never the server's message, which can quote rows.
#[derive(Debug, thiserror::Error)]
#[error("{}", log_safe(.0))]
pub struct StoreError(#[from] pub clickhouse::error::Error);

/// A client bound to tacit's database (use [`Store::new`]; this is for the
/// migrations, which run before a store exists).
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
    if let Some(password) = &cfg.password {
        c = c.with_password(password.expose_secret());
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
            tiers::Lifetime::Fixed => None,
        })
        .collect()
}

/// The mutation that sets a table's TTL (`clause` from [`retention`]).
pub fn retention_sql(store: &Store, table: &str, clause: &str) -> String {
    format!("ALTER TABLE {} MODIFY TTL {clause}", store.target(table))
}

/// Make table TTLs match the policy. Returns the tables changed.
pub async fn apply_retention(
    store: &Store,
    policy: &crate::config::Policy,
) -> Result<Vec<&'static str>, StoreError> {
    let mut changed = Vec::new();
    for (table, printed, clause) in retention(policy) {
        let row: EngineRow = store
            .client()
            .query(
                "SELECT engine_full FROM system.tables \
                 WHERE database = {db:String} AND name = {table:String}",
            )
            .param("db", store.database())
            .param("table", table)
            .fetch_one()
            .await?;
        if row.engine_full.contains(&printed) {
            continue;
        }
        store
            .client()
            .query(&retention_sql(store, table, &clause))
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
