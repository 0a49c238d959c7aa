//! A purge that nothing writes behind: `tacit purge --site --force` (and
//! with `--before`) while two collectors serve hits of other sites and
//! their writers and rollups run back to back, repeated; afterwards
//! no table holds a row of the purged range, and none does a few
//! background runs later.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tacit::config::{RawConfig, RawSite};
use tacit::model::clock::{day_of, format_day, Clock, ManualClock, SharedClock, SystemClock};

use tacit::commands::purge::Request;

use crate::common::*;

const KEPT: &str = "kept.example";
const PURGES: usize = 20;
/// Each round moves the collectors' clock on by this much after its hits,
/// so the collectors' open visits move on too.
const STEP_MS: i64 = 3 * 60_000;

/// The site purged in `round` (a new one each time: a purge fences its
/// site's past for good).
fn gone(round: usize) -> String {
    format!("gone{round}.example")
}

async fn collector(raw: RawConfig, clock: SharedClock) -> tacit::app::Running {
    let cfg = raw.validate().expect("valid config");
    tacit::app::start(
        &cfg,
        clock,
        tacit::app::Options {
            migrate: true,
            sessionize_every: Some(Duration::from_millis(100)),
            ..Default::default()
        },
    )
    .await
    .expect("tacit starts")
}

async fn hits(addr: std::net::SocketAddr, site: &str, n: usize, ua: &str) {
    for i in 0..n {
        crate::purge::hit(addr, site, &format!("/p/{}", i % 5), ua).await;
    }
}

/// Rows of `site` before `cutoff_ms` in every table that holds site data.
async fn left(db: &TestDb, site: &str, cutoff_ms: i64) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for (t, col) in tacit::commands::purge::tables() {
        let time = tacit::store::fence::FILTERED
            .iter()
            .find(|(name, _)| *name == t)
            .map(|(_, c)| c.to_string());
        let cond = match time {
            Some(c) => format!("{c} < fromUnixTimestamp64Milli(toInt64({cutoff_ms}), 'UTC')"),
            None => {
                format!("{col} < toDate(fromUnixTimestamp64Milli(toInt64({cutoff_ms}), 'UTC'))")
            }
        };
        let n: u64 = db
            .client()
            .query(&format!(
                "SELECT count() FROM {t} WHERE site = ? AND {cond}"
            ))
            .bind(site)
            .fetch_one()
            .await
            .unwrap();
        if n > 0 {
            out.push((t.to_string(), n));
        }
    }
    out
}

async fn count_of(db: &TestDb, table: &str, site: &str) -> u64 {
    db.client()
        .query(&format!("SELECT count() FROM {table} WHERE site = ?"))
        .bind(site)
        .fetch_one()
        .await
        .unwrap()
}

