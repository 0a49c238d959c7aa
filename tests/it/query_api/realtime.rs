//! The sub-day ranges against a real engine: `realtime` (the last five
//! minutes), `30m` by minute (the realtime graph), `24h` by hour, a pair
//! of datetimes, and a half hour compared with the one before; each answer
//! checked against a computation over the inserted hits themselves (visits
//! rebuilt from the hits by the 30-minute rule), on a fixed clock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{json, Value};
use tacit::model::clock::{day_of, Clock, ManualClock, SystemClock};

use super::{ask, generate, start_app_at, Hit, KEY, SITE};
use crate::common::*;
use crate::support::Rng;

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

/// Eighty visitors, one visit each (hits at most 25 minutes apart), the
/// visit's last hit at most 26 hours before `now`; a few hits of another
/// site and anonymous hits.
fn hits(now: i64) -> Vec<Hit> {
    let mut rng = Rng(0x51ed_270b_2721_9a3d);
    let template = generate(&[day_of(now)]).hits[0].clone();
    let pages = ["/", "/pricing", "/docs", "/blog/a"];
    let devices = ["desktop", "mobile"];
    let mut out = Vec::new();
    for _ in 0..80 {
        let visitor = rng.next() | 1;
        let device = *rng.pick(&devices);
        // Many recent visits, so the realtime ranges have rows.
        let last_age = if rng.below(2) == 0 {
            rng.below(40 * MIN as u64) as i64
        } else {
            rng.below(26 * HOUR as u64) as i64
        };
        let n = 1 + rng.below(4);
        let mut t = now - last_age;
        let mut visit = Vec::new();
        for i in 0..n {
            let name = if i == 1 && rng.below(3) == 0 {
                "signup"
            } else {
                "pageview"
            };
            visit.push(Hit {
                ts: t,
                visitor_id: visitor,
                name: name.into(),
                pathname: (*rng.pick(&pages)).into(),
                device: device.into(),
                ..template.clone()
            });
            t -= MIN + rng.below(24 * MIN as u64) as i64;
        }
        visit.reverse();
        out.extend(visit);
    }
    for i in 0..5 {
        out.push(Hit {
            ts: now - i * 90_000,
            visitor_id: 0,
            consent: "anonymous".into(),
            ..template.clone()
        });
        out.push(Hit {
            site: "other.org".into(),
            ts: now - i * 60_000,
            visitor_id: 77,
            ..template.clone()
        });
    }
    out
}

/// A visit rebuilt from the hits: (day, visitor, first, last, hits,
/// page views).
struct Visit {
    day: i32,
    visitor: u64,
    start: i64,
    end: i64,
    hits: u64,
    pageviews: u64,
}

fn visits(hits: &[Hit]) -> Vec<Visit> {
    let mut by: BTreeMap<(i32, u64), Vec<&Hit>> = BTreeMap::new();
    for h in hits.iter().filter(|h| h.site == SITE && h.visitor_id != 0) {
        by.entry((day_of(h.ts), h.visitor_id)).or_default().push(h);
    }
    let mut out = Vec::new();
    for ((day, visitor), mut hs) in by {
        hs.sort_by_key(|h| h.ts);
        let mut cur: Option<Visit> = None;
        for h in hs {
            match &mut cur {
                Some(v) if h.ts - v.end <= 30 * MIN => {
                    v.end = h.ts;
                    v.hits += 1;
                    v.pageviews += (h.name == "pageview") as u64;
                }
                _ => {
                    out.extend(cur.take());
                    cur = Some(Visit {
                        day,
                        visitor,
                        start: h.ts,
                        end: h.ts,
                        hits: 1,
                        pageviews: (h.name == "pageview") as u64,
                    });
                }
            }
        }
        out.extend(cur);
    }
    out
}

fn label(ms: i64, step: i64) -> String {
    let t = jiff::Timestamp::from_millisecond(ms.div_euclid(step) * step).unwrap();
    if step == MIN {
        t.strftime("%Y-%m-%d %H:%M:00").to_string()
    } else {
        t.strftime("%Y-%m-%d %H:00:00").to_string()
    }
}

#[derive(Default)]
struct Acc {
    visitors: BTreeSet<(i32, u64)>,
    pageviews: u64,
    visits: u64,
    bounces: u64,
    duration_ms: i64,
}

