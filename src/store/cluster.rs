//! Cluster mode (`[clickhouse] cluster`): the same schema on a ClickHouse
//! cluster. Every migration statement is rewritten here, so the SQL files
//! stay the single source of the schema:
//!
//! - a table holding visitor data or counts is **sharded**: `<t>_local`
//!   (`Replicated*MergeTree`, one replica set per shard) and `<t>`, a
//!   `Distributed` table over it that everything else reads and writes;
//! - every other table (salts, rollup versions, funnel definitions, the
//!   disclosure ledger, purges, migrations) is **everywhere**: replicated
//!   under one path on every node of every shard, so each replica and each
//!   collector reads the same salt and the same ledger locally;
//! - views are created `ON CLUSTER` over the `Distributed` names;
//!   materialized views sit on the local tables.
//!
//! The sharding key of the tables with visitor ids is a hash of site, UTC
//! day and visitor id: all of one visitor-day's rows are on one shard, so
//! a closed day's visits are recomputed on each shard's local rows
//! (`parallel_distributed_insert_select = 2`) and a visit is never split.
//! The closed-day rollups read across shards through the `Distributed`
//! tables (exact distinct counts merge exactly) and write one row per key,
//! so analysts see the single-server rows. Mutations (deleting old rollup
//! versions, purges, salts, TTLs) go to the local tables `ON CLUSTER`.
//!
//! The cluster name lives in the [`super::Store`] handle; statements that
//! mutate a table ask it for their target ([`super::Store::target`]).

/// Sharded tables and their sharding keys. Tables with visitor ids use
/// site, day and visitor id (a visitor-day on one shard); count tables use
/// site and day.
pub const SHARDED: &[(&str, &str)] = &[
    ("events", "cityHash64(site, toDate(ts), visitor_id)"),
    ("email_events", "cityHash64(site, toDate(ts), visitor_id)"),
    ("sessions", "cityHash64(site, day, visitor_id)"),
    // Dropped by migration 0030; kept so the history (0026) renders alike.
    ("visits", "cityHash64(site, day, visitor_id)"),
    ("import_staging", "cityHash64(site, toDate(ts), visitor_id)"),
    ("rollup_hourly", "cityHash64(site, toDate(hour))"),
    ("rollup_daily", "cityHash64(site, day)"),
    ("rollup_landing_daily", "cityHash64(site, day)"),
    ("rollup_filtered_daily", "cityHash64(site, day)"),
    ("rollup_visits_filtered_daily", "cityHash64(site, day)"),
    ("rollup_visits_daily", "cityHash64(site, day)"),
    ("rollup_goals_daily", "cityHash64(site, day)"),
    ("rollup_funnels_daily", "cityHash64(site, day)"),
    ("rollup_email_daily", "cityHash64(site, day)"),
    ("dropped_hits", "cityHash64(site, day)"),
    ("import_days", "cityHash64(site, day)"),
    // Dropped by migration 0013: created and dropped only on an install
    // upgraded through the historical migrations (a new one runs the baseline).
    ("agg_hourly", "cityHash64(site, toDate(hour))"),
    ("agg_daily", "cityHash64(site, day)"),
    // The sessionizer's working tables (migration 0021), dropped by 0027.
    ("events_recent", "cityHash64(site, toDate(ts), visitor_id)"),
    ("sessions_tail", "cityHash64(site, day, visitor_id)"),
];

/// The sharding key of a sharded table.
pub fn shard_key(table: &str) -> Option<&'static str> {
    SHARDED.iter().find(|(t, _)| *t == table).map(|(_, k)| *k)
}

/// The table a mutation names on `cluster` (see [`super::Store::target`]).
pub fn target_on(table: &str, cluster: Option<&str>) -> String {
    match (cluster, shard_key(table)) {
        (None, _) => table.to_string(),
        (Some(c), Some(_)) => format!("{table}_local ON CLUSTER '{c}'"),
        (Some(c), None) => format!("{table} ON CLUSTER '{c}'"),
    }
}

