//! Schema migrations. A new database is installed from the **baseline**
//! (`schema/baseline.sql`, the views of `schema/views/` in dependency
//! order, `schema/grants.sql`): the schema as the historical migrations
//! leave it, written once. An existing database keeps migrating: the
//! append-only files of `schema/migrations/` are applied in order, each
//! recorded in `schema_migrations` with a checksum so an edited,
//! already-applied file is reported rather than silently ignored. A
//! baseline install is recorded as one row, `baseline` at the baseline's
//! version, so every later migration applies to both kinds of install.
//! Applying is idempotent; `schema/README.md` says how a change is made.
//!
//! A file whose first line is `-- tacit: server-only` holds DDL that only a
//! real ClickHouse server accepts (users, roles, grants); it is skipped, and
//! recorded as skipped, on the embedded engine of `scripts/clickhouse-dev`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::ClickHouseConfig;

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The name recorded in `schema_migrations` for a baseline install.
pub const BASELINE: &str = "baseline";

/// The first line of `schema/baseline.sql`, before its version.
const BASELINE_HEADER: &str = "-- tacit: baseline ";

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("clickhouse: {}", super::log_safe(.0))]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("schema/{name}: {}", super::log_safe(.source))]
    Apply {
        name: String,
        source: clickhouse::error::Error,
    },
    #[error("migration {0} was applied with different contents (checksum mismatch); migrations are append-only")]
    Changed(String),
    #[error("migration file name {0:?} is not NNNN_name.sql")]
    BadName(String),
    #[error("schema/baseline.sql does not start with `{BASELINE_HEADER}N`")]
    BadBaseline,
    #[error("the views {0} read each other in a cycle")]
    ViewCycle(String),
}

/// One historical migration, `schema/migrations/NNNN_name.sql`.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
    pub checksum: String,
    pub server_only: bool,
}

/// One file of the baseline: the tables, one view, or the grants.
#[derive(Debug, Clone)]
pub struct Part {
    /// Its path under `schema/`.
    pub file: String,
    pub sql: &'static str,
    pub server_only: bool,
}

/// The schema of a new install: the state migration `version` leaves.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub version: u32,
    /// The tables, then each view after the views it reads, then the grants.
    pub parts: Vec<Part>,
}

/// What `migrate` applies and records as one row: a migration, or the
/// baseline (named [`BASELINE`]).
#[derive(Debug, Clone)]
pub struct Step {
    pub version: u32,
    pub name: String,
    pub checksum: String,
    pub parts: Vec<Part>,
}

#[derive(clickhouse::Row, Serialize, Deserialize)]
struct AppliedRow {
    version: u32,
    name: String,
    checksum: String,
    applied_at: i64,
}

fn is_server_only(sql: &str) -> bool {
    sql.lines()
        .next()
        .is_some_and(|l| l.trim() == "-- tacit: server-only")
}

/// The historical migrations built into this binary, in order.
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
                server_only: is_server_only(sql),
            })
        })
        .collect()
}

impl From<Migration> for Step {
    fn from(m: Migration) -> Self {
        Step {
            version: m.version,
            name: m.name.to_string(),
            checksum: m.checksum,
            parts: vec![Part {
                file: format!("migrations/{}", m.name),
                sql: m.sql,
                server_only: m.server_only,
            }],
        }
    }
}

/// The baseline built into this binary, its views in dependency order.
pub fn baseline() -> Result<Baseline, MigrateError> {
    let version = BASELINE_TABLES
        .lines()
        .next()
        .and_then(|l| l.strip_prefix(BASELINE_HEADER))
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or(MigrateError::BadBaseline)?;
    let mut parts = vec![Part {
        file: "baseline.sql".into(),
        sql: BASELINE_TABLES,
        server_only: false,
    }];
    for (file, sql) in view_order(BASELINE_VIEWS)? {
        parts.push(Part {
            file: format!("views/{file}"),
            sql,
            server_only: is_server_only(sql),
        });
    }
    parts.push(Part {
        file: "grants.sql".into(),
        sql: BASELINE_GRANTS,
        server_only: is_server_only(BASELINE_GRANTS),
    });
    Ok(Baseline { version, parts })
}