/// The expected rows over `[start, end)`: by time bucket (`step` ms), or
/// by page, or in total; `device` filters on the device.
fn expect(
    hits: &[Hit],
    (start, end): (i64, i64),
    by: Option<&str>,
    step: i64,
    device: Option<&str>,
) -> BTreeMap<Vec<String>, Acc> {
    let mut out: BTreeMap<Vec<String>, Acc> = BTreeMap::new();
    if by.is_none() {
        out.insert(vec![], Acc::default());
    }
    for h in hits {
        if h.site != SITE || h.ts < start || h.ts >= end {
            continue;
        }
        if device.is_some_and(|d| h.device != d) {
            continue;
        }
        let key = match by {
            Some("time") => vec![label(h.ts, step)],
            Some(_) => vec![h.pathname.clone()],
            None => vec![],
        };
        let a = out.entry(key).or_default();
        if h.visitor_id != 0 {
            a.visitors.insert((day_of(h.ts), h.visitor_id));
        }
        a.pageviews += (h.name == "pageview") as u64;
    }
    if by != Some("time") {
        return out;
    }
    for v in visits(hits) {
        // A visit that overlaps the span, in the bucket it enters it.
        if v.end < start || v.start >= end {
            continue;
        }
        if device.is_some_and(|d| {
            !hits
                .iter()
                .any(|h| h.visitor_id == v.visitor && day_of(h.ts) == v.day && h.device == d)
        }) {
            continue;
        }
        let a = out
            .entry(vec![label(v.start.max(start), step)])
            .or_default();
        a.visits += 1;
        a.bounces += (v.hits <= 1) as u64;
        a.duration_ms += v.end - v.start;
    }
    out
}