/// Settings every query of tacit carries on a cluster: `IN` subqueries
/// over a co-sharded table (the newest visits of a site-day) stay local.
/// (A day is in `sessions` on a shard once its visits there were
/// recomputed: visits and events are co-sharded.) The recomputation adds
/// `parallel_distributed_insert_select = 2` to its own `INSERT … SELECT`,
/// so each shard recomputes its local rows.
pub const SETTINGS: &[(&str, &str)] = &[("distributed_product_mode", "local")];

fn word_end(s: &str) -> usize {
    s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len())
}

/// Split `s` after an optional prefix (case-insensitive) and return the
/// rest, trimmed at the start.
fn after<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s[prefix.len()..].trim_start())
}

/// `(head, name, rest)` for `<head> [IF [NOT] EXISTS] name rest`.
fn named<'a>(s: &'a str, head: &str) -> Option<(String, &'a str, &'a str)> {
    let rest = after(s, head)?;
    let (exists, rest) = match after(rest, "IF NOT EXISTS") {
        Some(r) => ("IF NOT EXISTS ", r),
        None => match after(rest, "IF EXISTS") {
            Some(r) => ("IF EXISTS ", r),
            None => ("", rest),
        },
    };
    let end = word_end(rest);
    (end > 0).then(|| (format!("{head} {exists}"), &rest[..end], &rest[end..]))
}

/// The trailing `COMMENT '…'` of a statement, if any.
fn trailing_comment(s: &str) -> Option<&str> {
    let at = s.rfind("\nCOMMENT '").or_else(|| s.rfind(") COMMENT '"))?;
    let c = s[at..].trim_start_matches(')').trim();
    c.ends_with('\'').then_some(c)
}

/// `ENGINE = Name[(args)]` → (start, end, name, args) in `s`.
fn engine(s: &str) -> Option<(usize, usize, &str, &str)> {
    let at = s.find("ENGINE = ")?;
    let from = at + "ENGINE = ".len();
    let name_end = from + word_end(&s[from..]);
    let name = &s[from..name_end];
    if s[name_end..].starts_with('(') {
        let close = name_end + s[name_end..].find(')')?;
        Some((at, close + 1, name, &s[name_end + 1..close]))
    } else {
        Some((at, name_end, name, ""))
    }
}

fn replicated(name: &str, args: &str, path: &str) -> String {
    let args = if args.trim().is_empty() {
        String::new()
    } else {
        format!(", {args}")
    };
    format!("ENGINE = Replicated{name}('{path}', '{{replica}}'{args})")
}

fn create_table(head: &str, t: &str, rest: &str, c: &str, db: &str) -> Vec<String> {
    let Some((a, z, name, args)) = engine(rest) else {
        return vec![format!("{head}{t} ON CLUSTER '{c}'{rest}")];
    };
    match shard_key(t) {
        Some(key) => {
            let local = format!("{t}_local");
            let engine = replicated(
                name,
                args,
                &format!("/clickhouse/tables/{{shard}}/{db}/{local}"),
            );
            let mut dist = format!(
                "{head}{t} ON CLUSTER '{c}' AS {local} ENGINE = Distributed('{c}', '{db}', '{local}', {key})"
            );
            if let Some(comment) = trailing_comment(rest) {
                dist.push('\n');
                dist.push_str(comment);
            }
            vec![
                format!(
                    "{head}{local} ON CLUSTER '{c}'{}{engine}{}",
                    &rest[..a],
                    &rest[z..]
                ),
                dist,
            ]
        }
        None => {
            let engine = replicated(name, args, &format!("/clickhouse/tables/all/{db}/{t}"));
            vec![format!(
                "{head}{t} ON CLUSTER '{c}'{}{engine}{}",
                &rest[..a],
                &rest[z..]
            )]
        }
    }
}

