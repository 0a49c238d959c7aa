//! The analyst cookbook (docs/queries.md), run against generated data:
//! every query's answer must agree exactly with an independent computation
//! over the raw events, either SQL on `events` or, for visits, the visit
//! structure the generator itself laid down; and it must agree before the
//! days are rolled up (answered from the event tier) and after (from the
//! aggregate tier). Also: analyst views never expose visitor ids.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use tacit::model::clock::format_day;

use crate::common::*;
use crate::support::Rng;

pub(crate) const SITE: &str = "example.com";

#[derive(clickhouse::Row, Serialize, Clone)]
pub(crate) struct Ev {
    site: String,
    ts: i64,
    name: String,
    hostname: String,
    pathname: String,
    referrer_host: String,
    referrer_source: String,
    channel: String,
    utm_campaign: String,
    visitor_id: u64,
    consent: String,
    ip_prefix: String,
    country: String,
    device: String,
    browser: String,
    os: String,
    language: String,
    screen_width: u16,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
}

pub(crate) struct Visit {
    day: i32,
    start: i64,
    end: i64,
    pageviews: u32,
    events: u32,
    pages: Vec<String>,
    names: Vec<String>,
}

/// Visitors with 1-3 visits a day; visits at least 2 hours apart, hits in a
/// visit at most 20 minutes apart: the 30-minute rule recovers exactly these.
pub(crate) fn generate(days: &[i32]) -> (Vec<Ev>, Vec<Visit>) {
    let mut rng = Rng(0x2545f4914f6cdd1d);
    let sources = [
        ("", "direct"),
        ("Google", "search"),
        ("Facebook", "social"),
        ("Newsletter", "email"),
        ("ChatGPT", "ai"),
        ("news.ycombinator.com", "referral"),
    ];
    let pages = [
        "/", "/pricing", "/blog/a", "/blog/b", "/docs", "/about", "/signup",
    ];
    let countries = ["DE", "US", "FR", "GB", "SE", ""];
    let devices = [
        ("desktop", "Chrome", "Windows"),
        ("mobile", "Mobile Safari", "iOS"),
        ("tablet", "Chrome Mobile", "Android"),
        ("desktop", "Firefox", "Linux"),
    ];
    let languages = ["en", "de", "fr"];
    let campaigns = ["", "", "launch", "black-friday"];
    let mut events = Vec::new();
    let mut visits = Vec::new();
    for &day in days {
        let day_ms = day as i64 * 86_400_000;
        for _ in 0..250 {
            let visitor = rng.next() | 1;
            let (device, browser, os) = devices[rng.below(devices.len() as u64) as usize];
            let language = *rng.pick(&languages);
            let n_visits = 1 + rng.below(3);
            for v in 0..n_visits {
                let mut t =
                    day_ms + (v as i64) * 7 * 3_600_000 + rng.below(3 * 3_600_000) as i64 + 60_000;
                let (source, channel) = sources[rng.below(sources.len() as u64) as usize];
                let country = *rng.pick(&countries);
                let campaign = *rng.pick(&campaigns);
                let funnel = rng.below(4) == 0;
                let n_hits = if funnel { 3 } else { 1 + rng.below(5) };
                let mut visit = Visit {
                    day,
                    start: t,
                    end: t,
                    pageviews: 0,
                    events: 0,
                    pages: vec![],
                    names: vec![],
                };
                for h in 0..n_hits {
                    if h > 0 {
                        t += 10_000 + rng.below(20 * 60_000) as i64;
                    }
                    let path = if funnel {
                        ["/", "/pricing", "/signup"][h as usize]
                    } else {
                        *rng.pick(&pages)
                    };
                    let mut push = |name: &str, keys: Vec<String>, values: Vec<String>, at: i64| {
                        events.push(Ev {
                            site: SITE.into(),
                            ts: at,
                            name: name.into(),
                            hostname: SITE.into(),
                            pathname: path.into(),
                            referrer_host: String::new(),
                            referrer_source: if h == 0 { source.into() } else { String::new() },
                            channel: if h == 0 {
                                channel.into()
                            } else {
                                "direct".into()
                            },
                            utm_campaign: if h == 0 {
                                campaign.into()
                            } else {
                                String::new()
                            },
                            visitor_id: visitor,
                            consent: "full".into(),
                            ip_prefix: String::new(),
                            country: country.into(),
                            device: device.into(),
                            browser: browser.into(),
                            os: os.into(),
                            language: language.into(),
                            screen_width: 1280,
                            prop_keys: keys,
                            prop_values: values,
                        });
                        visit.events += 1;
                        visit.names.push(name.into());
                        visit.end = at;
                    };
                    push("pageview", vec![], vec![], t);
                    visit.pageviews += 1;
                    visit.pages.push(path.into());
                    if path == "/signup" && rng.below(2) == 0 {
                        t += 5_000;
                        let plan = if rng.below(3) == 0 { "team" } else { "pro" };
                        push("signup", vec!["plan".into()], vec![plan.into()], t);
                    }
                }
                visits.push(visit);
            }
        }
        // Anonymous hits (consent signal): counted as page views, never as visitors or visits.
        for i in 0..10 {
            let mut e = events.last().cloned().unwrap();
            e.ts = day_ms + 3_600_000 * 20 + i;
            e.visitor_id = 0;
            e.consent = "anonymous".into();
            e.name = "pageview".into();
            e.prop_keys.clear();
            e.prop_values.clear();
            events.push(e);
        }
    }
    (events, visits)
}