impl From<Baseline> for Step {
    fn from(b: Baseline) -> Self {
        // Recorded, never compared: folding a migration into the baseline
        // rewrites its files, and the databases it installed stay valid.
        let mut sum = Sha256::new();
        for p in &b.parts {
            sum.update(p.sql.as_bytes());
        }
        Step {
            version: b.version,
            name: BASELINE.into(),
            checksum: hex::encode(sum.finalize()),
            parts: b.parts,
        }
    }
}

/// The identifiers of a statement outside its string literals and comments.
fn identifiers(sql: &str) -> impl Iterator<Item = &str> {
    let mut spans = Vec::new();
    let (mut in_string, mut escaped, mut start) = (false, false, None);
    let mut in_comment = false;
    for (i, c) in sql.char_indices() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                // A doubled quote ends and reopens the literal: same result.
                (false, '\'') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            spans.push((s, i));
        }
        in_string = c == '\'';
        in_comment = c == '-' && sql[i + 1..].starts_with('-');
    }
    if let Some(s) = start {
        spans.push((s, sql.len()));
    }
    spans.into_iter().map(move |(a, z)| &sql[a..z])
}

/// `views` (`name.sql`, text) ordered so that each comes after every other
/// view it names; ties by name.
fn view_order(
    views: &[(&'static str, &'static str)],
) -> Result<Vec<(&'static str, &'static str)>, MigrateError> {
    let name = |file: &str| file.trim_end_matches(".sql").to_string();
    let deps: Vec<Vec<String>> = views
        .iter()
        .map(|(file, sql)| {
            let me = name(file);
            let body = statements(sql).join("\n");
            let mut d: Vec<String> = identifiers(&body)
                .filter(|w| *w != me && views.iter().any(|(f, _)| name(f) == *w))
                .map(str::to_string)
                .collect();
            d.sort();
            d.dedup();
            d
        })
        .collect();
    let mut placed: Vec<String> = Vec::new();
    let mut out = Vec::new();
    while out.len() < views.len() {
        let next = views.iter().zip(&deps).find(|((file, _), d)| {
            !placed.contains(&name(file)) && d.iter().all(|x| placed.contains(x))
        });
        let Some((&(file, sql), _)) = next else {
            let left: Vec<String> = views
                .iter()
                .map(|(f, _)| name(f))
                .filter(|n| !placed.contains(n))
                .collect();
            return Err(MigrateError::ViewCycle(left.join(", ")));
        };
        placed.push(name(file));
        out.push((file, sql));
    }
    Ok(out)
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
    ENGINE = MergeTree ORDER BY version \
    COMMENT 'The schema migrations applied, with their checksums'";

/// Whether the server is the embedded engine of `scripts/clickhouse-dev`.
async fn is_embedded_engine(client: &clickhouse::Client) -> bool {
    client
        .query("SELECT count() FROM system.functions WHERE name = 'chdb'")
        .fetch_one::<u64>()
        .await
        .map(|n| n > 0)
        .unwrap_or(false)
}

/// Rows of `schema_migrations` as `(version, name, checksum)`, or none if
/// the database is new.
pub async fn applied(cfg: &ClickHouseConfig) -> Result<Vec<(u32, String, String)>, MigrateError> {
    let base = super::base_client(cfg);
    let exists: u64 = base
        .query(
            "SELECT count() FROM system.tables \
             WHERE database = {db:String} AND name = 'schema_migrations'",
        )
        .param("db", &cfg.database)
        .fetch_one()
        .await?;
    if exists == 0 {
        return Ok(vec![]);
    }
    let rows: Vec<(u32, String, String)> = super::client(cfg)
        .query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        .fetch_all()
        .await?;
    Ok(rows)
}

/// How a new database starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// From the baseline (`tacit migrate`).
    Baseline,
    /// From migration 0001, like an install made before the baseline.
    History,
}

