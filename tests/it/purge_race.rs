//! A purge that nothing writes behind: `tacit purge --site --force` (and
//! with `--before`) while two collectors serve hits of other sites and
//! their sessionizers and rollups run back to back, repeated; afterwards
//! no table holds a row of the purged range, and none does a few
//! background runs later.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tacit::config::{RawConfig, RawSite};
use tacit::model::clock::{day_of, format_day, Clock, ManualClock, SharedClock, SystemClock};

use tacit::purge::Request;

use crate::common::*;

const KEPT: &str = "kept.example";
const PURGES: usize = 20;
/// Each round moves the collectors' clock on by this much after its hits,
/// so the live sessionizer (two minutes behind its clock) takes them.
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
        let body = format!(
            r#"{{"n":"pageview","u":"https://{site}/p/{}","d":"{site}"}}"#,
            i % 5
        );
        let (s, _, _) = post(
            addr,
            "/api/event",
            &[("user-agent", ua), ("content-type", "text/plain")],
            &body,
        )
        .await;
        assert_eq!(s, 202);
    }
}

/// Rows of `site` before `cutoff_ms` in every table that holds site data.
async fn left(db: &TestDb, site: &str, cutoff_ms: i64) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for (t, col) in tacit::purge::tables() {
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

/// Old events of `site` (three days back: a closed day, so each round
/// has a rollup to write), inserted as a replayed log would.
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
    let clock = ManualClock::new(SystemClock.now_ms());
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
        // Wait until the background writers hold the site's visits, so the
        // purge meets them mid-run.
        let deadline = Instant::now() + Duration::from_secs(30);
        while count_of(&db, "sessions", site).await < 2 {
            assert!(
                Instant::now() < deadline,
                "round {round}: no visits of {site} appeared"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Hits of the other site keep coming during the purge.
        let other = {
            let (a, b) = (a.beacon_addr, b.beacon_addr);
            tokio::spawn(async move {
                hits(a, KEPT, 20, BROWSER_UA).await;
                hits(b, KEPT, 20, BROWSER_UA).await;
            })
        };
        let now = clock.now_ms();
        // Odd rounds purge `--before` tomorrow: every row before that day.
        let (before, cutoff) = if round % 2 == 1 {
            let tomorrow = day_of(now) + 1;
            (Some(format_day(tomorrow)), tomorrow as i64 * 86_400_000)
        } else {
            (None, now)
        };
        let outcome = tacit::purge::run(
            &cfg,
            &db.client(),
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
        if outcome.found.get("sessions").copied().unwrap_or(0) > 0 {
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
        "the purges met visits being written in {raced} rounds only"
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
    let open_spec =
        crate::exports::spec_toml("dimensions = [\"country\"]\nmetrics = [\"visitors\"]");
    let cfg = crate::exports::config(&db, vec![fenced_spec, open_spec]);
    let client = db.client();
    let now = crate::exports::now(today);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    // The site's whole past is fenced, as a purge of a site no longer
    // configured does before it deletes: a release made meanwhile (the
    // CLI applies the fences in force) counts none of its rows.
    let fence = tacit::store::fence::raise(
        &client,
        crate::exports::SITE,
        tacit::purge::FOREVER_MS,
        now,
        32,
    )
    .await
    .unwrap();
    let fenced =
        tacit::store::fence::Applied::of(tacit::store::fence::active(&client, now).await.unwrap());
    assert!(fenced.blocks(crate::exports::SITE.as_bytes(), now));
    let r = tacit::export::release(
        &fenced.client(&client),
        &cfg.exports[0],
        &week,
        now,
        30,
        tacit::export::Channel::Cli,
        &mut rng,
    )
    .await
    .unwrap();
    assert_eq!(r.summary.rows, 0, "fence {}: {:?}", fence.id, r.summary);
    // The same release without the fence has rows: the test bites.
    let open = tacit::export::release(
        &client,
        &cfg.exports[1],
        &week,
        now,
        30,
        tacit::export::Channel::Cli,
        &mut rng,
    )
    .await
    .unwrap();
    assert!(open.summary.rows > 0, "{:?}", open.summary);
}
