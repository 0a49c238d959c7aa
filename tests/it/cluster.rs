//! Cluster mode, as far as one embedded engine can show it: the generated
//! cluster DDL parses and matches its reviewed snapshot; and sharding by
//! the documented key, simulated with one database per shard and views
//! over their union standing in for `Distributed`, gives every analyst view and every
//! export exactly the single-server answer, before and after the rollups.

use serde_json::Value;
use tacit::model::clock::{format_day, Clock, SystemClock};
use tacit::store::cluster;

use crate::analytics::{load_generated, signup_funnel};
use crate::common::*;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/cluster/tacit.sql");
const SHARDS: usize = 3;
const SITE: &str = "example.com";

/// The cluster schema for cluster `tacit`, database `tacit`, as text.
fn rendered() -> String {
    let mut s = String::from(
        "-- The schema as `tacit migrate` upgrades a database with [clickhouse] cluster = \"tacit\"\n\
         -- and database \"tacit\" through every migration: generated from schema/migrations/*.sql\n\
         -- by src/store/cluster.rs (a new database: schema/cluster/baseline.sql).\n\
         -- Regenerate with UPDATE_SNAPSHOTS=1 make test, and review the diff.\n",
    );
    for (file, stmts) in cluster::schema("tacit", "tacit") {
        s.push_str(&format!("\n-- {file}\n"));
        for st in stmts {
            s.push_str(&st);
            s.push_str(";\n");
        }
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_schema_parses_and_matches_its_snapshot() {
    let text = rendered();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &text).unwrap();
    }
    let snap = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert!(
        snap == text,
        "schema/cluster/tacit.sql is not what the migrations generate; run UPDATE_SNAPSHOTS=1 cargo test --test it cluster and review the diff"
    );
    let mut n = 0;
    let (mut local, mut distributed, mut everywhere) = (0, 0, 0);
    for (file, stmts) in cluster::schema("tacit", "tacit") {
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
            n += 1;
            local += usize::from(st.contains("/clickhouse/tables/{shard}/"));
            distributed += usize::from(st.contains("ENGINE = Distributed("));
            everywhere += usize::from(st.contains("/clickhouse/tables/all/"));
            if st.starts_with("CREATE") || st.starts_with("ALTER") || st.starts_with("DROP") {
                assert!(st.contains("ON CLUSTER 'tacit'"), "{file}: {st}");
            }
        }
    }
    println!(
        "cluster DDL: {n} statements parsed; {distributed} Distributed tables over sharded local tables ({local} replicated local tables), {everywhere} tables replicated everywhere"
    );
    assert!(
        distributed >= 10 && everywhere >= 8,
        "{distributed} {everywhere}"
    );
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => match (a.as_array(), b.as_array()) {
            (Some(x), Some(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
            _ => a == b,
        },
    }
}

