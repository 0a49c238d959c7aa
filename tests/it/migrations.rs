//! The two ways to the current schema agree: a new install runs the
//! baseline (`schema/baseline.sql`, `schema/views/`, `schema/grants.sql`),
//! an existing one every historical migration (`schema/migrations/`).
//! Both are installed on the engine and compared object by object (tables,
//! engines with their TTLs and keys, columns, indices, view definitions);
//! the grants, which the embedded engine cannot hold, are compared as the
//! statements fold; and the baseline as it runs on a cluster parses,
//! matches its reviewed snapshot and places every table as the migrations
//! do.

use std::collections::{BTreeMap, BTreeSet};

use tacit::model::clock::format_day;
use tacit::store::{cluster, migrate};

use crate::common::*;

const CLUSTER_SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/cluster/baseline.sql");

/// Every object of database `db`, keyed by kind and name, as text with the
/// database's name replaced: so two databases compare equal exactly when
/// their schemas do.
async fn schema_of(db: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let plain = |s: &serde_json::Value| s.as_str().unwrap_or_default().replace(db, "{db}");
    for r in run_in(
        db,
        "SELECT name, engine, engine_full, partition_key, sorting_key, primary_key, comment, create_table_query
         FROM system.tables WHERE database = currentDatabase() ORDER BY name",
        &[],
    )
    .await
    {
        let text: Vec<String> = r[1..].iter().map(plain).collect();
        out.insert(format!("table {}", plain(&r[0])), text.join("\n"));
    }
    for r in run_in(
        db,
        "SELECT table, name, position, type, default_kind, default_expression, comment, compression_codec
         FROM system.columns WHERE database = currentDatabase() ORDER BY table, position",
        &[],
    )
    .await
    {
        let text: Vec<String> = r[2..].iter().map(|v| v.to_string().replace(db, "{db}")).collect();
        out.insert(
            format!("column {}.{}", plain(&r[0]), plain(&r[1])),
            text.join(" | "),
        );
    }
    for r in run_in(
        db,
        "SELECT table, name, type_full, expr, granularity
         FROM system.data_skipping_indices WHERE database = currentDatabase() ORDER BY table, name",
        &[],
    )
    .await
    {
        let text: Vec<String> = r[2..].iter().map(|v| v.to_string()).collect();
        out.insert(
            format!("index {}.{}", plain(&r[0]), plain(&r[1])),
            text.join(" | "),
        );
    }
    out
}

/// What differs between two schemas, one line per object.
fn differences(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{k}\n  baseline: {}\n  upgraded: {}",
                a.get(k).map_or("(absent)", |s| s),
                b.get(k).map_or("(absent)", |s| s)
            )
        })
        .collect()
}

