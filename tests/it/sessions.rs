//! The live sessionizer recomputes a day only when its events changed since
//! its last run, and the visits it leaves are those of a full recomputation.

use tacit::model::clock::{day_of, format_day, Clock, SystemClock};

use crate::analytics::load_generated;
use crate::common::*;

async fn versions(db: &TestDb, day: i32) -> Vec<u64> {
    db.client()
        .query("SELECT DISTINCT version FROM sessions WHERE day = toDate(?) ORDER BY version")
        .bind(format_day(day))
        .fetch_all()
        .await
        .unwrap()
}

async fn visits(db: &TestDb, day: i32) -> u64 {
    db.client()
        .query("SELECT count() FROM analytics_visits WHERE day = toDate(?)")
        .bind(format_day(day))
        .fetch_one()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_day_is_not_sessionized_again() {
    let db = TestDb::new("sess_skip");
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let now = SystemClock.now_ms();
    let today = day_of(now);
    let yesterday = today - 1;
    // Yesterday's events, sessionized once under version 1.
    let made = load_generated(&db, &[yesterday]).await;
    assert!(!made.is_empty());
    let full = visits(&db, yesterday).await;
    let client = db.client();
    let mut seen = tacit::sessions::Seen::new();
    // The first run of this process does not know the day: it recomputes.
    tacit::sessions::sessionize_recent(&client, now, &mut seen).await;
    assert_eq!(versions(&db, yesterday).await, vec![now as u64]);
    assert_eq!(visits(&db, yesterday).await, full, "the same visits");
    // Nothing changed: the next run writes no new version.
    tacit::sessions::sessionize_recent(&client, now + 1, &mut seen).await;
    assert_eq!(versions(&db, yesterday).await, vec![now as u64]);
    // A late row for yesterday: the day is recomputed, with it.
    raw_query(
        &db.url,
        &format!(
            "INSERT INTO `{}`.events (site, ts, visitor_id, name, pathname) VALUES ('late.example', toDateTime64('{} 12:00:00', 3, 'UTC'), 42, 'pageview', '/late')",
            db.name,
            format_day(yesterday)
        ),
    )
    .await;
    tacit::sessions::sessionize_recent(&client, now + 2, &mut seen).await;
    assert_eq!(versions(&db, yesterday).await, vec![now as u64 + 2]);
    assert_eq!(visits(&db, yesterday).await, full + 1);
}