/// Every analyst view (and the parameterized ones, called) in `one` and
/// in the router give the same rows.
async fn views_agree(one: &str, router: &str, from: &str, to: &str) -> usize {
    let views = run_in(
        one,
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'analytics%' ORDER BY name",
        &[],
    )
    .await;
    let params = [("site", SITE), ("from", from), ("to", to)];
    let mut rows = 0;
    for v in &views {
        let name = v[0].as_str().unwrap();
        let sql = match name {
            "analytics_goal_conversions" => format!(
                "SELECT * FROM {name}(site = {{site:String}}, from = {{from:Date}}, to = {{to:Date}}) ORDER BY ALL"
            ),
            "analytics_funnel" => format!(
                "SELECT * FROM {name}(site = {{site:String}}, from = {{from:Date}}, to = {{to:Date}}, steps = ['/', '/pricing', '/signup']) ORDER BY ALL"
            ),
            _ => format!("SELECT * FROM {name} ORDER BY ALL"),
        };
        let a = run_in(one, &sql, &params).await;
        let b = run_in(router, &sql, &params).await;
        let equal = a.len() == b.len()
            && a.iter()
                .zip(&b)
                .all(|(x, y)| same(&Value::from(x.clone()), &Value::from(y.clone())));
        assert!(
            equal,
            "{name}: one server and the shards differ\n one: {a:?}\n shards: {b:?}"
        );
        rows += a.len();
    }
    assert!(views.len() >= 20, "{} views", views.len());
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharding_by_visitor_day_gives_the_single_server_answers() {
    use rand::SeedableRng;
    let db = TestDb::new("cluster");
    let base_cfg = db.config().validate().unwrap();
    let in_db = |name: &str| {
        let mut c = base_cfg.clickhouse.clone();
        c.database = name.to_string();
        c
    };
    let one = db.name.clone();
    let shards: Vec<String> = (0..SHARDS).map(|i| format!("{one}_s{i}")).collect();
    let router = format!("{one}_r");
    for name in std::iter::once(&one).chain(&shards).chain([&router]) {
        tacit::store::migrate::migrate(&in_db(name), 0)
            .await
            .unwrap();
    }
    let today = today(&db).await;
    let days = [today - 3, today - 2];
    load_generated(&db, &days).await;
    raw_query(
        &db.url,
        &format!(
            "INSERT INTO `{one}`.dropped_hits VALUES ('{}', '{SITE}', 'bot', 5), ('{}', '{SITE}', 'bot', 7)",
            format_day(days[0]),
            format_day(days[1])
        ),
    )
    .await;
    // Split the rows by the cluster's sharding keys.
    let mut placed = 0u64;
    for (table, key) in [
        ("events", cluster::shard_key("events")),
        ("email_events", cluster::shard_key("email_events")),
        ("dropped_hits", cluster::shard_key("dropped_hits")),
    ] {
        let key = key.unwrap();
        for (i, s) in shards.iter().enumerate() {
            raw_query(
                &db.url,
                &format!("INSERT INTO `{s}`.{table} SELECT * FROM `{one}`.{table} WHERE {key} % {SHARDS} = {i}"),
            )
            .await;
        }
        let total = run_in(&one, &format!("SELECT count() FROM {table}"), &[]).await[0][0]
            .as_u64()
            .unwrap();
        let split: u64 = {
            let mut n = 0;
            for s in &shards {
                n += run_in(s, &format!("SELECT count() FROM {table}"), &[]).await[0][0]
                    .as_u64()
                    .unwrap();
            }
            n
        };
        assert_eq!(split, total, "{table}: every row on exactly one shard");
        placed += total;
    }
    // Every shard holds a share of the visitors.
    for s in &shards {
        let n = run_in(s, "SELECT count() FROM events", &[]).await[0][0]
            .as_u64()
            .unwrap();
        assert!(n > 100, "{s}: {n} events");
    }
    // The sessionizer runs per shard, over its local rows.
    let shard_store =
        |name: &str| tacit::store::Store::from_parts(db.client().with_database(name), name, None);
    signup_funnel(&db.store()).await;
    signup_funnel(&shard_store(&router)).await;
    for s in &shards {
        let c = shard_store(s);
        for &d in &days {
            tacit::analytics::sessions::sessionize_day(&c, d, 1)
                .await
                .unwrap();
        }
    }
    // The router: the event tier's sharded tables become the union of the
    // shards (the Distributed tables' stand-in). Its rollup tables stay
    // its own: a rollup reads across shards and writes one row per key.
    let tables: Vec<String> = run_in(&router, "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'", &[])
        .await
        .into_iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    // (A view over the union of the shards' tables: a Merge table trips an
    // engine bug with `NOT IN` under `ARRAY JOIN`.)
    for t in &tables {
        let from: Vec<&String> = if cluster::shard_key(t).is_some() && !t.starts_with("rollup_") {
            shards.iter().collect()
        } else {
            continue;
        };
        // Every column, the ALIAS and MATERIALIZED ones too (`*` skips them).
        let cols = run_in(
            &shards[0],
            &format!("SELECT arrayStringConcat(groupArray(name), ', ') FROM (SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '{t}' ORDER BY position)"),
            &[],
        )
        .await[0][0]
            .as_str()
            .unwrap()
            .to_string();
        let union = from
            .iter()
            .map(|s| format!("SELECT {cols} FROM `{s}`.{t}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        raw_query(&db.url, &format!("DROP TABLE `{router}`.{t} SYNC")).await;
        raw_query(&db.url, &format!("CREATE VIEW `{router}`.{t} AS {union}")).await;
    }
    let (from, to) = (format_day(days[0]), format_day(days[1]));
    let live = views_agree(&one, &router, &from, &to).await;
    // Closed days rolled up on one server, and on the cluster: each shard
    // re-sessionizes its rows, then the rollup reads across the shards.
    for (k, &d) in days.iter().enumerate() {
        let v = 10 + k as u64;
        tacit::analytics::rollup::rollup_day(&db.store(), d, v)
            .await
            .unwrap();
        for s in &shards {
            tacit::analytics::sessions::sessionize_day(&shard_store(s), d, v)
                .await
                .unwrap();
        }
        tacit::analytics::rollup::rollup_tables(&shard_store(&router), d, v)
            .await
            .unwrap();
        views_agree(&one, &router, &from, &to).await;
    }
    // Exports: the same files from one server and from the shards.
    let mut raw = db.config();
    raw.exports = vec![
        toml::from_str(&format!(
            "name = \"web\"\npartner = \"acme\"\nsites = [\"{SITE}\"]\nperiod = \"day\"\nmin_visitors = 3\n\
             dimensions = [\"country\", \"channel\"]\nmetrics = [\"visitors\", \"visits\", \"pageviews\", \"bounce_rate\", \"visit_duration\"]"
        ))
        .unwrap(),
        toml::from_str(&format!(
            "name = \"mail\"\npartner = \"mailco\"\nsites = [\"{SITE}\"]\nperiod = \"day\"\nmin_visitors = 3\n\
             dimensions = [\"email_campaign\", \"email_kind\"]\nmetrics = [\"visitors\", \"events\"]"
        ))
        .unwrap(),
    ];
    let cfg = raw.validate().unwrap();
    let mut files = 0;
    for spec in &cfg.exports {
        let from = &from;
        let release = |database: String| {
            let store = tacit::store::Store::from_parts(
                db.client().with_database(&database),
                &database,
                None,
            );
            async move {
                tacit::export::release(
                    &store,
                    spec,
                    from,
                    SystemClock.now_ms(),
                    30,
                    tacit::export::ReleaseChannel::Cli,
                    &mut rand::rngs::StdRng::seed_from_u64(5),
                )
                .await
                .unwrap()
            }
        };
        let (a, b) = (release(one.clone()).await, release(router.clone()).await);
        assert!(
            a.summary.rows > 0,
            "{}: an empty release proves nothing",
            spec.name
        );
        assert_eq!(
            String::from_utf8_lossy(&a.bytes),
            String::from_utf8_lossy(&b.bytes),
            "{}: export differs",
            spec.name
        );
        files += 1;
    }
    println!("sharding simulation: {placed} rows over {SHARDS} shards; {live} view rows and {files} export files equal to one server's, before and after the rollups");
    for name in shards.iter().chain([&router]) {
        raw_query(&db.url, &format!("DROP DATABASE IF EXISTS `{name}` SYNC")).await;
    }
}

/// Two collector replicas agree on the visitor id at first start, and
/// still agree after a ClickHouse outage that spans midnight: each made
/// tomorrow's salt ahead, so neither falls back to a salt of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_agree_on_the_salt_across_an_outage_over_midnight() {
    use std::sync::Arc;
    use tacit::model::clock::ManualClock;
    let db = TestDb::new("replica_salt");
    let proxy = Proxy::start(&db.url).await;
    // 23:40 UTC.
    let day = today(&db).await;
    let clock = ManualClock::new(day as i64 * 86_400_000 + 23 * 3_600_000 + 40 * 60_000);
    let replica = |name: &str| {
        let mut raw = db.config();
        raw.clickhouse.url = proxy.url();
        raw.server.data_dir = db.dir.join(name).to_string_lossy().into_owned();
        raw
    };
    let a = start_with_clock(replica("a"), Arc::new(clock.clone())).await;
    let b = start_with_clock(replica("b"), Arc::new(clock.clone())).await;
    let hit = |addr| async move {
        let (s, _, _) = get(
            addr,
            "/p.gif?n=pageview&u=https%3A%2F%2Fexample.com%2F",
            &[
                ("user-agent", BROWSER_UA),
                ("x-forwarded-for", "198.51.100.23"),
            ],
        )
        .await;
        assert_eq!(s, 200);
    };
    hit(a.beacon_addr).await;
    hit(b.beacon_addr).await;
    db.wait_rows("events", 2, 20).await;
    // ClickHouse goes away; midnight passes; the same reader hits both.
    proxy.down();
    clock.advance(40 * 60_000);
    hit(a.beacon_addr).await;
    hit(b.beacon_addr).await;
    proxy.up();
    db.wait_rows("events", 4, 30).await;
    a.shutdown().await;
    b.shutdown().await;
    let ids: Vec<(u16, u64)> = db
        .client()
        .query("SELECT toUInt16(toDate(ts)) AS d, visitor_id FROM events GROUP BY d, visitor_id ORDER BY d")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        ids.len(),
        2,
        "one visitor id per day across both replicas: {ids:?}"
    );
    assert_eq!((ids[0].0 as i32, ids[1].0 as i32), (day, day + 1));
    assert!(ids.iter().all(|(_, v)| *v != 0));
    assert_ne!(ids[0].1, ids[1].1, "a new day, an unlinkable id");
}

/// On a cluster, every mutation that the sessionizer, the rollups, a
/// purge, the salt store and the retention policy send names the local
/// table `ON CLUSTER` for a sharded table (the table itself `ON CLUSTER`
/// otherwise), carries its values as query parameters, and parses. The
/// statements come from the same builders the single-server path runs (and
/// the simulation above runs per shard); the embedded engine has no Keeper,
/// so it can parse an `ON CLUSTER` statement but not run one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cluster_mutation_names_the_local_tables_and_parses() {
    use tacit::store::Store;
    let one = Store::from_parts(clickhouse::Client::default(), "tacit", None);
    let on = Store::from_parts(clickhouse::Client::default(), "tacit", Some("tacit"));
    let policy = TestDb::new("cluster_sql")
        .config()
        .validate()
        .unwrap()
        .policy;
    let statements = |s: &Store| -> Vec<(String, String)> {
        let mut v = vec![(
            "sessions".to_string(),
            tacit::analytics::sessions::delete_older_sql(s),
        )];
        let rollup_tables: Vec<&str> = tacit::analytics::rollup::tables()
            .chain(["rollup_days"])
            .collect();
        for (t, sql) in rollup_tables
            .iter()
            .zip(tacit::analytics::rollup::delete_older_sql(s))
        {
            v.push((t.to_string(), sql));
        }
        for before in [false, true] {
            for (t, sql) in tacit::commands::purge::delete_sql(s, before) {
                v.push((t.to_string(), sql));
            }
        }
        v.push(("salts".into(), tacit::store::salts::destroy_sql(s)));
        for (t, _, clause) in tacit::store::retention(&policy) {
            v.push((t.to_string(), tacit::store::retention_sql(s, t, &clause)));
        }
        v
    };
    let (single, sharded) = (statements(&one), statements(&on));
    assert_eq!(single.len(), sharded.len());
    let params = "param_day=2026-01-01&param_version=1&param_site=example.com\
                  &param_before=2026-01-01&param_cutoff=0";
    let (mut local, mut everywhere) = (0, 0);
    for ((table, plain), (_, sql)) in single.iter().zip(&sharded) {
        assert!(!plain.contains("ON CLUSTER"), "{plain}");
        assert!(!sql.contains("example.com"), "a value in the text: {sql}");
        if cluster::shard_key(table).is_some() {
            assert!(
                sql.contains(&format!("ALTER TABLE {table}_local ON CLUSTER 'tacit'")),
                "{sql}"
            );
            local += 1;
        } else {
            assert!(
                sql.contains(&format!("ALTER TABLE {table} ON CLUSTER 'tacit'")),
                "{sql}"
            );
            everywhere += 1;
        }
        let url = format!("{}/?{params}", clickhouse_url());
        let body = format!("EXPLAIN AST {sql}");
        let (status, _, out) = http(hyper::Method::POST, &url, &[], body.into_bytes()).await;
        assert_eq!(
            status,
            200,
            "the engine does not parse:\n{sql}\n{}",
            String::from_utf8_lossy(&out)
        );
    }
    println!(
        "cluster mutations: {} statements parsed, {local} on sharded local tables, {everywhere} on tables replicated everywhere",
        sharded.len()
    );
    assert!(local >= 10 && everywhere >= 5, "{local} {everywhere}");
}