/// Old events and email opens of `site` (three days back: a closed day,
/// so each round has rollups to write), inserted as a replayed log would.
async fn old_events(db: &TestDb, site: &str, now_ms: i64, round: usize) {
    let day_ms = (now_ms / 86_400_000 - 3) * 86_400_000;
    db.client()
        .query(
            "INSERT INTO events (site, ts, name, hostname, pathname, visitor_id)
             SELECT ?, fromUnixTimestamp64Milli(toInt64(? + number * 60000), 'UTC'), 'pageview', ?,
                    concat('/old/', toString(number % 3)), 1000 + ? * 10 + number % 4
             FROM numbers(12)",
        )
        .bind(site)
        .bind(day_ms + 3_600_000)
        .bind(site)
        .bind(round as u64)
        .execute()
        .await
        .unwrap();
    // And email opens of that day: their rollup too must not write behind.
    db.client()
        .query(
            "INSERT INTO email_events (site, ts, kind, campaign, visitor_id)
             SELECT ?, fromUnixTimestamp64Milli(toInt64(? + number * 60000), 'UTC'), 'open', 'news',
                    2000 + ? * 10 + number % 4
             FROM numbers(6)",
        )
        .bind(site)
        .bind(day_ms + 7_200_000)
        .bind(round as u64)
        .execute()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purges_with_writers_running_leave_nothing_behind() {
    let db = TestDb::new("purge_race");
    let mut raw = db.config();
    raw.sites = (0..PURGES)
        .map(gone)
        .chain([KEPT.to_string()])
        .map(|domain| RawSite {
            domain,
            ..Default::default()
        })
        .collect();
    let clock = ManualClock::new(settled_now(&db).await);
    let shared: SharedClock = Arc::new(clock.clone());
    // Two replicas on one database, each with its own log.
    let a = collector(raw.clone(), shared.clone()).await;
    let mut raw_b = raw.clone();
    raw_b.server.data_dir = db.dir.join("b").to_string_lossy().into_owned();
    let b = collector(raw_b, shared.clone()).await;
    let cfg = raw.clone().validate().unwrap();

    let mut raced = 0;
    for round in 0..PURGES {
        let site = gone(round);
        let site = site.as_str();
        // Hits of the site to purge reach both replicas; old events give
        // the rollups a closed day to write.
        old_events(&db, site, clock.now_ms(), round).await;
        hits(a.beacon_addr, site, 15, BROWSER_UA).await;
        hits(b.beacon_addr, site, 15, BROWSER_UA).await;
        clock.advance(STEP_MS);
        // Wait until the collectors' writers stored some of the site's
        // hits (its live visits are built from them), so the purge meets
        // the site mid-run.
        wait_until(
            &format!("round {round}: events of {site}"),
            30,
            async || count_of(&db, "events", site).await >= 1,
        )
        .await;
        // Hits of the other site keep coming during the purge.
        let other = {
            let (a, b) = (a.beacon_addr, b.beacon_addr);
            tokio::spawn(async move {
                hits(a, KEPT, 20, BROWSER_UA).await;
                hits(b, KEPT, 20, BROWSER_UA).await;
            })
        };
        let now = clock.now_ms();
        // Odd rounds purge `--before` today: the closed day's rows.
        let (before, cutoff) = if round % 2 == 1 {
            let today = day_of(now);
            (Some(format_day(today)), today as i64 * 86_400_000)
        } else {
            (None, now)
        };
        let outcome = tacit::commands::purge::run(
            &cfg,
            &db.store(),
            &Request {
                site: site.into(),
                before,
                reason: format!("race round {round}"),
                dry_run: false,
                force: true,
            },
            now,
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("round {round}: {e}"));
        if outcome.found.get("events").copied().unwrap_or(0) > 0 {
            raced += 1;
        }
        other.await.unwrap();
        assert_eq!(
            left(&db, site, cutoff).await,
            vec![],
            "round {round}: right after the purge"
        );
        // Several background runs later, still nothing of the range.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            left(&db, site, cutoff).await,
            vec![],
            "round {round}: written behind the purge"
        );
    }
    assert!(
        raced >= PURGES / 2,
        "the purges met the site's rows in {raced} rounds only"
    );
    // The other site's hits were all stored.
    a.shutdown().await;
    b.shutdown().await;
    assert_eq!(count_of(&db, "events", KEPT).await, PURGES as u64 * 40);
}

#[tokio::test]
async fn a_release_reads_no_row_a_purge_fence_keeps_out() {
    use rand::SeedableRng;
    let (db, today, week) = crate::exports::setup("fence_release").await;
    let mut fenced_spec =
        crate::exports::spec_toml("dimensions = [\"country\"]\nmetrics = [\"visitors\"]");
    fenced_spec.name = "fenced".into();
    // Another partner: one partner's two breakdowns by country are a
    // setup the configuration refuses (see config/partners.rs).
    fenced_spec.partner = "other".into();
    let open_spec =
        crate::exports::spec_toml("dimensions = [\"country\"]\nmetrics = [\"visitors\"]");
    let cfg = crate::exports::config(&db, vec![fenced_spec, open_spec]);
    let client = db.client();
    let store = db.store();
    let now = crate::exports::now(today);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    // The site's whole past is fenced, as a purge of a site no longer
    // configured does before it deletes: a release made meanwhile (the
    // CLI applies the fences in force) counts none of its rows.
    let fence = tacit::store::fence::raise(
        &client,
        crate::exports::SITE,
        tacit::commands::purge::FOREVER_MS,
        now,
        32,
    )
    .await
    .unwrap();
    let fenced = tacit::store::fence::Applied::of(
        tacit::store::fence::active(&client, now).await.unwrap(),
        &db.name,
    );
    assert!(fenced.blocks(crate::exports::SITE.as_bytes(), now));
    let r = tacit::export::release(
        &fenced.store(&store),
        &cfg.exports[0],
        &week,
        now,
        30,
        tacit::export::ReleaseChannel::Cli,
        &mut rng,
    )
    .await
    .unwrap();
    assert_eq!(r.summary.rows, 0, "fence {}: {:?}", fence.id, r.summary);
    // The same release without the fence has rows: the test bites.
    let open = tacit::export::release(
        &store,
        &cfg.exports[1],
        &week,
        now,
        30,
        tacit::export::ReleaseChannel::Cli,
        &mut rng,
    )
    .await
    .unwrap();
    assert!(open.summary.rows > 0, "{:?}", open.summary);
}