/// The cookbook's queries by number (docs/queries.md).
pub fn cookbook() -> Vec<(u32, String)> {
    tacit::analytics::cookbook::queries().into_iter().collect()
}

/// Generated events for `days`, inserted and sessionized; returns the visits.
pub(crate) async fn load_generated(db: &TestDb, days: &[i32]) -> Vec<Visit> {
    let (events, visits) = generate(days);
    let mut ins = db.client().insert::<Ev>("events").await.unwrap();
    for e in &events {
        ins.write(e).await.unwrap();
    }
    ins.end().await.unwrap();
    crate::email::load_generated_opens(db, days).await;
    for &d in days {
        tacit::analytics::sessions::sessionize_day(&db.store(), d, 1)
            .await
            .unwrap();
    }
    visits
}

pub(crate) async fn run(db: &TestDb, sql: &str, params: &[(&str, &str)]) -> Vec<Vec<Value>> {
    run_in(&db.name, sql, params).await
}

/// Numbers agree within `rel` (plus rounding slack); other values exactly.
fn same(a: &Value, b: &Value, rel: f64) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 0.06 + rel * y.abs(),
        _ => a == b,
    }
}

/// Rows agree exactly (numbers up to the rounding the query itself does).
fn assert_rows(n: u32, got: &[Vec<Value>], want: &[Vec<Value>]) {
    let ok = got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(a, b)| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y, 0.0)));
    assert!(ok, "query {n}:\n got  {got:?}\n want {want:?}");
}

fn r4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn visit_rows(n: u32, visits: &[&Visit]) -> Vec<Vec<Value>> {
    let count = visits.len() as f64;
    match n {
        3 => {
            let bounce = visits.iter().filter(|v| v.events <= 1).count() as f64 / count;
            let dur = visits
                .iter()
                .map(|v| (v.end - v.start) as f64 / 1000.0)
                .sum::<f64>()
                / count;
            let ppv = visits.iter().map(|v| v.pageviews as f64).sum::<f64>() / count;
            vec![vec![
                json!(visits.len()),
                json!(r4(bounce)),
                json!((dur * 10.0).round() / 10.0),
                json!(ppv),
            ]]
        }
        5 | 6 => {
            let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
            for v in visits {
                let page = if n == 5 {
                    v.pages.first()
                } else {
                    v.pages.last()
                };
                let e = by.entry(page.cloned().unwrap_or_default()).or_default();
                e.0 += 1;
                e.1 += (v.events <= 1) as u64;
            }
            let mut rows: Vec<(String, u64, u64)> =
                by.into_iter().map(|(p, (c, b))| (p, c, b)).collect();
            rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            rows.truncate(10);
            rows.into_iter()
                .map(|(p, c, b)| {
                    if n == 5 {
                        vec![json!(p), json!(c), json!(r4(b as f64 / c as f64))]
                    } else {
                        vec![json!(p), json!(c)]
                    }
                })
                .collect()
        }
        17 => {
            let conv = visits
                .iter()
                .filter(|v| v.names.iter().any(|x| x == "signup"))
                .count();
            vec![vec![
                json!(conv),
                json!(visits.len()),
                json!(r4(conv as f64 / count)),
            ]]
        }
        18 | 20 => {
            let (mut s1, mut s2, mut s3) = (0, 0, 0);
            for v in visits {
                let Some(i1) = v.pages.iter().position(|p| p == "/") else {
                    continue;
                };
                s1 += 1;
                let Some(i2) = v
                    .pages
                    .iter()
                    .enumerate()
                    .position(|(i, p)| i > i1 && p == "/pricing")
                else {
                    continue;
                };
                s2 += 1;
                if v.pages
                    .iter()
                    .enumerate()
                    .any(|(i, p)| i > i2 && p == "/signup")
                {
                    s3 += 1;
                }
            }
            if n == 18 {
                vec![vec![json!(s1), json!(s2), json!(s3)]]
            } else {
                vec![
                    vec![json!(1), json!("/"), json!(s1)],
                    vec![json!(2), json!("/pricing"), json!(s2)],
                    vec![json!(3), json!("/signup"), json!(s3)],
                ]
            }
        }
        _ => unreachable!(),
    }
}