/// Replace whole-word table names that are sharded by their local names.
fn localize(s: &str, after_words: &[&str]) -> String {
    let mut out = s.to_string();
    for (t, _) in SHARDED {
        for w in after_words {
            out = out.replace(&format!("{w} {t}\n"), &format!("{w} {t}_local\n"));
            out = out.replace(&format!("{w} {t} "), &format!("{w} {t}_local "));
            if out.ends_with(&format!("{w} {t}")) {
                out.push_str("_local");
            }
        }
    }
    out
}

/// One migration statement as it runs on cluster `c` (database `db`).
/// Statements that need no change (an `INSERT`, which goes through the
/// `Distributed` tables) come back as they are.
pub fn rewrite(stmt: &str, c: &str, db: &str) -> Vec<String> {
    let s = stmt.trim();
    if after(s, "CREATE DATABASE").is_some() {
        return vec![format!("{s} ON CLUSTER '{c}'")];
    }
    if let Some((head, t, rest)) = named(s, "CREATE TABLE") {
        return create_table(&head, t, rest, c, db);
    }
    if let Some((head, v, rest)) = named(s, "CREATE MATERIALIZED VIEW") {
        let rest = localize(rest, &["TO", "FROM", "JOIN"]);
        return vec![format!("{head}{v} ON CLUSTER '{c}'{rest}")];
    }
    if let Some((head, v, rest)) = named(s, "CREATE VIEW") {
        return vec![format!("{head}{v} ON CLUSTER '{c}'{rest}")];
    }
    if let Some((head, t, rest)) = named(s, "ALTER TABLE") {
        if shard_key(t).is_none() {
            return vec![format!("{head}{t} ON CLUSTER '{c}'{rest}")];
        }
        let mut out = vec![format!("{head}{t}_local ON CLUSTER '{c}'{rest}")];
        let op = rest.trim_start().to_ascii_uppercase();
        let schema_change = [
            "ADD COLUMN",
            "DROP COLUMN",
            "MODIFY COLUMN",
            "COMMENT COLUMN",
            "MODIFY COMMENT",
            "RENAME COLUMN",
        ]
        .iter()
        .any(|k| op.starts_with(k));
        if schema_change {
            out.push(format!("{head}{t} ON CLUSTER '{c}'{rest}"));
        }
        return out;
    }
    for kind in ["DROP TABLE", "DROP VIEW"] {
        if let Some((head, t, rest)) = named(s, kind) {
            let mut out = vec![format!("{head}{t} ON CLUSTER '{c}'{rest}")];
            if kind == "DROP TABLE" && shard_key(t).is_some() {
                out.push(format!("{head}{t}_local ON CLUSTER '{c}'{rest}"));
            }
            return out;
        }
    }
    if let Some((head, r, rest)) = named(s, "CREATE ROLE") {
        return vec![format!("{head}{r} ON CLUSTER '{c}'{rest}")];
    }
    for kind in ["GRANT", "REVOKE"] {
        if let Some(rest) = after(s, kind) {
            let mut out = vec![format!("{kind} ON CLUSTER '{c}' {rest}")];
            // Reading a Distributed table reads the local ones too.
            for (t, _) in SHARDED {
                let on = format!(" ON {db}.{t} ");
                if rest.contains(&on) {
                    let local = rest.replace(&on, &format!(" ON {db}.{t}_local "));
                    out.push(format!("{kind} ON CLUSTER '{c}' {local}"));
                }
            }
            return out;
        }
    }
    vec![s.to_string()]
}