#[tokio::test]
async fn every_source_a_writer_reads_is_fenced() {
    // The rollups read `events`, `email_events` and `analytics_visits`
    // (over `sessions` and `live_visits`, built from `events`), the visits' recomputation
    // `events` and `sessions`: each, read under a fence, shows no row of
    // the fenced range (a definer view would not: see rollup.rs).
    let db = TestDb::new("fence_sources");
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let client = db.client();
    let store = db.store();
    let now = settled_now(&db).await;
    for site in ["gone.example", "kept.example"] {
        client
            .query(
                "INSERT INTO events (site, ts, name, pathname, visitor_id)
                 SELECT ?, fromUnixTimestamp64Milli(toInt64(?), 'UTC'), 'pageview', '/', 7",
            )
            .bind(site)
            .bind(now - 60_000)
            .execute()
            .await
            .unwrap();
        client
            .query(
                "INSERT INTO email_events (site, ts, kind, campaign, visitor_id)
                 SELECT ?, fromUnixTimestamp64Milli(toInt64(?), 'UTC'), 'open', 'c', 7",
            )
            .bind(site)
            .bind(now - 60_000)
            .execute()
            .await
            .unwrap();
    }
    // Today's visits recomputed; a hit of yesterday (not recomputed:
    // `analytics_visits` reads its visit from `live_visits`).
    tacit::analytics::sessions::sessionize_day(&store, day_of(now), now as u64)
        .await
        .unwrap();
    for site in ["gone.example", "kept.example"] {
        client
            .query(
                "INSERT INTO events (site, ts, name, pathname, visitor_id, visit_id)
                 SELECT ?, fromUnixTimestamp64Milli(toInt64(?), 'UTC'), 'pageview', '/', 7, 77",
            )
            .bind(site)
            .bind(now - 86_400_000)
            .execute()
            .await
            .unwrap();
    }
    tacit::store::fence::raise(
        &client,
        "gone.example",
        tacit::commands::purge::FOREVER_MS,
        now,
        32,
    )
    .await
    .unwrap();
    let fenced = tacit::store::fence::Applied::of(
        tacit::store::fence::active(&client, now).await.unwrap(),
        &db.name,
    )
    .client(&client);
    for source in [
        "events",
        "email_events",
        "sessions",
        "live_visits",
        "analytics_visits",
    ] {
        let count = |c: clickhouse::Client, site: &'static str| async move {
            c.query(&format!("SELECT count() FROM {source} WHERE site = ?"))
                .bind(site)
                .fetch_one::<u64>()
                .await
                .unwrap()
        };
        assert!(
            count(client.clone(), "gone.example").await > 0,
            "{source} holds the row"
        );
        assert_eq!(
            count(fenced.clone(), "gone.example").await,
            0,
            "{source} under the fence"
        );
        assert!(
            count(fenced.clone(), "kept.example").await > 0,
            "{source}: other sites stay"
        );
    }
}

/// A writer that read before a fence and holds its view longer than a
/// member is presumed alive: its collector keeps saying it is alive, and
/// the purge waits for it (then gives up, deleting nothing) rather than
/// deleting behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_write_keeps_its_collector_alive_and_the_purge_waiting() {
    let db = TestDb::new("fence_long");
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let client = db.client();
    let clock: SharedClock = Arc::new(SystemClock);
    let (fences, member) =
        tacit::store::fence::start(client.clone(), &db.name, clock.clone(), None)
            .await
            .unwrap();
    let guard = fences.writer(Duration::from_secs(5)).await.unwrap();
    let f = tacit::store::fence::raise(
        &client,
        "gone.example",
        tacit::commands::purge::FOREVER_MS,
        clock.now_ms(),
        3,
    )
    .await
    .unwrap();
    // Longer than a silent member is waited for.
    let wait = Duration::from_millis(tacit::store::fence::MEMBER_LIVE_MS as u64 + 3_000);
    let r = tacit::store::fence::await_members(&client, &f.id, wait).await;
    assert!(
        r.is_err(),
        "the purge went ahead behind a write in progress: {r:?}"
    );
    // A writer that asks meanwhile gives up within its patience instead
    // of queueing behind the pending fence.
    let t0 = Instant::now();
    assert!(fences.writer(Duration::from_millis(200)).await.is_none());
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    // Once the write is done, the fence is applied and acknowledged.
    drop(guard);
    let acked = tacit::store::fence::await_members(&client, &f.id, Duration::from_secs(10)).await;
    assert_eq!(acked.unwrap(), vec![fences.member().to_string()]);
    let g = fences.writer(Duration::from_secs(5)).await.unwrap();
    assert!(g.blocks(b"gone.example", 0));
    drop(g);
    member.leave().await;
}
