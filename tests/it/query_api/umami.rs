//! Umami's read API (`/api/websites/:id/stats|metrics|pageviews|active`)
//! against a real engine, each answer checked against a computation over
//! the generated rows (the contract suite's own reference, and sums over
//! its visits), before and after the closed days are rolled up; its keys
//! (`x-umami-api-key` or Bearer), the site by Umami id or by domain, and
//! the refusals that name what tacit does not store.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use tacit::model::clock::{Clock, SystemClock};

use super::{c, expect, load, spec, start_app, Data, Hit, F, KEY, OTHER_KEY, SITE};
use crate::common::*;

const DAY: i64 = 86_400_000;
pub(super) const UMAMI_ID: &str = "4fb7fa4c-5b46-438d-94b3-3a8fb9bc2e8b";

async fn umami(app: &tacit::app::Running, path: &str, key: Option<&str>) -> (u16, Value) {
    let h = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = h
        .as_deref()
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    let (s, _, b) = get(app.admin_addr, path, &headers).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

/// `[{x, y}]` as x → y.
fn xy(v: &Value) -> BTreeMap<String, f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|r| {
            (
                r["x"].as_str().unwrap().to_string(),
                r["y"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The reference's single-dimension rows as x → the first metric,
/// leaving out `skip`.
fn want_xy(
    d: &Data,
    metric: &'static str,
    dim: &'static str,
    f: Vec<F>,
    r: (i32, i32),
    skip: &str,
) -> BTreeMap<String, f64> {
    expect(d, &spec(&[metric], &[dim], f, r))
        .into_iter()
        .filter(|(k, _)| k[0] != skip)
        .map(|(k, m)| (k[0].clone(), m[0]))
        .collect()
}

/// Umami's stats from the generated rows: pageviews, visitors, visits,
/// bounces, totaltime (seconds).
fn want_stats(d: &Data, r: (i32, i32), f: Vec<F>) -> Value {
    let m = &expect(
        d,
        &spec(&["pageviews", "visitors", "visits"], &[], f.clone(), r),
    )[&vec![]];
    // Bounces and total time over the same visits (the filter is on the
    // device, the visitor's own).
    let visits: Vec<&super::Visit> = d
        .visits
        .iter()
        .filter(|v| (r.0..=r.1).contains(&v.day))
        .filter(|v| f.is_empty() || d.hits[v.hits[0]].device == "desktop")
        .collect();
    let bounces = visits.iter().filter(|v| v.hits.len() <= 1).count();
    let ms: i64 = visits
        .iter()
        .map(|v| d.hits[*v.hits.last().unwrap()].ts - d.hits[v.hits[0]].ts)
        .sum();
    json!({"pageviews": m[0], "visitors": m[1], "visits": m[2], "bounces": bounces as f64,
        "totaltime": (ms as f64 / 1000.0).round()})
}

fn as_f64(v: &Value) -> Value {
    let m = v.as_object().unwrap_or_else(|| panic!("{v}"));
    Value::Object(
        m.iter()
            .filter(|(k, _)| *k != "comparison")
            .map(|(k, x)| (k.clone(), json!(x.as_f64().unwrap())))
            .collect(),
    )
}

async fn answers(app: &tacit::app::Running, d: &Data, today: i32) {
    let r = (today - 3, today - 1);
    let at = |r: (i32, i32)| {
        format!(
            "startAt={}&endAt={}",
            r.0 as i64 * DAY,
            (r.1 as i64 + 1) * DAY - 1
        )
    };
    let base = format!("/api/websites/{UMAMI_ID}");
    let ok = |(s, v): (u16, Value)| {
        assert_eq!(s, 200, "{v}");
        v
    };

    // stats, compared with the day before.
    let one = (today - 1, today - 1);
    let got = ok(umami(app, &format!("{base}/stats?{}", at(one)), Some(KEY)).await);
    assert!(got["visits"].as_u64().unwrap() > 10, "{got}");
    assert_eq!(as_f64(&got), want_stats(d, one, vec![]), "stats");
    assert_eq!(
        as_f64(&got["comparison"]),
        want_stats(d, (today - 2, today - 2), vec![]),
        "stats' comparison"
    );
    let desktop = || vec![c("is", "visit:device", &["desktop"])];
    let got = ok(umami(
        app,
        &format!("{base}/stats?{}&device=desktop", at(r)),
        Some(KEY),
    )
    .await);
    assert_eq!(as_f64(&got), want_stats(d, r, desktop()), "stats, desktop");

    // metrics by type.
    for (kind, metric, dim, f, skip) in [
        ("url", "visitors", "event:page", vec![], "\u{0}"),
        ("path", "visitors", "event:page", desktop(), "\u{0}"),
        (
            "browser",
            "visitors",
            "visit:browser",
            vec![c("is", "visit:country", &["DE"])],
            "\u{0}",
        ),
        ("country", "visitors", "visit:country", vec![], "\u{0}"),
        ("referrer", "visitors", "visit:referrer", vec![], ""),
        ("entry", "visits", "visit:entry_page", vec![], "\u{0}"),
        ("event", "events", "event:name", vec![], "pageview"),
    ] {
        let filter = match f.first() {
            Some(F::C(_, "visit:device", _, _)) => "&device=desktop",
            Some(_) => "&country=eq.DE",
            None => "",
        };
        let got = ok(umami(
            app,
            &format!("{base}/metrics?type={kind}&{}{filter}", at(r)),
            Some(KEY),
        )
        .await);
        let want = want_xy(d, metric, dim, f, r, skip);
        assert!(want.len() > 1, "{kind}: the data has several values");
        assert_eq!(xy(&got), want, "metrics {kind}");
        let ys: Vec<f64> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["y"].as_f64().unwrap())
            .collect();
        assert!(
            ys.windows(2).all(|w| w[0] >= w[1]),
            "{kind}: by y, descending"
        );
    }
    let got = ok(umami(
        app,
        &format!("{base}/metrics?type=url&{}&limit=2&offset=1", at(r)),
        Some(KEY),
    )
    .await);
    assert_eq!(got.as_array().unwrap().len(), 2);

    // pageviews by day, and by hour over part of a day.
    let got = ok(umami(
        app,
        &format!("{base}/pageviews?{}&unit=day", at(r)),
        Some(KEY),
    )
    .await);
    let day = |dim| {
        want_xy(d, dim, "time:day", vec![], r, "\u{0}")
            .into_iter()
            .map(|(k, v)| (format!("{k} 00:00:00"), v))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(xy(&got["pageviews"]), day("pageviews"));
    assert_eq!(xy(&got["sessions"]), day("visitors"));
    let (from, to) = (
        (today as i64 - 2) * DAY + 6 * 3_600_000,
        (today as i64 - 2) * DAY + 18 * 3_600_000,
    );
    let got = ok(umami(
        app,
        &format!(
            "{base}/pageviews?startAt={from}&endAt={}&unit=hour&compare=prev",
            to - 1
        ),
        Some(KEY),
    )
    .await);
    let mut want: BTreeMap<String, f64> = BTreeMap::new();
    for h in d
        .hits
        .iter()
        .filter(|h| h.ts >= from && h.ts < to && h.name == "pageview")
    {
        *want.entry(super::hour_of(h.ts)).or_default() += 1.0;
    }
    assert!(want.len() > 5, "{want:?}");
    assert_eq!(xy(&got["pageviews"]), want, "pageviews by hour");
    assert!(got["compare"]["pageviews"].is_array(), "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn umamis_read_api_answers_from_the_raw_rows() {
    let db = TestDb::new("query_umami");
    let app = start_app(&db, Some(1_000_000)).await;
    let now = SystemClock.now_ms();
    let today = tacit::model::clock::day_of(now);
    let data = load(&db, &[today - 3, today - 2, today - 1]).await;
    answers(&app, &data, today).await;
    for (i, d) in [today - 3, today - 2].into_iter().enumerate() {
        tacit::analytics::rollup::rollup_day(&db.store(), d, 10 + i as u64)
            .await
            .unwrap();
    }
    answers(&app, &data, today).await;

    // Current visitors: two in the last five minutes.
    let mut recent = data.hits[0].clone();
    let mut ins = db.client().insert::<Hit>("events").await.unwrap();
    for (ago, v) in [(30_000, 5), (90_000, 5), (200_000, 6), (400_000, 7)] {
        recent.ts = now - ago;
        recent.visitor_id = v;
        ins.write(&recent).await.unwrap();
    }
    ins.end().await.unwrap();
    let (s, got) = umami(&app, &format!("/api/websites/{SITE}/active"), Some(KEY)).await;
    assert_eq!((s, got), (200, json!({"visitors": 2})));

    // The key in Umami's own header; another site's key; no key.
    let (s, _, b) = get(
        app.admin_addr,
        &format!("/api/websites/{UMAMI_ID}/active"),
        &[("x-umami-api-key", KEY)],
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let (s, _) = umami(
        &app,
        &format!("/api/websites/{UMAMI_ID}/active"),
        Some(OTHER_KEY),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = umami(&app, &format!("/api/websites/{UMAMI_ID}/active"), None).await;
    assert_eq!(s, 401);
    // What tacit cannot answer is a 400 that says why.
    let r = format!(
        "startAt={}&endAt={}",
        (today as i64 - 1) * DAY,
        today as i64 * DAY - 1
    );
    for (q, needle) in [
        (format!("stats?{r}&title=Home"), "page titles"),
        (format!("stats?{r}&timezone=Europe/Berlin"), "UTC"),
        (format!("metrics?{r}&type=language"), "language"),
        (format!("metrics?{r}&type=nope"), "type"),
        (format!("pageviews?{r}&unit=year"), "unit"),
        ("stats?endAt=5".to_string(), "startAt"),
    ] {
        let (s, got) = umami(&app, &format!("/api/websites/{UMAMI_ID}/{q}"), Some(KEY)).await;
        assert_eq!(s, 400, "{q}: {got}");
        assert!(
            got["error"].as_str().unwrap().contains(needle),
            "{q}: {got}"
        );
    }
    app.shutdown().await;
}