/// The raw-events computation for each breakdown query: same question,
/// asked of `events` directly with exact distinct counts of (day, visitor)
/// pairs (visitor ids are daily).
fn raw_sql(n: u32) -> Option<&'static str> {
    Some(match n {
        1 => "SELECT uniqExactIf((toDate(ts), visitor_id), visitor_id != 0), countIf(name = 'pageview'), count() FROM events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date}",
        2 => "SELECT toDate(ts) AS day, uniqExactIf((toDate(ts), visitor_id), visitor_id != 0), countIf(name = 'pageview') FROM events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY day ORDER BY day",
        4 => "SELECT pathname, uniqExactIf((toDate(ts), visitor_id), visitor_id != 0) AS v, countIf(name = 'pageview') FROM events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY pathname ORDER BY v DESC, pathname LIMIT 10",
        7 => "SELECT referrer_source, uniqExactIf((toDate(ts), visitor_id), visitor_id != 0) AS v FROM events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY referrer_source ORDER BY v DESC, referrer_source LIMIT 10",
        8 => "SELECT toString(channel) AS c, uniqExactIf((toDate(ts), visitor_id), visitor_id != 0) AS v, countIf(name = 'pageview') FROM events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY c ORDER BY v DESC, c",
        9 => "SELECT utm_campaign, uniqExactIf((toDate(ts), visitor_id), visitor_id != 0) AS v, count() FROM events WHERE site = {site:String} AND utm_campaign != '' AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY utm_campaign ORDER BY v DESC, utm_campaign",
        10 => "SELECT toString(country) AS c, uniqExactIf((toDate(ts), visitor_id), visitor_id != 0) AS v FROM events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY c ORDER BY v DESC, c",
        11 => "SELECT toString(device) AS c, uniqExactIf((toDate(ts), visitor_id), visitor_id != 0) AS v FROM events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY c ORDER BY v DESC, c",
        12 => "SELECT toString(browser) AS c, uniqExactIf((toDate(ts), visitor_id), visitor_id != 0) AS v FROM events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY c ORDER BY v DESC, c",
        13 => "SELECT toString(os) AS c, uniqExactIf((toDate(ts), visitor_id), visitor_id != 0) AS v FROM events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY c ORDER BY v DESC, c",
        14 => "SELECT toString(language) AS c, uniqExactIf((toDate(ts), visitor_id), visitor_id != 0) AS v FROM events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY c ORDER BY v DESC, c",
        15 => "SELECT toString(name) AS e, count() AS c, uniqExactIf((toDate(ts), visitor_id), visitor_id != 0) FROM events WHERE site = {site:String} AND name != 'pageview' AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY e ORDER BY c DESC, e",
        21 => "SELECT campaign, variant, class, countIf(kind = 'open') AS o, uniqExactIf((toDate(ts), visitor_id), kind = 'open' AND visitor_id != 0) AS uo, countIf(kind = 'click'), uniqExactIf((toDate(ts), visitor_id), kind = 'click' AND visitor_id != 0) AS uc, round(if(uo = 0, 0, uc / uo), 4) FROM email_events WHERE site = {site:String} AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY campaign, variant, class ORDER BY campaign, variant, class",
        16 => "SELECT prop_values[indexOf(prop_keys, 'plan')] AS plan, count() AS c FROM events WHERE site = {site:String} AND has(prop_keys, 'plan') AND toDate(ts) BETWEEN {from:Date} AND {to:Date} GROUP BY plan ORDER BY c DESC, plan",
        _ => return None,
    })
}

/// The configured funnel of cookbook query 20: home → pricing → signup.
pub(crate) async fn signup_funnel(store: &tacit::store::Store) {
    tacit::analytics::rollup::sync_funnels(
        store,
        &[tacit::analytics::rollup::FunnelDef {
            site: SITE.to_string(),
            name: "signup".to_string(),
            steps: vec!["/".into(), "/pricing".into(), "/signup".into()],
        }],
    )
    .await
    .unwrap();
}