/// The steps that bring a database with rows `done` to version `last`.
fn plan(
    done: &[(u32, String, String)],
    start: Start,
    last: u32,
) -> Result<Vec<Step>, MigrateError> {
    let migrations = embedded()?;
    let base = baseline()?;
    let mut out: Vec<Step> = Vec::new();
    // What the baseline covers: nothing on a database that migrated from 0001.
    let mut covered = done
        .iter()
        .filter(|(_, name, _)| name == BASELINE)
        .map(|(v, _, _)| *v)
        .max()
        .unwrap_or(0);
    if done.is_empty() && start == Start::Baseline && last >= base.version {
        covered = base.version;
        out.push(base.into());
    }
    for m in migrations {
        if m.version <= covered || m.version > last {
            continue;
        }
        match done.iter().find(|(v, _, _)| *v == m.version) {
            Some((_, _, sum)) if *sum != m.checksum => {
                return Err(MigrateError::Changed(m.name.into()))
            }
            Some(_) => {}
            None => out.push(m.into()),
        }
    }
    Ok(out)
}

/// Steps not yet applied (the baseline and what follows it, for a new
/// database); errors if an applied migration has changed.
pub async fn pending(cfg: &ClickHouseConfig) -> Result<Vec<Step>, MigrateError> {
    plan(&applied(cfg).await?, Start::Baseline, u32::MAX)
}

/// Apply every pending step; returns the names applied.
pub async fn migrate(cfg: &ClickHouseConfig, now_ms: i64) -> Result<Vec<String>, MigrateError> {
    migrate_to(cfg, now_ms, u32::MAX).await
}

/// Apply pending steps up to and including version `last`. A new database
/// starts from the baseline if `last` reaches it, else from 0001 (tests of
/// a migration start from the schema before it).
pub async fn migrate_to(
    cfg: &ClickHouseConfig,
    now_ms: i64,
    last: u32,
) -> Result<Vec<String>, MigrateError> {
    apply(cfg, now_ms, last, Start::Baseline).await
}

/// Apply pending migrations up to and including `last`, a new database
/// starting from 0001 as it did before the baseline existed (the test that
/// the two kinds of install end up with the same schema).
pub async fn upgrade_to(
    cfg: &ClickHouseConfig,
    now_ms: i64,
    last: u32,
) -> Result<Vec<String>, MigrateError> {
    apply(cfg, now_ms, last, Start::History).await
}