/// Non-blank, non-comment lines and statements of SQL.
fn size(sqls: &[&str]) -> (usize, usize) {
    let lines = sqls
        .iter()
        .flat_map(|s| s.lines())
        .filter(|l| !l.trim().is_empty() && !l.trim().starts_with("--"))
        .count();
    let stmts = sqls.iter().map(|s| migrate::statements(s).len()).sum();
    (lines, stmts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_install_and_an_upgraded_one_have_the_same_schema() {
    let history = migrate::embedded().unwrap();
    let baseline = migrate::baseline().unwrap();

    let fresh = TestDb::new("baseline");
    let cfg = fresh.config().validate().unwrap();
    let applied = migrate::migrate(&cfg.clickhouse, 0).await.unwrap();
    assert_eq!(applied[0], migrate::BASELINE, "{applied:?}");
    let later: Vec<&str> = history
        .iter()
        .filter(|m| m.version > baseline.version)
        .map(|m| m.name)
        .collect();
    assert_eq!(
        applied[1..],
        later[..],
        "after the baseline, the later migrations"
    );
    assert!(migrate::pending(&cfg.clickhouse).await.unwrap().is_empty());

    let old = TestDb::new("upgraded");
    let cfg_old = old.config().validate().unwrap();
    let upgraded = migrate::upgrade_to(&cfg_old.clickhouse, 0, u32::MAX)
        .await
        .unwrap();
    assert_eq!(
        upgraded.len(),
        history.len(),
        "every historical migration ran"
    );
    assert!(migrate::pending(&cfg_old.clickhouse)
        .await
        .unwrap()
        .is_empty());

    let a = schema_of(&fresh.name).await;
    let b = schema_of(&old.name).await;
    let diff = differences(&a, &b);
    assert!(
        diff.is_empty(),
        "{} objects differ between a baseline install and an upgraded one:\n{}",
        diff.len(),
        diff.join("\n")
    );

    // The comparison saw the whole schema, TTLs included.
    let count = |kind: &str| a.keys().filter(|k| k.starts_with(kind)).count();
    let views = a.values().filter(|v| v.starts_with("View\n")).count();
    assert!(
        count("table ") >= 50 && views >= 25,
        "{} objects, {views} views",
        count("table ")
    );
    // (No table has a data-skipping index since migration 0027 dropped the
    // sessionizer's working tables; one added later is compared too.)
    assert!(count("column ") > 300);
    for t in [
        "events",
        "sessions",
        "rollup_daily",
        "export_cells",
        "salts",
    ] {
        assert!(
            a[&format!("table {t}")].contains("TTL "),
            "{t}: no TTL compared"
        );
    }

    let new_sql: Vec<&str> = baseline.parts.iter().map(|p| p.sql).collect();
    let old_sql: Vec<&str> = history.iter().map(|m| m.sql).collect();
    let (new_lines, new_stmts) = size(&new_sql);
    let (old_lines, old_stmts) = size(&old_sql);
    println!(
        "schema: {} objects and {} columns equal; a new install runs {} files ({new_stmts} statements, {new_lines} lines of SQL) instead of {} migrations ({old_stmts} statements, {old_lines} lines)",
        count("table "),
        count("column "),
        baseline.parts.len(),
        history.len(),
    );
}

/// `(verb, object, columns)` of a grant statement, or None for another.
fn grant(st: &str) -> Option<(String, String, String)> {
    let re = regex::Regex::new(
        r"^(GRANT|REVOKE) SELECT\s*(\([^)]*\))? ON \{database\}\.(\w+) (TO|FROM) analyst$",
    )
    .unwrap();
    let st = st.split_whitespace().collect::<Vec<_>>().join(" ");
    let upper = st.to_ascii_uppercase();
    if !(upper.starts_with("GRANT") || upper.starts_with("REVOKE")) {
        return None;
    }
    let c = re
        .captures(&st)
        .unwrap_or_else(|| panic!("a grant this test cannot read: {st}"));
    let cols = c.get(2).map_or("", |m| m.as_str()).replace(' ', "");
    Some((c[1].to_string(), c[3].to_string(), cols))
}

/// What the role may SELECT after `sqls` in order (object and columns; a
/// table-level REVOKE takes column grants with it), and the roles created.
fn fold(sqls: &[&str]) -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    let (mut granted, mut roles) = (BTreeSet::new(), BTreeSet::new());
    for sql in sqls {
        for st in migrate::statements(sql) {
            if let Some(role) = st.strip_prefix("CREATE ROLE IF NOT EXISTS ") {
                roles.insert(role.trim().to_string());
            }
            match grant(&st) {
                Some((verb, object, cols)) if verb == "GRANT" => {
                    granted.insert((object, cols));
                }
                Some((_, object, _)) => granted.retain(|(o, _)| *o != object),
                None => {}
            }
        }
    }
    (granted, roles)
}

#[test]
fn the_baseline_grants_what_the_migrations_leave_granted() {
    let history: Vec<&str> = migrate::embedded().unwrap().iter().map(|m| m.sql).collect();
    let baseline = migrate::baseline().unwrap();
    let grants: Vec<&str> = baseline
        .parts
        .iter()
        .filter(|p| p.server_only)
        .map(|p| p.sql)
        .collect();
    assert_eq!(grants.len(), 1, "grants in one file");
    let (old, old_roles) = fold(&history);
    let (new, new_roles) = fold(&grants);
    assert_eq!(
        new, old,
        "grants of a baseline install and of an upgraded one"
    );
    assert_eq!(new_roles, old_roles);
    assert!(new.len() >= 30, "{}", new.len());
    // Every object granted is created by the baseline.
    let created: String = baseline.parts.iter().map(|p| p.sql).collect();
    for (object, _) in &new {
        assert!(
            created.contains(&format!("IF NOT EXISTS {object}\n")),
            "{object} is granted but not created"
        );
    }
}

/// The statements a new install runs on cluster `tacit`, database
/// `tacit`, per file: the baseline and the migrations after it.
fn baseline_on_cluster() -> Vec<(String, Vec<String>)> {
    let mut out = vec![(
        "(tacit)".to_string(),
        cluster::rewrite("CREATE DATABASE IF NOT EXISTS `tacit`", "tacit", "tacit")
            .into_iter()
            .chain(cluster::rewrite(
                migrate::MIGRATIONS_TABLE,
                "tacit",
                "tacit",
            ))
            .collect(),
    )];
    let baseline = migrate::baseline().unwrap();
    let later = migrate::embedded()
        .unwrap()
        .into_iter()
        .filter(|m| m.version > baseline.version)
        .map(|m| (format!("migrations/{}", m.name), m.sql));
    let parts = baseline.parts.into_iter().map(|p| (p.file, p.sql));
    for (file, sql) in parts.chain(later) {
        let stmts = migrate::statements(sql)
            .into_iter()
            .flat_map(|s| cluster::rewrite(&s.replace("{database}", "tacit"), "tacit", "tacit"))
            .collect();
        out.push((file, stmts));
    }
    out
}

/// The `ENGINE = …` clause of each `CREATE TABLE` (the last one per name;
/// none once a later `DROP TABLE` removes it).
fn engines(stmts: &[String]) -> BTreeMap<String, String> {
    let create = regex::Regex::new(r"^CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER").unwrap();
    let drop = regex::Regex::new(r"^DROP TABLE IF EXISTS (\w+) ON CLUSTER").unwrap();
    let engine = regex::Regex::new(r"ENGINE = \w+(\([^)]*\))?").unwrap();
    let mut out = BTreeMap::new();
    for st in stmts {
        if let Some(c) = create.captures(st) {
            let e = engine.find(st).map_or("", |m| m.as_str());
            out.insert(c[1].to_string(), e.to_string());
        } else if let Some(c) = drop.captures(st) {
            out.remove(&c[1]);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_baseline_on_a_cluster_parses_matches_its_snapshot_and_places_tables_alike() {
    let mut text = String::from(
        "-- The schema as `tacit migrate` installs a new database with [clickhouse]\n\
         -- cluster = \"tacit\" and database \"tacit\": the baseline of schema/ and the\n\
         -- migrations after it, rewritten by src/store/cluster.rs. Regenerate with\n\
         -- UPDATE_SNAPSHOTS=1 cargo test --test it migrations, and review the diff.\n",
    );
    let rendered = baseline_on_cluster();
    for (file, stmts) in &rendered {
        text.push_str(&format!("\n-- {file}\n"));
        for st in stmts {
            text.push_str(st);
            text.push_str(";\n");
        }
    }
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(CLUSTER_SNAPSHOT, &text).unwrap();
    }
    let snap = std::fs::read_to_string(CLUSTER_SNAPSHOT).unwrap_or_default();
    assert!(
        snap == text,
        "schema/cluster/baseline.sql is not what the baseline generates; run UPDATE_SNAPSHOTS=1 cargo test --test it migrations and review the diff"
    );

    let mut n = 0;
    for (file, stmts) in &rendered {
        for st in stmts {
            let url = format!("{}/", clickhouse_url());
            let body = format!("EXPLAIN AST {st}");
            let (status, _, out) = http(hyper::Method::POST, &url, &[], body.into_bytes()).await;
            assert_eq!(
                status,
                200,
                "{file}: the engine does not parse:\n{st}\n{}",
                String::from_utf8_lossy(&out)
            );
            if st.starts_with("CREATE") {
                assert!(st.contains("ON CLUSTER 'tacit'"), "{file}: {st}");
            }
            n += 1;
        }
    }

    // Each table sharded or replicated as the migrations leave it.
    let new: Vec<String> = rendered.into_iter().flat_map(|(_, s)| s).collect();
    let old: Vec<String> = cluster::schema("tacit", "tacit")
        .into_iter()
        .flat_map(|(_, s)| s)
        .collect();
    let (new, old) = (engines(&new), engines(&old));
    assert_eq!(
        new, old,
        "table engines on a cluster: baseline vs migrations"
    );
    let distributed = new
        .values()
        .filter(|e| e.starts_with("ENGINE = Distributed"))
        .count();
    assert!(
        distributed >= 10 && new.len() >= 35,
        "{distributed} of {}",
        new.len()
    );
    println!(
        "cluster baseline: {n} statements parsed; {} tables placed as the migrations place them ({distributed} Distributed)",
        new.len()
    );
}

/// Migration 0027 on a database the former sessionizer wrote: its partial
/// visits of the days not rolled up go (those days read the live visits
/// from then on), a rolled-up day's stay, and the visit views read each
/// day from one source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_to_live_visits_keeps_rolled_up_days_and_reads_open_days_live() {
    let db = TestDb::new("mig0027");
    let cfg = db.config().validate().unwrap();
    migrate::migrate_to(&cfg.clickhouse, 0, 26).await.unwrap();
    let c = db.client();
    let day = today(&db).await;
    let (closed, open) = (format_day(day - 3), format_day(day));
    for sql in [
        format!("INSERT INTO rollup_days (day, version, computed_at) VALUES ('{closed}', 1, now())"),
        // The sessionizer's visits: a rolled-up day's (2) and today's (1).
        format!(
            "INSERT INTO sessions (site, day, visitor_id, start, end, pageviews, events, version)
             SELECT 'a.example', toDate(d), number, toDateTime64(d, 3, 'UTC'), toDateTime64(d, 3, 'UTC'), 1, 1, 1
             FROM (SELECT '{closed}' AS d, number FROM numbers(2) UNION ALL SELECT '{open}', number FROM numbers(1))"
        ),
        // The collectors' live visits of both days (3 today).
        format!(
            "INSERT INTO visits (site, start, day, visitor_id, visit_id, end, pageviews, events, version)
             SELECT 'a.example', toDateTime64(d, 3, 'UTC'), toDate(d), number, toDateTime64(d, 3, 'UTC'),
                    toDateTime64(d, 3, 'UTC'), 1, 1, 1
             FROM (SELECT '{closed}' AS d, number FROM numbers(5) UNION ALL SELECT '{open}', number FROM numbers(3))"
        ),
    ] {
        c.query(&sql).execute().await.unwrap();
    }
    // Up to the live visits' second design (0030), which reads open days
    // from the events: `the_upgrade_to_visit_ids_reads_open_days_from_events`.
    migrate::migrate_to(&cfg.clickhouse, 0, 29).await.unwrap();
    let count = |sql: String| {
        let c = c.clone();
        async move { c.query(&sql).fetch_one::<u64>().await.unwrap() }
    };
    assert_eq!(
        count(format!("SELECT count() FROM sessions WHERE day = '{open}'")).await,
        0,
        "the sessionizer's open day is gone"
    );
    for (d, want) in [(&closed, 2), (&open, 3)] {
        assert_eq!(
            count(format!(
                "SELECT count() FROM analytics_visits WHERE day = '{d}'"
            ))
            .await,
            want,
            "{d}"
        );
    }
    assert_eq!(
        count(format!(
            "SELECT count() FROM open_visits WHERE day = '{open}'"
        ))
        .await,
        3
    );
    // A day recomputed for its rollup, not recorded yet: the recomputed
    // visits, not the live ones.
    c.query(&format!(
        "INSERT INTO sessions (site, day, visitor_id, start, end, pageviews, events, version)
         SELECT 'a.example', toDate('{open}'), number, toDateTime64('{open}', 3, 'UTC'),
                toDateTime64('{open}', 3, 'UTC'), 1, 1, 2 FROM numbers(4)"
    ))
    .execute()
    .await
    .unwrap();
    assert_eq!(
        count(format!(
            "SELECT count() FROM analytics_visits WHERE day = '{open}'"
        ))
        .await,
        4
    );
    for t in ["events_recent", "sessions_tail"] {
        assert_eq!(
            count(format!(
                "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = '{t}'"
            ))
            .await,
            0,
            "{t} dropped"
        );
    }
}

/// Migration 0030: the collectors stop writing visit versions; an open
/// day's visits are built from its events (stored before the upgrade with
/// no visit id: each event a fragment of its own, merged by the rule), and
/// the `visits` table is gone.
#[tokio::test]
async fn the_upgrade_to_visit_ids_reads_open_days_from_events() {
    let db = TestDb::new("mig0030");
    let cfg = db.config().validate().unwrap();
    migrate::migrate_to(&cfg.clickhouse, 0, 29).await.unwrap();
    let c = db.client();
    let day = today(&db).await;
    let open = format_day(day);
    for sql in [
        // Visitor 1: two hits 10 minutes apart, then one 40 minutes later
        // (two visits); visitor 2: one hit. Three visits by the rule.
        format!(
            "INSERT INTO events (site, ts, name, pathname, visitor_id)
             SELECT 'a.example', toDateTime64('{open}', 3, 'UTC') + toIntervalSecond(s), 'pageview', '/', v
             FROM (SELECT arrayJoin([(1, 0), (1, 600), (1, 3000), (2, 100)]) AS p, p.1 AS v, p.2 AS s)"
        ),
        // Versions the collectors wrote before: not read any more.
        format!(
            "INSERT INTO visits (site, start, day, visitor_id, visit_id, end, pageviews, events, version)
             SELECT 'a.example', toDateTime64('{open}', 3, 'UTC'), toDate('{open}'), number,
                    toDateTime64('{open}', 3, 'UTC'), toDateTime64('{open}', 3, 'UTC'), 1, 1, 1
             FROM numbers(5)"
        ),
    ] {
        c.query(&sql).execute().await.unwrap();
    }
    migrate::migrate(&cfg.clickhouse, 0).await.unwrap();
    let count = |sql: String| {
        let c = c.clone();
        async move { c.query(&sql).fetch_one::<u64>().await.unwrap() }
    };
    for view in ["analytics_visits", "open_visits", "live_visits"] {
        assert_eq!(
            count(format!("SELECT count() FROM {view} WHERE day = '{open}'")).await,
            3,
            "{view}"
        );
    }
    assert_eq!(
        count("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'visits'".into()).await,
        0,
        "visits dropped"
    );
    assert_eq!(
        count("SELECT count() FROM events WHERE visit_id = 0".into()).await,
        4,
        "old events keep visit id 0"
    );
}