/// Every cookbook query against its independent answer.
async fn check_cookbook(db: &TestDb, params: &[(&str, &str)], visits: &[Visit]) {
    let queries = cookbook();
    assert!(
        queries.len() >= 20,
        "cookbook has {} queries",
        queries.len()
    );
    let all_visits: Vec<&Visit> = visits.iter().collect();
    for (n, sql) in &queries {
        let got = run(db, sql, params).await;
        let want = match n {
            3 | 5 | 6 | 17 | 18 | 20 => visit_rows(*n, &all_visits),
            19 => vec![
                vec![json!("bot"), json!(12)],
                vec![json!("do_not_track"), json!(2)],
            ],
            _ => {
                run(
                    db,
                    raw_sql(*n).unwrap_or_else(|| panic!("no raw check for query {n}")),
                    params,
                )
                .await
            }
        };
        assert!(!want.is_empty(), "query {n} checks nothing");
        assert_rows(*n, &got, &want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookbook_queries_agree_with_raw_events() {
    let db = TestDb::new("cookbook");
    let cfg = db.config().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let today = today(&db).await;
    let days = [today - 2, today - 1];
    let visits = load_generated(&db, &days).await;
    let store = db.store();
    raw_query(
        &db.url,
        &format!(
            "INSERT INTO `{}`.dropped_hits VALUES ('{}', '{SITE}', 'bot', 5), ('{}', '{SITE}', 'bot', 7), ('{}', '{SITE}', 'do_not_track', 2)",
            db.name,
            format_day(days[0]),
            format_day(days[1]),
            format_day(days[1])
        ),
    )
    .await;
    for d in days {
        // Twice: a rerun replaces the day's visits rather than adding to them.
        tacit::analytics::sessions::sessionize_day(&store, d, 1)
            .await
            .unwrap();
        tacit::analytics::sessions::sessionize_day(&store, d, 2)
            .await
            .unwrap();
    }

    signup_funnel(&store).await;

    let (from, to) = (format_day(days[0]), format_day(days[1]));
    let params = [("site", SITE), ("from", from.as_str()), ("to", to.as_str())];
    // From the event tier; then with the older day rolled up (the seam
    // inside the range); then with both rolled up, one of them twice (a
    // recomputation replaces the day).
    check_cookbook(&db, &params, &visits).await;
    tacit::analytics::rollup::rollup_day(&store, days[0], 10)
        .await
        .unwrap();
    check_cookbook(&db, &params, &visits).await;
    tacit::analytics::rollup::rollup_day(&store, days[1], 11)
        .await
        .unwrap();
    tacit::analytics::rollup::rollup_day(&store, days[1], 12)
        .await
        .unwrap();
    check_cookbook(&db, &params, &visits).await;
    let versions = run(
        &db,
        "SELECT day, groupUniqArray(version) FROM (SELECT day, version FROM rollup_days UNION ALL SELECT day, version FROM rollup_daily) GROUP BY day ORDER BY day",
        &[],
    )
    .await;
    assert_eq!(
        versions,
        vec![vec![json!(from), json!([10])], vec![json!(to), json!([12])]],
        "older versions are deleted"
    );
    // The overview's visit metrics agree with the visit-level view per day.
    for d in days {
        let day_visits: Vec<&Visit> = visits.iter().filter(|v| v.day == d).collect();
        let got = run(&db, "SELECT visits FROM analytics_overview_daily WHERE site = {site:String} AND day = {d:Date}", &[("site", SITE), ("d", &format_day(d))]).await;
        assert_eq!(got, vec![vec![json!(day_visits.len())]]);
    }
    // A funnel mixing pages and a custom event, against the generator's own
    // hit sequence of each visit.
    let steps = ["/", "/pricing", "signup"];
    let mut want = [0u64; 3];
    for v in &visits {
        let mut pages = v.pages.iter();
        let mut depth = 0;
        for name in &v.names {
            let hit = if name == "pageview" {
                pages.next().unwrap().as_str()
            } else {
                name.as_str()
            };
            if depth < steps.len() && hit == steps[depth] {
                depth += 1;
            }
        }
        for w in want.iter_mut().take(depth) {
            *w += 1;
        }
    }
    assert!(want[2] > 0, "the generated data reaches the last step");
    let got = run(
        &db,
        "SELECT step, name, visits FROM analytics_funnel(site = {site:String}, from = {from:Date}, to = {to:Date}, steps = ['/', '/pricing', 'signup']) ORDER BY step",
        &params,
    )
    .await;
    let want_rows: Vec<Vec<Value>> = (0..3)
        .map(|i| vec![json!(i + 1), json!(steps[i]), json!(want[i])])
        .collect();
    assert_eq!(got, want_rows);
    // A page goal: visits that saw /pricing.
    let conv = visits
        .iter()
        .filter(|v| v.pages.iter().any(|p| p == "/pricing"))
        .count();
    let got = run(
        &db,
        "SELECT converted_visits, visits FROM analytics_goal_conversions(site = {site:String}, from = {from:Date}, to = {to:Date}) WHERE goal_kind = 'page' AND goal = '/pricing'",
        &params,
    )
    .await;
    assert_eq!(got, vec![vec![json!(conv), json!(visits.len())]]);
}