async fn apply(
    cfg: &ClickHouseConfig,
    now_ms: i64,
    last: u32,
    start: Start,
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
    let todo = plan(&applied(cfg).await?, start, last)?;
    let embedded_engine = if todo.iter().flat_map(|s| &s.parts).any(|p| p.server_only) {
        is_embedded_engine(&client).await
    } else {
        false
    };
    let mut names = Vec::new();
    for step in todo {
        // A baseline that fails part-way is run again whole: every
        // statement in it is `IF NOT EXISTS`, and nothing is recorded yet.
        for part in step
            .parts
            .iter()
            .filter(|p| !(p.server_only && embedded_engine))
        {
            for stmt in statements(part.sql)
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
                        name: part.file.clone(),
                        source,
                    })?;
            }
        }
        let mut ins = client.insert::<AppliedRow>("schema_migrations").await?;
        ins.write(&AppliedRow {
            version: step.version,
            name: step.name.clone(),
            checksum: step.checksum.clone(),
            applied_at: now_ms,
        })
        .await?;
        ins.end().await?;
        names.push(step.name);
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

    #[test]
    fn the_baseline_covers_existing_migrations_and_creates_only_if_absent() {
        let b = baseline().unwrap();
        let all = embedded().unwrap();
        assert!(all.iter().any(|m| m.version == b.version), "{}", b.version);
        assert_eq!(b.parts.first().unwrap().file, "baseline.sql");
        assert_eq!(b.parts.last().unwrap().file, "grants.sql");
        assert!(b.parts.last().unwrap().server_only);
        for p in &b.parts {
            for s in statements(p.sql) {
                let head = s.to_ascii_uppercase();
                // A baseline run again after a failure changes nothing twice.
                assert!(
                    head.contains("IF NOT EXISTS") || head.starts_with("GRANT"),
                    "{}: {s}",
                    p.file
                );
            }
        }
        // One view per file, named after it.
        for p in b.parts.iter().filter(|p| p.file.starts_with("views/")) {
            let s = statements(p.sql);
            assert_eq!(s.len(), 1, "{}", p.file);
            let name = p.file.trim_start_matches("views/").trim_end_matches(".sql");
            let head = s[0]
                .split_whitespace()
                .take(7)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                head.ends_with(&format!("IF NOT EXISTS {name}"))
                    || head.contains(&format!("IF NOT EXISTS {name} ")),
                "{}: {head}",
                p.file
            );
        }
    }

    #[test]
    fn views_come_after_the_views_they_read() {
        let order = view_order(&[
            ("c.sql", "CREATE VIEW c AS SELECT * FROM b"),
            ("a.sql", "CREATE VIEW a AS SELECT 'c' FROM t -- c\n"),
            ("b.sql", "CREATE VIEW b AS SELECT * FROM a JOIN a_b USING x"),
        ])
        .unwrap();
        let names: Vec<&str> = order.iter().map(|(f, _)| *f).collect();
        assert_eq!(names, ["a.sql", "b.sql", "c.sql"]);
        assert!(matches!(
            view_order(&[("a.sql", "SELECT * FROM b"), ("b.sql", "SELECT * FROM a")]),
            Err(MigrateError::ViewCycle(_))
        ));
        let real = baseline().unwrap();
        let pos = |v: &str| {
            real.parts
                .iter()
                .position(|p| p.file == format!("views/{v}.sql"))
        };
        assert!(pos("analytics_goals_daily") < pos("analytics_goal_conversions"));
        assert!(pos("open_visits") < pos("analytics_visits_daily"));
        assert!(pos("analytics_visits_daily") < pos("analytics_overview_daily"));
    }

    #[test]
    fn a_new_database_starts_from_the_baseline_and_an_old_one_keeps_migrating() {
        let b = baseline().unwrap().version;
        let all = embedded().unwrap();
        let later = all.iter().filter(|m| m.version > b).count();
        let fresh = plan(&[], Start::Baseline, u32::MAX).unwrap();
        assert_eq!(fresh[0].name, BASELINE);
        assert_eq!(fresh.len(), 1 + later);
        let history = plan(&[], Start::History, u32::MAX).unwrap();
        assert_eq!(history.len(), all.len());
        // A test of migration 12 starts below the baseline: from 0001.
        assert_eq!(plan(&[], Start::Baseline, 12).unwrap().len(), 12);
        // Installed from the baseline: only what follows it is pending.
        let row = |v: u32, n: &str, c: &str| (v, n.to_string(), c.to_string());
        let at_baseline = [row(b, BASELINE, "x")];
        assert_eq!(
            plan(&at_baseline, Start::Baseline, u32::MAX).unwrap().len(),
            later
        );
        // Upgraded through 0001..: checksums still guard the applied files.
        let mut upgraded: Vec<_> = all
            .iter()
            .map(|m| row(m.version, m.name, &m.checksum))
            .collect();
        assert!(plan(&upgraded, Start::Baseline, u32::MAX)
            .unwrap()
            .is_empty());
        upgraded[2].2 = "edited".into();
        assert!(matches!(
            plan(&upgraded, Start::Baseline, u32::MAX),
            Err(MigrateError::Changed(_))
        ));
    }
}