/// The whole schema as it runs on cluster `c`: every migration's
/// statements, rewritten (the snapshot `schema/cluster/tacit.sql` is this; a new install's is `schema/cluster/baseline.sql`).
pub fn schema(c: &str, db: &str) -> Vec<(String, Vec<String>)> {
    let mut out = vec![(
        "(tacit)".to_string(),
        rewrite(&format!("CREATE DATABASE IF NOT EXISTS `{db}`"), c, db)
            .into_iter()
            .chain(rewrite(super::migrate::MIGRATIONS_TABLE, c, db))
            .collect(),
    )];
    for m in super::migrate::embedded().unwrap_or_default() {
        let stmts = super::migrate::statements(m.sql)
            .into_iter()
            .flat_map(|s| rewrite(&s.replace("{database}", db), c, db))
            .collect();
        out.push((m.name.to_string(), stmts));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharded_tables_get_a_local_table_and_a_distributed_one() {
        let out = rewrite(
            "CREATE TABLE IF NOT EXISTS events\n(\n    site String, ts DateTime64(3)\n)\nENGINE = MergeTree\nORDER BY site\nCOMMENT 'Event tier'",
            "c1",
            "tacit",
        );
        assert_eq!(out.len(), 2);
        assert!(out[0].starts_with("CREATE TABLE IF NOT EXISTS events_local ON CLUSTER 'c1'\n("));
        assert!(out[0].contains("ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tacit/events_local', '{replica}')\nORDER BY site"));
        assert_eq!(
            out[1],
            "CREATE TABLE IF NOT EXISTS events ON CLUSTER 'c1' AS events_local ENGINE = Distributed('c1', 'tacit', 'events_local', cityHash64(site, toDate(ts), visitor_id))\nCOMMENT 'Event tier'"
        );
        let salts = rewrite(
            "CREATE TABLE IF NOT EXISTS salts (day Date) ENGINE = ReplacingMergeTree(created_at) ORDER BY day",
            "c1",
            "tacit",
        );
        assert_eq!(salts, vec!["CREATE TABLE IF NOT EXISTS salts ON CLUSTER 'c1' (day Date) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/tacit/salts', '{replica}', created_at) ORDER BY day".to_string()]);
    }

    #[test]
    fn views_alters_drops_and_grants_go_on_the_cluster() {
        assert_eq!(
            rewrite("CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO agg_daily AS SELECT x FROM events", "c", "d"),
            vec!["CREATE MATERIALIZED VIEW IF NOT EXISTS mv ON CLUSTER 'c' TO agg_daily_local AS SELECT x FROM events_local"]
        );
        assert_eq!(
            rewrite("ALTER TABLE events MODIFY TTL toDateTime(ts) + INTERVAL 3 DAY", "c", "d"),
            vec!["ALTER TABLE events_local ON CLUSTER 'c' MODIFY TTL toDateTime(ts) + INTERVAL 3 DAY"]
        );
        assert_eq!(
            rewrite("ALTER TABLE sessions ADD COLUMN x UInt8", "c", "d").len(),
            2
        );
        assert_eq!(
            rewrite("DROP TABLE IF EXISTS agg_daily SYNC", "c", "d"),
            vec![
                "DROP TABLE IF EXISTS agg_daily ON CLUSTER 'c' SYNC",
                "DROP TABLE IF EXISTS agg_daily_local ON CLUSTER 'c' SYNC"
            ]
        );
        assert_eq!(
            rewrite("GRANT SELECT ON d.rollup_daily TO analyst", "c", "d"),
            vec![
                "GRANT ON CLUSTER 'c' SELECT ON d.rollup_daily TO analyst",
                "GRANT ON CLUSTER 'c' SELECT ON d.rollup_daily_local TO analyst"
            ]
        );
        assert_eq!(
            rewrite("INSERT INTO rollup_days SELECT 1", "c", "d"),
            vec!["INSERT INTO rollup_days SELECT 1"]
        );
        assert_eq!(
            target_on("sessions", Some("c")),
            "sessions_local ON CLUSTER 'c'"
        );
        assert_eq!(target_on("salts", Some("c")), "salts ON CLUSTER 'c'");
        assert_eq!(target_on("salts", None), "salts");
    }

    #[test]
    fn every_stored_table_is_placed() {
        for t in super::super::tiers::TABLES {
            let sharded = shard_key(t.name).is_some();
            let visitor_data = t.columns.contains(&"visitor_id");
            assert!(
                !visitor_data || sharded,
                "{}: visitor ids must be sharded by visitor-day",
                t.name
            );
            if let Some(k) = shard_key(t.name) {
                assert!(k.contains("site"), "{}", t.name);
                assert_eq!(visitor_data, k.contains("visitor_id"), "{}", t.name);
            }
        }
    }
}