/// The answer's rows as dimension values → metrics.
fn rows(got: &Value) -> BTreeMap<Vec<String>, Vec<f64>> {
    got["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{got}"))
        .iter()
        .map(|r| {
            let d = r["dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect();
            let m = r["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            (d, m)
        })
        .collect()
}

/// Compare (visitors, pageviews[, visits, bounce_rate, visit_duration]).
fn check(name: &str, got: &Value, want: &BTreeMap<Vec<String>, Acc>, with_visits: bool) {
    let got = rows(got);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{name}: the groups"
    );
    for (k, w) in want {
        let g = &got[k];
        assert_eq!(g[0], w.visitors.len() as f64, "{name} {k:?} visitors");
        assert_eq!(g[1], w.pageviews as f64, "{name} {k:?} pageviews");
        if with_visits {
            let ratio = |x: f64| {
                if w.visits == 0 {
                    0.0
                } else {
                    x / w.visits as f64
                }
            };
            assert_eq!(g[2], w.visits as f64, "{name} {k:?} visits");
            assert!(
                (g[3] - ratio(w.bounces as f64 * 100.0)).abs() <= 0.5 + 1e-9,
                "{name} {k:?} bounce_rate {} vs {}",
                g[3],
                ratio(w.bounces as f64 * 100.0)
            );
            assert!(
                (g[4] - ratio(w.duration_ms as f64 / 1000.0)).abs() <= 0.5 + 1e-9,
                "{name} {k:?} visit_duration"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_and_the_last_day_are_answered_to_the_minute() {
    let db = TestDb::new("query_rt");
    // The clock stands still, so the server's "now" is the test's.
    let now = SystemClock.now_ms();
    let clock = Arc::new(ManualClock::new(now));
    let app = start_app_at(&db, Some(1_000_000), clock.clone()).await;
    let data = hits(now);
    let mut ins = db.client().insert::<Hit>("events").await.unwrap();
    for h in &data {
        ins.write(h).await.unwrap();
    }
    ins.end().await.unwrap();
    // The days before recomputed; today's visits are built from its
    // events (`live_visits`).
    for d in [day_of(now) - 2, day_of(now) - 1] {
        tacit::analytics::sessions::sessionize_day(&db.store(), d, 1)
            .await
            .unwrap();
    }
    let appr = &app;
    let q = |v: Value| async move {
        let (s, got, text) = ask(appr, Some(KEY), &v.to_string()).await;
        assert_eq!(s, 200, "{v}: {text}");
        got
    };
    let min_start = now.div_euclid(MIN) * MIN - 29 * MIN;
    let hour_start = now.div_euclid(HOUR) * HOUR - 23 * HOUR;

    // Current visitors: the last five minutes.
    let got =
        q(json!({"site_id": SITE, "metrics": ["visitors", "pageviews"], "date_range": "realtime"}))
            .await;
    let want = expect(&data, (now + 1 - 5 * MIN, now + 1), None, MIN, None);
    assert!(
        !want[&vec![]].visitors.is_empty(),
        "the data has current visitors"
    );
    check("realtime", &got, &want, false);

    // The realtime graph: 30 minutes by minute, `time` resolving to it.
    let got = q(
        json!({"site_id": SITE, "metrics": ["visitors", "pageviews"], "date_range": "30m",
        "dimensions": ["time"], "include": {"time_labels": true}}),
    )
    .await;
    assert_eq!(got["query"]["dimensions"], json!(["time:minute"]));
    let labels: Vec<String> = (0..30).map(|i| label(min_start + i * MIN, MIN)).collect();
    assert_eq!(got["meta"]["time_labels"], json!(labels));
    let want = expect(&data, (min_start, now + 1), Some("time"), MIN, None);
    // Visit counts are not asked: keep the hit side only.
    let want: BTreeMap<_, _> = want
        .into_iter()
        .filter(|(_, a)| a.pageviews > 0 || !a.visitors.is_empty())
        .collect();
    check("30m by minute", &got, &want, false);

    // The last 24 hours by hour, visits included.
    let got = q(json!({"site_id": SITE, "metrics": ["visitors", "pageviews", "visits", "bounce_rate", "visit_duration"],
        "date_range": "24h", "dimensions": ["time"], "include": {"time_labels": true}}))
    .await;
    assert_eq!(got["query"]["dimensions"], json!(["time:hour"]));
    assert_eq!(got["meta"]["time_labels"].as_array().unwrap().len(), 24);
    let want = expect(&data, (hour_start, now + 1), Some("time"), HOUR, None);
    check("24h by hour", &got, &want, true);

    // Filtered, by page, over 24 hours.
    let got = q(
        json!({"site_id": SITE, "metrics": ["visitors", "pageviews"], "date_range": "24h",
        "dimensions": ["event:page"], "filters": [["is", "visit:device", ["desktop"]]]}),
    )
    .await;
    let want = expect(
        &data,
        (hour_start, now + 1),
        Some("page"),
        HOUR,
        Some("desktop"),
    );
    check("24h by page, desktop", &got, &want, false);

    // A pair of datetimes: the span from two hours ago to one hour ago.
    let (a, b) = (now - 2 * HOUR, now - HOUR);
    let iso = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms.div_euclid(1000) * 1000)
            .unwrap()
            .to_string()
    };
    let got = q(json!({"site_id": SITE, "metrics": ["visitors", "pageviews"], "date_range": [iso(a), iso(b)]})).await;
    let want = expect(
        &data,
        (a.div_euclid(1000) * 1000, b.div_euclid(1000) * 1000 + 1000),
        None,
        MIN,
        None,
    );
    check("datetimes", &got, &want, false);

    // The half hour compared with the one before, bucket for bucket.
    let got = q(json!({"site_id": SITE, "metrics": ["visitors", "pageviews"], "date_range": "30m",
        "dimensions": ["time:minute"], "include": {"comparisons": {"mode": "previous_period"}, "time_labels": true}}))
    .await;
    let then = expect(
        &data,
        (min_start - 30 * MIN, min_start),
        Some("time"),
        MIN,
        None,
    );
    let then_labels = got["meta"]["comparison_time_labels"].as_array().unwrap();
    assert_eq!(then_labels.len(), 30);
    for r in got["results"].as_array().unwrap() {
        let i = labels
            .iter()
            .position(|l| Some(l.as_str()) == r["dimensions"][0].as_str())
            .unwrap();
        let key = vec![label(min_start - 30 * MIN + i as i64 * MIN, MIN)];
        assert_eq!(r["comparison"]["dimensions"], json!(key));
        let (v, p) = then
            .get(&key)
            .map_or((0, 0), |a| (a.visitors.len() as u64, a.pageviews));
        assert_eq!(r["comparison"]["metrics"], json!([v, p]), "{key:?}");
    }
    // Visitors by device over sub-day spans, answered from the visit rows
    // alone: a visitor counts where one of its visits has a hit in the
    // span, also when the visit starts before the span and ends after it.
    let mut spans = vec![
        ("30m".to_string(), json!("30m"), (min_start, now + 1)),
        (
            "realtime".to_string(),
            json!("realtime"),
            (now + 1 - 5 * MIN, now + 1),
        ),
    ];
    for k in 1..=12 {
        let b = now - k * 7 * MIN;
        let a = b - 59_000;
        let span = (a.div_euclid(1000) * 1000, b.div_euclid(1000) * 1000 + 1000);
        spans.push((format!("minute {k}"), json!([iso(a), iso(b)]), span));
    }
    let mut straddled = 0;
    for (name, range, (start, end)) in spans {
        let got = q(
            json!({"site_id": SITE, "metrics": ["visitors"], "date_range": range,
            "dimensions": ["visit:device"]}),
        )
        .await;
        let mut want: BTreeMap<Vec<String>, BTreeSet<(i32, u64)>> = BTreeMap::new();
        // Anonymous hits make a group, never a visitor.
        for h in data.iter().filter(|h| h.site == SITE) {
            if h.ts >= start && h.ts < end {
                let group = want.entry(vec![h.device.clone()]).or_default();
                if h.visitor_id != 0 {
                    group.insert((day_of(h.ts), h.visitor_id));
                }
            }
        }
        straddled += visits(&data)
            .iter()
            .filter(|v| v.start < start && v.end >= end)
            .count();
        let got = rows(&got);
        let want: BTreeMap<_, _> = want
            .into_iter()
            .map(|(k, v)| (k, vec![v.len() as f64]))
            .collect();
        assert_eq!(got, want, "{name}: visitors by device");
    }
    assert!(straddled > 0, "some visits span a whole minute");
    // time:minute over more than two days is refused, naming the field.
    let (s, got, _) = ask(
        &app,
        Some(KEY),
        &json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "7d", "dimensions": ["time:minute"]}).to_string(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(got["error"].as_str().unwrap().contains("dimensions[0]"));
    app.shutdown().await;
}
