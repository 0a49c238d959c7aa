//! The query API (`POST /api/v2/query`) against a real engine: a contract
//! suite in Plausible's request shape, each answer checked against a
//! computation in Rust over the generated rows themselves (hits, and the
//! visits the generator laid down), before and after the days are rolled
//! up (so a closed day answered from the aggregate tier agrees with the
//! same day answered from the event tier); validation errors; keys (401,
//! 403, 404, 429); and no engine text in an answer when the engine fails.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tacit::model::clock::{date_of_day, day_of_date, format_day, Clock, SystemClock};

use crate::common::*;
use crate::support::Rng;

mod realtime;
mod umami;

const SITE: &str = "example.com";
const KEY: &str = "key-for-example";
const OTHER_KEY: &str = "key-for-other";

#[derive(clickhouse::Row, Serialize, Clone, Debug)]
struct Hit {
    site: String,
    ts: i64,
    name: String,
    hostname: String,
    pathname: String,
    referrer_host: String,
    referrer_source: String,
    channel: String,
    utm_source: String,
    utm_medium: String,
    utm_campaign: String,
    utm_content: String,
    utm_term: String,
    visitor_id: u64,
    consent: String,
    ip_prefix: String,
    country: String,
    region: String,
    browser: String,
    browser_version: String,
    os: String,
    os_version: String,
    device: String,
    language: String,
    screen_width: u16,
    screen: String,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
    /// Decimal(18, 6): millionths.
    revenue_amount: i64,
    revenue_currency: String,
    scroll_depth: u8,
    engaged_ms: u32,
}

/// A visit as the generator made it: its hits, in order.
struct Visit {
    day: i32,
    visitor: u64,
    hits: Vec<usize>,
}

struct Data {
    hits: Vec<Hit>,
    visits: Vec<Visit>,
    /// Each identified hit's visit, by (visitor, time): the generator
    /// never gives one visitor two hits at the same millisecond.
    visit_of: std::collections::HashMap<(u64, i64), usize>,
}

/// Visitors with 1-3 visits a day, at least two hours apart, hits at most
/// 20 minutes apart: the 30-minute rule recovers exactly these visits.
/// Browser, OS, device, screen and location are the visitor's (they come
/// from its agent and address); source, channel and UTM tags are the first
/// hit's of each visit.
fn generate(days: &[i32]) -> Data {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let sources = [
        ("", "direct", ""),
        ("Google", "search", "www.google.com"),
        ("Facebook", "social", "facebook.com"),
        ("Newsletter", "email", ""),
        ("news.ycombinator.com", "referral", "news.ycombinator.com"),
    ];
    let utms = [
        ("", "", "", "", ""),
        ("", "", "", "", ""),
        ("newsletter", "email", "launch", "banner", ""),
        ("google", "cpc", "black-friday", "", "shoes"),
    ];
    let pages = [
        "/", "/pricing", "/blog/a", "/blog/b", "/Blog/C", "/docs", "/about", "/signup",
    ];
    let hosts = ["example.com", "example.com", "blog.example.com"];
    let places = [
        ("DE", "DE-BE"),
        ("DE", "DE-BY"),
        ("US", "US-CA"),
        ("FR", "FR-IDF"),
        ("", ""),
    ];
    let agents = [
        (
            "desktop", "Chrome", "124", "Windows", "10", 1440u16, "desktop",
        ),
        ("mobile", "Mobile Safari", "17", "iOS", "17", 390, "mobile"),
        (
            "tablet",
            "Chrome Mobile",
            "123",
            "Android",
            "14",
            800,
            "tablet",
        ),
        ("desktop", "Firefox", "125", "Linux", "", 1280, "laptop"),
    ];
    let mut hits = Vec::new();
    let mut visits = Vec::new();
    for &day in days {
        let day_ms = day as i64 * 86_400_000;
        for _ in 0..60 {
            let visitor = rng.next() | 1;
            let agent = *rng.pick(&agents);
            let place = *rng.pick(&places);
            for v in 0..1 + rng.below(3) {
                let mut t = day_ms + v as i64 * 7 * 3_600_000 + rng.below(3 * 3_600_000) as i64;
                let src = *rng.pick(&sources);
                let utm = *rng.pick(&utms);
                let mut visit = Visit {
                    day,
                    visitor,
                    hits: vec![],
                };
                for h in 0..1 + rng.below(5) {
                    if h > 0 {
                        t += 10_000 + rng.below(20 * 60_000) as i64;
                    }
                    let path = *rng.pick(&pages);
                    let first = h == 0;
                    let host = *rng.pick(&hosts);
                    let mut push =
                        |name: &str,
                         at: i64,
                         props: Vec<(&str, &str)>,
                         (scroll, engaged, revenue): (u8, u32, i64)| {
                            visit.hits.push(hits.len());
                            hits.push(Hit {
                                site: SITE.into(),
                                ts: at,
                                name: name.into(),
                                hostname: host.into(),
                                pathname: path.into(),
                                referrer_host: if first { src.2 } else { "" }.into(),
                                referrer_source: if first { src.0 } else { "" }.into(),
                                channel: if first { src.1 } else { "direct" }.into(),
                                utm_source: if first { utm.0 } else { "" }.into(),
                                utm_medium: if first { utm.1 } else { "" }.into(),
                                utm_campaign: if first { utm.2 } else { "" }.into(),
                                utm_content: if first { utm.3 } else { "" }.into(),
                                utm_term: if first { utm.4 } else { "" }.into(),
                                visitor_id: visitor,
                                consent: "full".into(),
                                ip_prefix: String::new(),
                                country: place.0.into(),
                                region: place.1.into(),
                                device: agent.0.into(),
                                browser: agent.1.into(),
                                browser_version: agent.2.into(),
                                os: agent.3.into(),
                                os_version: agent.4.into(),
                                language: "en".into(),
                                screen_width: agent.5,
                                screen: agent.6.into(),
                                prop_keys: props.iter().map(|p| p.0.to_string()).collect(),
                                prop_values: props.iter().map(|p| p.1.to_string()).collect(),
                                revenue_amount: revenue,
                                revenue_currency: if revenue > 0 { "EUR" } else { "" }.into(),
                                scroll_depth: scroll,
                                engaged_ms: engaged,
                            });
                        };
                    push("pageview", t, vec![], (0, 0, 0));
                    if path == "/signup" && rng.below(2) == 0 {
                        t += 5_000;
                        let plan = if rng.below(3) == 0 { "team" } else { "pro" };
                        let price = if plan == "team" {
                            49_500_000
                        } else {
                            19_990_000
                        };
                        push("signup", t, vec![("plan", plan)], (0, 0, price));
                    } else if path == "/docs" && rng.below(3) == 0 {
                        t += 3_000;
                        let file = if rng.below(2) == 0 { "a.pdf" } else { "b.zip" };
                        push(
                            "download",
                            t,
                            vec![("file", file), ("size", "big")],
                            (0, 0, 0),
                        );
                    }
                    // Engagement: how far down, how long, once or twice
                    // per page view.
                    for _ in 0..rng.below(3) {
                        t += 1_000;
                        let scroll = 10 + rng.below(91) as u8;
                        let engaged = 500 + rng.below(60_000) as u32;
                        push("engagement", t, vec![], (scroll, engaged, 0));
                    }
                }
                visits.push(visit);
            }
        }
        // Anonymous hits (a consent signal): page views, never visitors or visits.
        for i in 0..7 {
            let mut e = hits.last().cloned().unwrap();
            e.ts = day_ms + 20 * 3_600_000 + i;
            e.visitor_id = 0;
            e.consent = "anonymous".into();
            e.name = "pageview".into();
            e.pathname = "/pricing".into();
            (e.revenue_amount, e.revenue_currency) = (0, String::new());
            (e.scroll_depth, e.engaged_ms) = (0, 0);
            hits.push(e);
        }
    }
    let visit_of = visits
        .iter()
        .enumerate()
        .flat_map(|(v, x)| x.hits.iter().map(move |&i| (i, v)))
        .map(|(i, v)| ((hits[i].visitor_id, hits[i].ts), v))
        .collect();
    Data {
        hits,
        visits,
        visit_of,
    }
}

// ----------------------------------------------------------- the reference

#[derive(Clone)]
enum F {
    C(&'static str, &'static str, Vec<&'static str>, bool),
    And(Vec<F>),
    Or(Vec<F>),
    Not(Box<F>),
    /// `has_done` (false) or `has_not_done` (true).
    Has(bool, Box<F>),
}

fn c(op: &'static str, dim: &'static str, values: &[&'static str]) -> F {
    F::C(op, dim, values.to_vec(), true)
}

fn ci(op: &'static str, dim: &'static str, values: &[&'static str]) -> F {
    F::C(op, dim, values.to_vec(), false)
}

fn f_json(f: &F) -> Value {
    match f {
        F::C(op, dim, v, true) => json!([op, dim, v]),
        F::C(op, dim, v, false) => json!([op, dim, v, {"case_sensitive": false}]),
        F::And(v) => json!(["and", v.iter().map(f_json).collect::<Vec<_>>()]),
        F::Or(v) => json!(["or", v.iter().map(f_json).collect::<Vec<_>>()]),
        F::Not(x) => json!(["not", f_json(x)]),
        F::Has(false, x) => json!(["has_done", f_json(x)]),
        F::Has(true, x) => json!(["has_not_done", f_json(x)]),
    }
}

fn f_dims(f: &F, out: &mut Vec<&'static str>) {
    match f {
        F::C(_, d, _, _) => out.push(d),
        F::And(v) | F::Or(v) => v.iter().for_each(|x| f_dims(x, out)),
        F::Not(x) | F::Has(_, x) => f_dims(x, out),
    }
}

#[derive(Clone)]
struct Spec {
    metrics: Vec<&'static str>,
    dims: Vec<&'static str>,
    filters: Vec<F>,
    from: i32,
    to: i32,
}

fn spec(metrics: &[&'static str], dims: &[&'static str], filters: Vec<F>, r: (i32, i32)) -> Spec {
    Spec {
        metrics: metrics.to_vec(),
        dims: dims.to_vec(),
        filters,
        from: r.0,
        to: r.1,
    }
}

fn body(s: &Spec) -> Value {
    json!({
        "site_id": SITE,
        "metrics": s.metrics,
        "date_range": [format_day(s.from), format_day(s.to)],
        "dimensions": s.dims,
        "filters": s.filters.iter().map(f_json).collect::<Vec<_>>(),
    })
}

fn hour_of(ms: i64) -> String {
    let day = ms.div_euclid(86_400_000) as i32;
    format!(
        "{} {:02}:00:00",
        format_day(day),
        ms.rem_euclid(86_400_000) / 3_600_000
    )
}

fn clamp_label(day: i32, dim: &str, from: i32) -> String {
    let d = date_of_day(day);
    let start = match dim {
        "time:week" => day - (d.weekday().to_monday_zero_offset() as i32),
        "time:month" => day_of_date(d.first_of_month()),
        _ => day,
    };
    format_day(start.max(from))
}

/// A hit's value of a dimension.
fn hit_attr(h: &Hit, dim: &str, from: i32) -> String {
    let day = h.ts.div_euclid(86_400_000) as i32;
    match dim {
        "event:page" => h.pathname.clone(),
        "event:hostname" => h.hostname.clone(),
        "event:name" => h.name.clone(),
        "event:goal" if h.name == "pageview" => format!("Visit {}", h.pathname),
        "event:goal" => h.name.clone(),
        "visit:source" => h.referrer_source.clone(),
        "visit:referrer" => h.referrer_host.clone(),
        "visit:channel" => h.channel.clone(),
        "visit:utm_source" => h.utm_source.clone(),
        "visit:utm_medium" => h.utm_medium.clone(),
        "visit:utm_campaign" => h.utm_campaign.clone(),
        "visit:utm_content" => h.utm_content.clone(),
        "visit:utm_term" => h.utm_term.clone(),
        "visit:device" => h.device.clone(),
        "visit:browser" => h.browser.clone(),
        "visit:browser_version" => h.browser_version.clone(),
        "visit:os" => h.os.clone(),
        "visit:os_version" => h.os_version.clone(),
        "visit:country" => h.country.clone(),
        "visit:region" => h.region.clone(),
        "visit:screen" => h.screen.clone(),
        "time:hour" => hour_of(h.ts),
        "time:day" | "time:week" | "time:month" => clamp_label(day, dim, from),
        d if d.starts_with("event:props:") => prop(h, &d["event:props:".len()..])
            .unwrap_or_default()
            .to_string(),
        d => panic!("no hit attribute {d}"),
    }
}

/// The visit's properties, set by its landing hit (Plausible's session
/// attributes): every hit of a visit has its visit's value.
const LANDING: &[&str] = &[
    "visit:source",
    "visit:referrer",
    "visit:channel",
    "visit:utm_source",
    "visit:utm_medium",
    "visit:utm_campaign",
    "visit:utm_content",
    "visit:utm_term",
];

/// A hit's value of a dimension as the API counts it: a landing
/// dimension's is its visit's first hit's (an anonymous hit, in no visit,
/// keeps its own).
fn hit_value(d: &Data, h: &Hit, dim: &str, from: i32) -> String {
    match d.visit_of.get(&(h.visitor_id, h.ts)) {
        Some(&v) if h.visitor_id != 0 && LANDING.contains(&dim) => {
            hit_attr(&d.hits[d.visits[v].hits[0]], dim, from)
        }
        _ => hit_attr(h, dim, from),
    }
}

/// A hit's value of a custom property, if it carries it.
fn prop<'a>(h: &'a Hit, key: &str) -> Option<&'a str> {
    h.prop_keys
        .iter()
        .position(|k| k == key)
        .map(|i| h.prop_values[i].as_str())
}

/// A visit's values of a dimension (several for its pages).
fn visit_attrs(d: &Data, v: &Visit, dim: &str, from: i32) -> Vec<String> {
    let hits: Vec<&Hit> = v.hits.iter().map(|&i| &d.hits[i]).collect();
    let views: Vec<&str> = hits
        .iter()
        .filter(|h| h.name == "pageview")
        .map(|h| h.pathname.as_str())
        .collect();
    match dim {
        "visit:entry_page" => vec![views[0].to_string()],
        "visit:exit_page" => vec![views.last().unwrap().to_string()],
        "event:page" => views
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        "time:hour" => vec![hour_of(hits[0].ts)],
        "visit:source"
        | "visit:referrer"
        | "visit:channel"
        | "visit:utm_source"
        | "visit:utm_medium"
        | "visit:utm_campaign"
        | "visit:utm_content"
        | "visit:utm_term"
        | "visit:country"
        | "visit:device"
        | "visit:browser"
        | "visit:browser_version"
        | "visit:os"
        | "visit:os_version"
        | "visit:region"
        | "visit:screen"
        | "time:day"
        | "time:week"
        | "time:month" => vec![hit_attr(hits[0], dim, from)],
        d => panic!("no visit attribute {d}"),
    }
}

fn cond(op: &str, values: &[&str], cs: bool, x: &str) -> bool {
    let (pos, neg) = match op.strip_suffix("_not") {
        Some(p) => (p, true),
        None => (op, false),
    };
    let low = |s: &str| s.to_lowercase();
    let any = values.iter().any(|v| match (pos, cs) {
        ("is", true) => x == *v,
        ("is", false) => low(x) == low(v),
        ("contains", true) => x.contains(v),
        ("contains", false) => low(x).contains(&low(v)),
        ("matches", true) => regex::Regex::new(v).unwrap().is_match(x),
        ("matches", false) => regex::Regex::new(&format!("(?i){v}")).unwrap().is_match(x),
        _ => panic!("{op}"),
    });
    any != neg
}

fn hit_matches(d: &Data, h: &Hit, f: &F, s: &Spec) -> bool {
    match f {
        F::C(op, dim, v, cs) => cond(op, v, *cs, &hit_value(d, h, dim, s.from)),
        F::And(x) => x.iter().all(|f| hit_matches(d, h, f, s)),
        F::Or(x) => x.iter().any(|f| hit_matches(d, h, f, s)),
        F::Not(x) => !hit_matches(d, h, x, s),
        F::Has(negated, x) => {
            did(d, h.ts.div_euclid(86_400_000) as i32, h.visitor_id, x, s) != *negated
        }
    }
}

/// Whether the visitor did a hit matching `f` that day (`has_done`).
fn did(d: &Data, day: i32, visitor: u64, f: &F, s: &Spec) -> bool {
    visitor != 0
        && d.hits.iter().any(|x| {
            x.visitor_id == visitor
                && x.ts.div_euclid(86_400_000) as i32 == day
                && hit_matches(d, x, f, s)
        })
}

fn visit_matches(d: &Data, v: &Visit, f: &F, s: &Spec) -> bool {
    match f {
        F::C(op, dim, vals, cs) => {
            let (pos, neg) = match op.strip_suffix("_not") {
                Some(p) => (p, true),
                None => (*op, false),
            };
            let yes = |x: &str| cond(pos, vals, *cs, x);
            let hit = match *dim {
                "visit:entry_page" | "visit:exit_page" | "visit:country" | "visit:device" => {
                    yes(&visit_attrs(d, v, dim, s.from)[0])
                }
                x if LANDING.contains(&x) => yes(&visit_attrs(d, v, dim, s.from)[0]),
                "event:page" => visit_attrs(d, v, dim, s.from).iter().any(|x| yes(x)),
                "event:name" => v.hits.iter().any(|&i| yes(&d.hits[i].name)),
                "event:goal" => v
                    .hits
                    .iter()
                    .any(|&i| yes(&hit_attr(&d.hits[i], dim, s.from))),
                // Any hit of the visitor that day.
                _ => d.hits.iter().any(|h| {
                    h.visitor_id == v.visitor
                        && h.ts.div_euclid(86_400_000) as i32 == v.day
                        && yes(&hit_attr(h, dim, s.from))
                }),
            };
            hit != neg
        }
        F::And(x) => x.iter().all(|f| visit_matches(d, v, f, s)),
        F::Or(x) => x.iter().any(|f| visit_matches(d, v, f, s)),
        F::Not(x) => !visit_matches(d, v, x, s),
        F::Has(negated, x) => did(d, v.day, v.visitor, x, s) != *negated,
    }
}

#[derive(Default, Clone)]
struct Acc {
    e_visitors: BTreeSet<(i32, u64)>,
    e_pageviews: u64,
    e_events: u64,
    s_visitors: BTreeSet<(i32, u64)>,
    s_visits: u64,
    s_bounces: u64,
    s_duration_ms: i64,
    s_pageviews: u64,
    s_events: u64,
    /// Each visitor-day-page's deepest scroll.
    scroll: BTreeMap<(i32, u64, String), u8>,
    engaged_ms: u64,
    engaged: BTreeSet<(i32, u64)>,
    revenue: i64,
    revenue_n: u64,
}

const SESSION: &[&str] = &["visits", "bounce_rate", "visit_duration", "views_per_visit"];

/// The expected rows: dimension values → metric values, from the rows.
fn expect(d: &Data, s: &Spec) -> BTreeMap<Vec<String>, Vec<f64>> {
    let mut all_dims = s.dims.clone();
    s.filters.iter().for_each(|f| f_dims(f, &mut all_dims));
    let visits_only = all_dims
        .iter()
        .any(|x| *x == "visit:entry_page" || *x == "visit:exit_page");
    let need_visits = visits_only || s.metrics.iter().any(|m| SESSION.contains(m));
    let need_events = !visits_only && s.metrics.iter().any(|m| !SESSION.contains(m));
    let mut groups: BTreeMap<Vec<String>, Acc> = BTreeMap::new();
    if s.dims.is_empty() {
        groups.insert(vec![], Acc::default());
    }
    let in_range = |day: i32| (s.from..=s.to).contains(&day);
    if need_events {
        for h in &d.hits {
            let day = h.ts.div_euclid(86_400_000) as i32;
            if !in_range(day) || !s.filters.iter().all(|f| hit_matches(d, h, f, s)) {
                continue;
            }
            // A property breakdown counts the events that carry it.
            if s.dims
                .iter()
                .filter_map(|x| x.strip_prefix("event:props:"))
                .any(|k| prop(h, k).is_none())
            {
                continue;
            }
            let key: Vec<String> = s.dims.iter().map(|x| hit_value(d, h, x, s.from)).collect();
            let a = groups.entry(key).or_default();
            if h.visitor_id != 0 {
                a.e_visitors.insert((day, h.visitor_id));
            }
            a.e_pageviews += (h.name == "pageview") as u64;
            a.e_events += 1;
            if h.name == "engagement" && h.visitor_id != 0 {
                let k = (day, h.visitor_id, h.pathname.clone());
                let m = a.scroll.entry(k).or_default();
                *m = (*m).max(h.scroll_depth);
                a.engaged.insert((day, h.visitor_id));
            }
            if h.name == "engagement" {
                a.engaged_ms += h.engaged_ms as u64;
            }
            if !h.revenue_currency.is_empty() {
                a.revenue += h.revenue_amount;
                a.revenue_n += 1;
            }
        }
    }
    if need_visits {
        for v in &d.visits {
            if !in_range(v.day) || !s.filters.iter().all(|f| visit_matches(d, v, f, s)) {
                continue;
            }
            let mut keys: Vec<Vec<String>> = vec![vec![]];
            for x in &s.dims {
                let vals = visit_attrs(d, v, x, s.from);
                keys = keys
                    .iter()
                    .flat_map(|k| {
                        vals.iter().map(move |val| {
                            let mut k = k.clone();
                            k.push(val.clone());
                            k
                        })
                    })
                    .collect();
            }
            let hits: Vec<&Hit> = v.hits.iter().map(|&i| &d.hits[i]).collect();
            for key in keys {
                let a = groups.entry(key).or_default();
                a.s_visitors.insert((v.day, v.visitor));
                a.s_visits += 1;
                a.s_bounces += (hits.len() <= 1) as u64;
                a.s_duration_ms += hits.last().unwrap().ts - hits[0].ts;
                a.s_pageviews += hits.iter().filter(|h| h.name == "pageview").count() as u64;
                a.s_events += hits.len() as u64;
            }
        }
    }
    let totals = |goals: bool| {
        let mut t = s.clone();
        t.dims.clear();
        t.metrics = vec!["visitors"];
        if !goals {
            t.filters
                .retain(|f| !matches!(f, F::C(_, "event:goal", _, _)));
        }
        expect(d, &t)[&vec![]][0]
    };
    let total = if s.metrics.contains(&"percentage") {
        totals(true)
    } else {
        0.0
    };
    let goal_total = if s.metrics.contains(&"conversion_rate") {
        totals(false)
    } else {
        0.0
    };
    // group_conversion_rate: the visitors of the same group (dimensions
    // but the goal), without the goal filters.
    let keep: Vec<usize> = (0..s.dims.len())
        .filter(|&i| s.dims[i] != "event:goal")
        .collect();
    let group_totals = if s.metrics.contains(&"group_conversion_rate") {
        let mut t = s.clone();
        t.dims = keep.iter().map(|&i| s.dims[i]).collect();
        t.metrics = vec!["visitors"];
        t.filters
            .retain(|f| !matches!(f, F::C(_, "event:goal", _, _)));
        expect(d, &t)
    } else {
        BTreeMap::new()
    };
    groups
        .into_iter()
        .map(|(k, a)| {
            let group: Vec<String> = keep.iter().map(|&i| k[i].clone()).collect();
            let group_total = group_totals.get(&group).map_or(0.0, |m| m[0]);
            let visitors = if visits_only {
                a.s_visitors.len()
            } else {
                a.e_visitors.len()
            } as f64;
            let ratio = |x: f64| {
                if a.s_visits == 0 {
                    0.0
                } else {
                    x / a.s_visits as f64
                }
            };
            let m = s
                .metrics
                .iter()
                .map(|m| match *m {
                    "visitors" => visitors,
                    "pageviews" if visits_only => a.s_pageviews as f64,
                    "pageviews" => a.e_pageviews as f64,
                    "events" if visits_only => a.s_events as f64,
                    "events" => a.e_events as f64,
                    "visits" => a.s_visits as f64,
                    "bounce_rate" => ratio(a.s_bounces as f64 * 100.0),
                    "visit_duration" => ratio(a.s_duration_ms as f64 / 1000.0),
                    "views_per_visit" => ratio(a.s_pageviews as f64),
                    "percentage" if total == 0.0 => 0.0,
                    "percentage" => visitors * 100.0 / total,
                    "conversion_rate" if goal_total == 0.0 => 0.0,
                    "conversion_rate" => visitors * 100.0 / goal_total,
                    "group_conversion_rate" if group_total == 0.0 => 0.0,
                    "group_conversion_rate" => visitors * 100.0 / group_total,
                    "scroll_depth" if a.scroll.is_empty() => f64::NAN,
                    "scroll_depth" => {
                        a.scroll.values().map(|x| *x as f64).sum::<f64>() / a.scroll.len() as f64
                    }
                    "time_on_page" if a.engaged.is_empty() => f64::NAN,
                    "time_on_page" => a.engaged_ms as f64 / a.engaged.len() as f64 / 1000.0,
                    "total_revenue" => a.revenue as f64 / 1e6,
                    "average_revenue" if a.revenue_n == 0 => f64::NAN,
                    "average_revenue" => a.revenue as f64 / 1e6 / a.revenue_n as f64,
                    m => panic!("{m}"),
                })
                .collect();
            (k, m)
        })
        .collect()
}

/// How far a metric may be from the exact value (the API rounds).
fn slack(metric: &str) -> f64 {
    match metric {
        "bounce_rate" | "visit_duration" => 0.5 + 1e-9,
        "views_per_visit" => 0.005 + 1e-9,
        "percentage" => 0.05 + 1e-9,
        "conversion_rate" | "group_conversion_rate" => 0.005 + 1e-9,
        "scroll_depth" | "time_on_page" => 0.5 + 1e-9,
        "total_revenue" | "average_revenue" => 0.005 + 1e-6,
        _ => 0.0,
    }
}

fn check(name: &str, s: &Spec, got: &Value, want: &BTreeMap<Vec<String>, Vec<f64>>) {
    let results = got["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: {got}"));
    let mut seen = BTreeMap::new();
    for r in results {
        let dims: Vec<String> = r["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                x.as_str()
                    .unwrap_or_else(|| panic!("{name}: {x}"))
                    .to_string()
            })
            .collect();
        let metrics: Vec<f64> = r["metrics"]
            .as_array()
            .unwrap()
            .iter()
            // null: nothing to average (scroll depth without engagement).
            .map(|x| {
                if x.is_null() {
                    f64::NAN
                } else {
                    x.as_f64().unwrap()
                }
            })
            .collect();
        assert!(
            seen.insert(dims.clone(), metrics).is_none(),
            "{name}: {dims:?} twice"
        );
    }
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{name}: the groups"
    );
    for (k, w) in want {
        let g = &seen[k];
        for (i, m) in s.metrics.iter().enumerate() {
            assert!(
                (g[i].is_nan() && w[i].is_nan()) || (g[i] - w[i]).abs() <= slack(m),
                "{name}: {k:?} {m}: got {}, want {}",
                g[i],
                w[i]
            );
        }
    }
}

// ----------------------------------------------------------------- plumbing

fn sha(k: &str) -> String {
    hex::encode(Sha256::digest(k.as_bytes()))
}

async fn start_app(db: &TestDb, per_hour: Option<u64>) -> tacit::app::Running {
    start_app_at(db, per_hour, std::sync::Arc::new(SystemClock)).await
}

/// [`start_app`] on a given clock.
async fn start_app_at(
    db: &TestDb,
    per_hour: Option<u64>,
    clock: tacit::model::clock::SharedClock,
) -> tacit::app::Running {
    let mut raw = db.config();
    raw.policy.location = "region".into();
    raw.sites[0].api_keys_sha256 = vec![sha(KEY)];
    raw.sites[0].umami_website_id = umami::UMAMI_ID.into();
    raw.sites[0].api_rate_limit_per_hour = per_hour;
    raw.sites[0].allowed_properties = Some(vec!["plan".into(), "file".into(), "size".into()]);
    raw.sites.push(tacit::config::RawSite {
        domain: "other.org".into(),
        api_keys_sha256: vec![sha(OTHER_KEY)],
        ..Default::default()
    });
    let cfg = raw.validate().expect("valid");
    let opts = tacit::app::Options {
        migrate: true,
        // No background rollup: the test decides when days are rolled up.
        sessionize_every: None,
        ..Default::default()
    };
    tacit::app::start(&cfg, clock, opts)
        .await
        .expect("tacit starts")
}

async fn ask(app: &tacit::app::Running, key: Option<&str>, body: &str) -> (u16, Value, String) {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let (s, _, b) = post(app.admin_addr, "/api/v2/query", &headers, body).await;
    let text = String::from_utf8_lossy(&b).into_owned();
    (s, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

async fn load(db: &TestDb, days: &[i32]) -> Data {
    let data = generate(days);
    let mut ins = db.client().insert::<Hit>("events").await.unwrap();
    for h in &data.hits {
        ins.write(h).await.unwrap();
    }
    ins.end().await.unwrap();
    for &d in days {
        tacit::analytics::sessions::sessionize_day(&db.store(), d, 1)
            .await
            .unwrap();
    }
    data
}

/// The contract cases: (name, spec).
fn cases(r: (i32, i32), one: i32) -> Vec<(&'static str, Spec)> {
    let all = [
        "visitors",
        "visits",
        "pageviews",
        "views_per_visit",
        "bounce_rate",
        "visit_duration",
        "events",
    ];
    let hits = ["visitors", "pageviews", "events"];
    let both = ["visitors", "visits", "pageviews", "bounce_rate"];
    let v = ["visits", "bounce_rate", "visit_duration", "views_per_visit"];
    let mut out = vec![
        ("every metric, no dimension", spec(&all, &[], vec![], r)),
        (
            "percentage alone",
            spec(&["visitors", "percentage"], &[], vec![], r),
        ),
        ("pages", spec(&hits, &["event:page"], vec![], r)),
        ("hostnames", spec(&hits, &["event:hostname"], vec![], r)),
        (
            "event names",
            spec(&["visitors", "events"], &["event:name"], vec![], r),
        ),
        ("entry pages", spec(&v, &["visit:entry_page"], vec![], r)),
        (
            "exit pages",
            spec(
                &["visits", "visit_duration"],
                &["visit:exit_page"],
                vec![],
                r,
            ),
        ),
        (
            "entry pages with hit counts",
            spec(
                &["visitors", "visits", "pageviews", "events"],
                &["visit:entry_page"],
                vec![],
                r,
            ),
        ),
        ("sources", spec(&hits, &["visit:source"], vec![], r)),
        (
            "sources with visits",
            spec(&both, &["visit:source"], vec![], r),
        ),
        ("referrers", spec(&hits, &["visit:referrer"], vec![], r)),
        (
            "channels",
            spec(
                &["visitors", "visits", "percentage"],
                &["visit:channel"],
                vec![],
                r,
            ),
        ),
        ("utm_source", spec(&hits, &["visit:utm_source"], vec![], r)),
        ("utm_medium", spec(&hits, &["visit:utm_medium"], vec![], r)),
        (
            "utm_campaign with visits",
            spec(&both, &["visit:utm_campaign"], vec![], r),
        ),
        (
            "utm_content",
            spec(&["visitors"], &["visit:utm_content"], vec![], r),
        ),
        (
            "utm_term",
            spec(&["visitors"], &["visit:utm_term"], vec![], r),
        ),
        ("devices", spec(&both, &["visit:device"], vec![], r)),
        (
            "browsers with visits",
            spec(
                &["visitors", "visits", "bounce_rate", "views_per_visit"],
                &["visit:browser"],
                vec![],
                r,
            ),
        ),
        (
            "browser versions",
            spec(&hits, &["visit:browser_version"], vec![], r),
        ),
        (
            "operating systems",
            spec(&["visitors", "visits"], &["visit:os"], vec![], r),
        ),
        ("os versions", spec(&hits, &["visit:os_version"], vec![], r)),
        (
            "countries",
            spec(
                &["visitors", "percentage", "visits"],
                &["visit:country"],
                vec![],
                r,
            ),
        ),
        (
            "regions",
            spec(&["visitors", "visits"], &["visit:region"], vec![], r),
        ),
        (
            "screens",
            spec(
                &["visitors", "visit_duration"],
                &["visit:screen"],
                vec![],
                r,
            ),
        ),
        ("days", spec(&all, &["time:day"], vec![], r)),
        (
            "hours of one day",
            spec(&hits, &["time:hour"], vec![], (one, one)),
        ),
        (
            "hours with visits",
            spec(&["visitors", "visits"], &["time:hour"], vec![], (one, one)),
        ),
        (
            "weeks",
            spec(&["visitors", "visits"], &["time:week"], vec![], r),
        ),
        (
            "months",
            spec(
                &["visitors", "pageviews", "bounce_rate"],
                &["time:month"],
                vec![],
                r,
            ),
        ),
        (
            "days by device",
            spec(
                &["visitors", "visits"],
                &["time:day", "visit:device"],
                vec![],
                r,
            ),
        ),
        (
            "pages with visits",
            spec(
                &["visitors", "visits", "pageviews", "bounce_rate"],
                &["event:page"],
                vec![],
                r,
            ),
        ),
        (
            "is",
            spec(&all, &[], vec![c("is", "visit:country", &["DE"])], r),
        ),
        (
            "is, two values",
            spec(
                &hits,
                &["event:page"],
                vec![c("is", "visit:country", &["DE", "FR"])],
                r,
            ),
        ),
        (
            "is_not",
            spec(
                &both,
                &["visit:channel"],
                vec![c("is_not", "visit:device", &["mobile"])],
                r,
            ),
        ),
        (
            "contains, any case",
            spec(
                &hits,
                &["event:page"],
                vec![ci("contains", "event:page", &["blog"])],
                r,
            ),
        ),
        (
            "contains_not",
            spec(
                &hits,
                &["event:page"],
                vec![c("contains_not", "event:page", &["blog"])],
                r,
            ),
        ),
        (
            "matches",
            spec(
                &hits,
                &["event:page"],
                vec![c("matches", "event:page", &["^/blog/[ab]$"])],
                r,
            ),
        ),
        (
            "matches, any case",
            spec(
                &hits,
                &["event:page"],
                vec![ci("matches", "event:page", &["^/blog/"])],
                r,
            ),
        ),
        (
            "matches_not",
            spec(
                &["visitors"],
                &["visit:browser"],
                vec![c("matches_not", "visit:browser", &["^Chrome"])],
                r,
            ),
        ),
        (
            "is, any case",
            spec(&hits, &[], vec![ci("is", "event:page", &["/blog/c"])], r),
        ),
        (
            "and, or, not",
            spec(
                &["visitors", "pageviews", "visits"],
                &["visit:source"],
                vec![F::Or(vec![
                    F::And(vec![
                        c("is", "visit:country", &["DE"]),
                        F::Not(Box::new(c("is", "visit:device", &["desktop"]))),
                    ]),
                    c("contains", "visit:os", &["Linux"]),
                ])],
                r,
            ),
        ),
        (
            "event name filter",
            spec(
                &["visitors", "events"],
                &["event:page"],
                vec![c("is", "event:name", &["signup", "download"])],
                r,
            ),
        ),
        (
            "entry page filter",
            spec(
                &["visitors", "visits", "pageviews", "events"],
                &[],
                vec![c("is", "visit:entry_page", &["/"])],
                r,
            ),
        ),
        (
            "exit page filter by source",
            spec(
                &["visits", "bounce_rate"],
                &["visit:source"],
                vec![c("contains", "visit:exit_page", &["blog"])],
                r,
            ),
        ),
        (
            "visits that viewed a page",
            spec(
                &v,
                &["visit:channel"],
                vec![c("is", "event:page", &["/pricing"])],
                r,
            ),
        ),
        (
            "visits by browser filter",
            spec(
                &["visits", "bounce_rate", "visitors"],
                &["time:day"],
                vec![c("is", "visit:browser", &["Firefox"])],
                r,
            ),
        ),
        (
            "visits by utm_source filter",
            spec(
                &["visits", "visitors"],
                &[],
                vec![c("is", "visit:utm_source", &["newsletter"])],
                r,
            ),
        ),
        (
            "landing filters by a landing dimension",
            spec(
                &["visitors", "pageviews", "events", "visits", "bounce_rate"],
                &["visit:utm_medium"],
                vec![
                    c("is_not", "visit:referrer", &["facebook.com"]),
                    c("contains", "visit:channel", &["e"]),
                ],
                r,
            ),
        ),
        (
            "visits and hits by referrer, not a term",
            spec(
                &["visitors", "pageviews", "visits", "views_per_visit"],
                &["visit:referrer", "visit:utm_source"],
                vec![F::Not(Box::new(c("is", "visit:utm_term", &["shoes"])))],
                r,
            ),
        ),
        (
            "hostname filter",
            spec(
                &hits,
                &["event:page"],
                vec![c("is", "event:hostname", &["blog.example.com"])],
                r,
            ),
        ),
        (
            "percentage with a filter",
            spec(
                &["visitors", "percentage"],
                &["visit:browser"],
                vec![c("is_not", "visit:country", &[""])],
                r,
            ),
        ),
        (
            "region and screen filters",
            spec(
                &["visitors", "visits"],
                &["visit:screen"],
                vec![
                    c("matches", "visit:region", &["^DE-"]),
                    c("is_not", "visit:screen", &["mobile"]),
                ],
                r,
            ),
        ),
    ];
    out.push((
        "goals",
        spec(
            &["visitors", "events", "conversion_rate"],
            &["event:goal"],
            vec![],
            r,
        ),
    ));
    out.push((
        "a goal by source",
        spec(
            &["visitors", "conversion_rate"],
            &["visit:source"],
            vec![c("is", "event:goal", &["signup"])],
            r,
        ),
    ));
    out.push((
        "goals matching, with another filter",
        spec(
            &["visitors", "conversion_rate", "percentage"],
            &["event:goal"],
            vec![
                c("matches", "event:goal", &["^Visit /blog"]),
                c("is", "visit:device", &["desktop"]),
            ],
            r,
        ),
    ));
    out.push((
        "group conversion by device",
        spec(
            &["visitors", "group_conversion_rate", "conversion_rate"],
            &["visit:device"],
            vec![c("is", "event:goal", &["Visit /pricing"])],
            r,
        ),
    ));
    out.push((
        "group conversion by goal and browser",
        spec(
            &["visitors", "group_conversion_rate"],
            &["event:goal", "visit:browser"],
            vec![c("matches", "event:goal", &["^(signup|download)$"])],
            r,
        ),
    ));
    out.push((
        "group conversion, the goal first of three",
        spec(
            &["group_conversion_rate", "visitors"],
            &["event:goal", "visit:device", "visit:country"],
            vec![c("contains", "event:goal", &["Visit /blog"])],
            r,
        ),
    ));
    out.push((
        "visits that reached a goal",
        spec(
            &["visits", "bounce_rate", "visitors"],
            &["time:day"],
            vec![c("is", "event:goal", &["Visit /pricing", "download"])],
            r,
        ),
    ));
    out.push((
        "property values",
        spec(
            &["visitors", "events", "percentage"],
            &["event:props:plan"],
            vec![],
            r,
        ),
    ));
    out.push((
        "property values by day",
        spec(
            &["visitors", "pageviews"],
            &["time:day", "event:props:file"],
            vec![],
            r,
        ),
    ));
    out.push((
        "a property filter",
        spec(
            &hits,
            &["event:page"],
            vec![c("is", "event:props:file", &["a.pdf"])],
            r,
        ),
    ));
    out.push((
        "visits by a property filter",
        spec(
            &["visits", "visitors"],
            &["visit:device"],
            vec![c("is", "event:props:plan", &["team"])],
            r,
        ),
    ));
    // Groups on one side of the join only: pages viewed in visits with a
    // download, where the download's own page is the only hit counted.
    out.push((
        "one-sided groups",
        spec(
            &["visitors", "events", "visits"],
            &["event:page"],
            vec![c("is", "event:name", &["download"])],
            r,
        ),
    ));
    out.push(("an empty day", spec(&all, &[], vec![], (r.0 - 5, r.0 - 5))));
    // Engagement and revenue, from the events that carry them.
    let engaged = ["visitors", "scroll_depth", "time_on_page"];
    let money = ["visitors", "total_revenue", "average_revenue"];
    out.push((
        "scroll depth and time on page",
        spec(&engaged, &[], vec![], r),
    ));
    out.push((
        "engagement by page",
        spec(&engaged, &["event:page"], vec![], r),
    ));
    out.push((
        "engagement by device, filtered",
        spec(
            &engaged,
            &["visit:device"],
            vec![c("contains", "event:page", &["blog"])],
            r,
        ),
    ));
    out.push(("revenue", spec(&money, &[], vec![], r)));
    out.push((
        "revenue by plan",
        spec(&money, &["event:props:plan"], vec![], r),
    ));
    out.push(("revenue by goal", spec(&money, &["event:goal"], vec![], r)));
    // has_done / has_not_done: the visitor-day did (or did not) such an event.
    let signed_up = || Box::new(c("is", "event:name", &["signup"]));
    out.push((
        "has_done: pages of visitors who signed up",
        spec(&hits, &["event:page"], vec![F::Has(false, signed_up())], r),
    ));
    out.push((
        "has_not_done: visits of those who never read the blog",
        spec(
            &["visitors", "visits", "bounce_rate"],
            &["visit:source"],
            vec![F::Has(
                true,
                Box::new(ci("contains", "event:page", &["/blog"])),
            )],
            r,
        ),
    ));
    out.push((
        "has_done a goal, and a device",
        spec(
            &["visitors", "pageviews", "visits"],
            &[],
            vec![
                F::Has(false, Box::new(c("is", "event:goal", &["Visit /pricing"]))),
                c("is", "visit:device", &["desktop"]),
            ],
            r,
        ),
    ));

    out
}

async fn run_cases(app: &tacit::app::Running, d: &Data, cases: &[(&'static str, Spec)]) -> usize {
    for (name, s) in cases {
        let (status, got, text) = ask(app, Some(KEY), &body(s).to_string()).await;
        assert_eq!(status, 200, "{name}: {text}");
        check(name, s, &got, &expect(d, s));
    }
    cases.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_api_answers_plausibles_contract_from_the_raw_rows() {
    let db = TestDb::new("query_api");
    let app = start_app(&db, Some(1_000_000)).await;
    let today = tacit::model::clock::day_of(SystemClock.now_ms());
    let days = [today - 3, today - 2, today - 1];
    let data = load(&db, &days).await;
    let r = (today - 3, today - 1);
    let cases = cases(r, today - 2);
    // From the event tier; then with two closed days rolled up (the seam
    // inside the range), each answer again equal to the raw rows'.
    let n = run_cases(&app, &data, &cases).await;
    for (i, d) in [today - 3, today - 2].into_iter().enumerate() {
        tacit::analytics::rollup::rollup_day(&db.store(), d, 10 + i as u64)
            .await
            .unwrap();
    }
    let rolled = run_cases(&app, &data, &cases).await;
    assert!(n >= 40 && rolled == n, "{n} queries");
    sources_are_properties_of_visits(&app, &data, r).await;
    // The engagement and revenue cases have something to average.
    let w = expect(
        &data,
        &spec(
            &["scroll_depth", "time_on_page", "total_revenue"],
            &[],
            vec![],
            r,
        ),
    );
    assert!(w[&vec![]].iter().all(|x| *x > 0.0), "{w:?}");
    revenue_in_two_currencies_is_refused(&app, &db, today).await;
    comparisons(&app, &data, today).await;

    // The answer's shape: the query as understood, and Plausible's names.
    let s = spec(&["visitors"], &["time:day"], vec![], r);
    let mut b = body(&s);
    b["include"] = json!({"time_labels": true, "total_rows": true});
    let (status, got, text) = ask(&app, Some(KEY), &b.to_string()).await;
    assert_eq!(status, 200, "{text}");
    let labels: Vec<String> = (r.0..=r.1).map(format_day).collect();
    assert_eq!(got["meta"]["time_labels"], json!(labels));
    assert_eq!(got["meta"]["total_rows"], json!(3));
    assert_eq!(got["query"]["site_id"], json!(SITE));
    assert_eq!(
        got["query"]["date_range"],
        json!([
            format!("{}T00:00:00+00:00", format_day(r.0)),
            format!("{}T23:59:59+00:00", format_day(r.1))
        ])
    );
    assert_eq!(got["query"]["dimensions"], json!(["time:day"]));
    // Relative ranges: "7d" is the seven days before today, here the same
    // rows as the custom range.
    let (status, got, _) = ask(
        &app,
        Some(KEY),
        &json!({"site_id": SITE, "metrics": ["visitors", "visits"], "date_range": "7d"})
            .to_string(),
    )
    .await;
    assert_eq!(status, 200);
    let want = expect(&data, &spec(&["visitors", "visits"], &[], vec![], r));
    check(
        "7d",
        &spec(&["visitors", "visits"], &[], vec![], r),
        &got,
        &want,
    );
    let (_, got, _) = ask(
        &app,
        Some(KEY),
        &json!({"site_id": SITE, "metrics": ["pageviews"], "date_range": "day"}).to_string(),
    )
    .await;
    assert_eq!(got["results"][0]["metrics"], json!([0]), "nothing today");

    // Order and pagination: pages by visitors, descending, names breaking
    // ties; the third to fifth of them, and the total.
    let s = spec(&["visitors"], &["event:page"], vec![], r);
    let mut want: Vec<(Vec<String>, Vec<f64>)> = expect(&data, &s).into_iter().collect();
    want.sort_by(|a, b| b.1[0].total_cmp(&a.1[0]).then(a.0.cmp(&b.0)));
    let mut b = body(&s);
    b["pagination"] = json!({"limit": 3, "offset": 2});
    b["include"] = json!({"total_rows": true});
    let (_, got, text) = ask(&app, Some(KEY), &b.to_string()).await;
    let page: Vec<Value> = want[2..5]
        .iter()
        .map(|(d, m)| json!({"dimensions": d, "metrics": [m[0] as u64]}))
        .collect();
    assert_eq!(got["results"], json!(page), "{text}");
    assert_eq!(got["meta"]["total_rows"], json!(want.len()));
    b["pagination"] = json!({"limit": 3, "offset": 100});
    let (_, got, _) = ask(&app, Some(KEY), &b.to_string()).await;
    assert_eq!(got["results"], json!([]));
    assert_eq!(got["meta"]["total_rows"], json!(want.len()));
    // An explicit order: page names ascending.
    let mut b = body(&s);
    b["order_by"] = json!([["event:page", "asc"]]);
    let (_, got, _) = ask(&app, Some(KEY), &b.to_string()).await;
    let names: Vec<&str> = got["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dimensions"][0].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), want.len());
    app.shutdown().await;
}

/// A dashboard's first screen with one filter (a country, device, browser
/// or OS `is` one value) over closed days reads the filtered rollups, and a
/// landing breakdown the per-visit landing rollup: every answer equals the
/// raw rows', with the seam of a rolled-up and an open day inside the range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_first_screen_from_the_rollups_is_the_raw_rows() {
    let db = TestDb::new("query_api_filtered");
    let app = start_app(&db, Some(1_000_000)).await;
    let today = tacit::model::clock::day_of(SystemClock.now_ms());
    let days = [today - 3, today - 2, today - 1];
    let data = load(&db, &days).await;
    for (i, d) in [today - 3, today - 2].into_iter().enumerate() {
        tacit::analytics::rollup::rollup_day(&db.store(), d, 10 + i as u64)
            .await
            .unwrap();
    }
    for table in [
        "rollup_landing_daily",
        "rollup_filtered_daily",
        "rollup_visits_filtered_daily",
    ] {
        let n: u64 = db
            .store()
            .client()
            .query(&format!("SELECT count() FROM {table}"))
            .fetch_one()
            .await
            .unwrap();
        assert!(n > 0, "{table} is empty");
    }
    let r = (today - 3, today - 1);
    let top = [
        "visitors",
        "visits",
        "pageviews",
        "views_per_visit",
        "bounce_rate",
        "visit_duration",
    ];
    let mut cases = Vec::new();
    for (dim, value) in [
        ("visit:country", "DE"),
        ("visit:device", "mobile"),
        ("visit:browser", "Firefox"),
        ("visit:os", "iOS"),
    ] {
        let f = || vec![c("is", dim, &[value])];
        cases.push(("filtered top stats", spec(&top, &[], f(), r)));
        cases.push((
            "filtered graph",
            spec(&["visitors", "visits"], &["time:day"], f(), r),
        ));
        for by in [
            "event:page",
            "visit:source",
            "visit:referrer",
            "visit:utm_campaign",
            "visit:country",
            "visit:device",
            "visit:browser",
            "visit:os",
        ] {
            cases.push((
                "filtered top list",
                spec(&["visitors", "pageviews", "percentage"], &[by], f(), r),
            ));
        }
        for by in ["visit:entry_page", "visit:exit_page"] {
            cases.push((
                "filtered entry or exit pages",
                spec(&["visits", "bounce_rate", "visit_duration"], &[by], f(), r),
            ));
        }
    }
    assert_eq!(run_cases(&app, &data, &cases).await, cases.len());
    // The closed days' answers come from the rollups: with those days'
    // hits and visits gone from the event tier, every answer is the same.
    for table in ["events", "sessions"] {
        let day = if table == "events" {
            "toDate(ts)"
        } else {
            "day"
        };
        db.store()
            .client()
            .query(&format!(
                "ALTER TABLE {table} DELETE WHERE {day} < {{d:Date}} SETTINGS mutations_sync = 1"
            ))
            .param("d", format_day(today - 1))
            .execute()
            .await
            .unwrap();
    }
    assert_eq!(run_cases(&app, &data, &cases).await, cases.len());
    app.shutdown().await;
}

/// A source is the visit's (its landing hit's), as on Plausible's
/// dashboard: no source has more visitors than visits, a visitor with two
/// visits from two sources counts under both (so the sources' visitors add
/// up to at least the total), and filtering by a source selects whole
/// visits: every page those visits saw, not only where they landed.
async fn sources_are_properties_of_visits(app: &tacit::app::Running, d: &Data, r: (i32, i32)) {
    let s = spec(&["visitors", "visits"], &["visit:source"], vec![], r);
    let (status, got, text) = ask(app, Some(KEY), &body(&s).to_string()).await;
    assert_eq!(status, 200, "{text}");
    let rows = got["results"].as_array().unwrap();
    assert!(rows.len() >= 4, "{text}");
    let mut sum = 0;
    for row in rows {
        let (visitors, visits) = (
            row["metrics"][0].as_u64().unwrap(),
            row["metrics"][1].as_u64().unwrap(),
        );
        assert!(visitors > 0 && visitors <= visits, "{row}");
        sum += visitors;
    }
    let s = spec(&["visitors"], &[], vec![], r);
    let (_, got, _) = ask(app, Some(KEY), &body(&s).to_string()).await;
    let total = got["results"][0]["metrics"][0].as_u64().unwrap();
    assert!(total > 0 && sum >= total, "{sum} < {total}");
    // Some visitor-day came twice from different sources: the sum is more.
    assert!(sum > total, "{sum} = {total}: the data has no such visitor");

    // Google's visits, then their pages: the page views of those visits.
    let google =
        |v: &&Visit| (r.0..=r.1).contains(&v.day) && d.hits[v.hits[0]].referrer_source == "Google";
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    let mut landings = 0;
    for v in d.visits.iter().filter(google) {
        landings += 1;
        for &i in &v.hits {
            let h = &d.hits[i];
            if h.name == "pageview" {
                *want.entry(h.pathname.clone()).or_default() += 1;
            }
        }
    }
    let s = spec(
        &["pageviews"],
        &["event:page"],
        vec![c("is", "visit:source", &["Google"])],
        r,
    );
    let (status, got, text) = ask(app, Some(KEY), &body(&s).to_string()).await;
    assert_eq!(status, 200, "{text}");
    let got: BTreeMap<String, u64> = got["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["dimensions"][0].as_str().unwrap().to_string(),
                x["metrics"][0].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want, "pages of Google's visits");
    // More page views than visits: not only the landing pages.
    assert!(want.values().sum::<u64>() > landings, "{want:?}");
}

/// An open day's visits are built from its events (`live_visits`;
/// `sessions` waits for the rollup, and here never ran for today), on both
/// tiers; a day recomputed already keeps its recomputed visits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_days_count_the_live_visits() {
    let db = TestDb::new("query_live");
    let app = start_app(&db, Some(1_000_000)).await;
    let today = tacit::model::clock::day_of(SystemClock.now_ms());
    let data = generate(&[today]);
    let mut ins = db.client().insert::<Hit>("events").await.unwrap();
    for h in &data.hits {
        ins.write(h).await.unwrap();
    }
    ins.end().await.unwrap();
    // Yesterday's visits were recomputed from its events: those count
    // for it.
    let before = generate(&[today - 1]);
    let mut ins = db.client().insert::<Hit>("events").await.unwrap();
    for h in &before.hits {
        ins.write(h).await.unwrap();
    }
    ins.end().await.unwrap();
    tacit::analytics::sessions::sessionize_day(&db.store(), today - 1, 1)
        .await
        .unwrap();
    let yesterday = format_day(today - 1);
    let cases = [
        (json!("day"), data.visits.iter().collect::<Vec<&Visit>>()),
        (
            json!([yesterday, format_day(today)]),
            data.visits.iter().chain(&before.visits).collect(),
        ),
    ];
    for (range, kept) in cases {
        let bounces = kept.iter().filter(|v| v.hits.len() <= 1).count() as f64;
        let want_rate = bounces * 100.0 / kept.len() as f64;
        let b = json!({"site_id": SITE, "metrics": ["visits", "bounce_rate"], "date_range": range});
        let (status, got, text) = ask(&app, Some(KEY), &b.to_string()).await;
        assert_eq!(status, 200, "{text}");
        let m = &got["results"][0]["metrics"];
        assert_eq!(m[0].as_u64(), Some(kept.len() as u64), "{range}: {text}");
        assert!(
            (m[1].as_f64().unwrap() - want_rate).abs() <= 0.5 + 1e-9,
            "{range}: {text} want {want_rate}"
        );
    }
    app.shutdown().await;
}

/// An open day's breakdowns by what a visit row keeps (source, channel,
/// campaign, country, device), with filters on the same, are answered from
/// the live visits alone; each answer is the raw rows' (anonymous hits
/// included: page views, never visitors).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_days_visit_level_breakdowns_are_the_raw_rows() {
    let db = TestDb::new("query_visit_level");
    let app = start_app(&db, Some(1_000_000)).await;
    let today = tacit::model::clock::day_of(SystemClock.now_ms());
    let data = load(&db, &[today]).await;
    let r = (today, today);
    let counts = ["visitors", "pageviews", "events"];
    let all = [
        "visitors",
        "visits",
        "pageviews",
        "events",
        "views_per_visit",
        "bounce_rate",
        "visit_duration",
    ];
    let cases = [
        ("top stats", spec(&all, &[], vec![], r)),
        ("sources", spec(&counts, &["visit:source"], vec![], r)),
        ("channels", spec(&all, &["visit:channel"], vec![], r)),
        (
            "campaigns",
            spec(&counts, &["visit:utm_campaign"], vec![], r),
        ),
        (
            "sources in DE",
            spec(
                &all,
                &["visit:source"],
                vec![c("is", "visit:country", &["DE"])],
                r,
            ),
        ),
        (
            "devices, not from Google",
            spec(
                &counts,
                &["visit:device", "visit:country"],
                vec![F::Not(Box::new(c("is", "visit:source", &["Google"])))],
                r,
            ),
        ),
        (
            "countries, channel contains e",
            spec(
                &all,
                &["visit:country"],
                vec![ci("contains", "visit:channel", &["E"])],
                r,
            ),
        ),
    ];
    assert_eq!(run_cases(&app, &data, &cases).await, cases.len());
    app.shutdown().await;
}

/// Revenue in one currency is summed; in two, refused with the reason
/// (tacit converts none).
async fn revenue_in_two_currencies_is_refused(app: &tacit::app::Running, db: &TestDb, today: i32) {
    let mut h = generate(&[today]).hits[0].clone();
    h.ts = today as i64 * 86_400_000 + 1000;
    (h.name, h.revenue_amount, h.revenue_currency) = ("order".into(), 12_340_000, "USD".into());
    let insert = |h: Hit| async move {
        let mut ins = db.client().insert::<Hit>("events").await.unwrap();
        ins.write(&h).await.unwrap();
        ins.end().await.unwrap();
    };
    insert(h.clone()).await;
    let b = json!({"site_id": SITE, "metrics": ["total_revenue", "average_revenue"], "date_range": "day"}).to_string();
    let (s, got, text) = ask(app, Some(KEY), &b).await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(got["results"][0]["metrics"], json!([12.34, 12.34]));
    h.revenue_currency = "EUR".into();
    insert(h).await;
    let (s, got, _) = ask(app, Some(KEY), &b).await;
    assert_eq!(s, 400);
    assert!(
        got["error"].as_str().unwrap().contains("2 currencies"),
        "{got}"
    );
}

/// Each row's `comparison` holds the compared period's row for the same
/// dimensions (the time bucket at the same position), and the change.
fn check_comparison(name: &str, s: &Spec, then: (i32, i32), got: &Value, d: &Data) {
    let mut old = s.clone();
    (old.from, old.to) = then;
    let want = expect(d, &old);
    let now_days: Vec<String> = (s.from..=s.to).map(format_day).collect();
    let then_days: Vec<String> = (then.0..=then.1).map(format_day).collect();
    let rows = got["results"].as_array().unwrap();
    assert!(!rows.is_empty(), "{name}: {got}");
    for r in rows {
        let dims: Vec<String> = r["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        // The same key in the compared period.
        let key: Vec<String> = s
            .dims
            .iter()
            .zip(&dims)
            .map(|(dim, v)| match *dim {
                "time:day" => {
                    let i = now_days.iter().position(|x| x == v).unwrap();
                    then_days[i].clone()
                }
                _ => v.clone(),
            })
            .collect();
        let c = &r["comparison"];
        let zeros = vec![0.0; s.metrics.len()];
        let w = want.get(&key).unwrap_or(&zeros);
        assert_eq!(c["dimensions"], json!(key), "{name}");
        for (i, m) in s.metrics.iter().enumerate() {
            let (new, was) = (
                r["metrics"][i].as_f64().unwrap(),
                c["metrics"][i].as_f64().unwrap(),
            );
            assert!(
                (was - w[i]).abs() <= slack(m),
                "{name}: {key:?} {m}: {was} vs {}",
                w[i]
            );
            let ch = c["change"][i].as_f64().unwrap();
            let want_ch = match *m {
                "bounce_rate" => new - was,
                _ if was == 0.0 => {
                    if new > 0.0 {
                        100.0
                    } else {
                        0.0
                    }
                }
                _ => ((new - was) / was * 100.0).round(),
            };
            assert!(
                (ch - want_ch).abs() < 1e-9,
                "{name}: {key:?} {m} change {ch} vs {want_ch}"
            );
        }
    }
}

async fn comparisons(app: &tacit::app::Running, d: &Data, today: i32) {
    let cases = [
        (
            "previous day by source",
            spec(
                &["visitors", "visits", "bounce_rate"],
                &["visit:source"],
                vec![],
                (today - 1, today - 1),
            ),
            json!({"mode": "previous_period"}),
            (today - 2, today - 2),
        ),
        (
            "previous two days by day",
            spec(
                &["visitors", "pageviews"],
                &["time:day"],
                vec![],
                (today - 2, today - 1),
            ),
            json!({"mode": "previous_period"}),
            (today - 4, today - 3),
        ),
        (
            "a custom period, filtered",
            spec(
                &["visitors", "events"],
                &["event:page"],
                vec![c("is", "visit:device", &["desktop"])],
                (today - 1, today - 1),
            ),
            json!({"mode": "custom", "date_range": [format_day(today - 3), format_day(today - 3)]}),
            (today - 3, today - 3),
        ),
    ];
    for (name, s, how, then) in cases {
        let mut b = body(&s);
        b["include"] = json!({ "comparisons": how });
        let (status, got, text) = ask(app, Some(KEY), &b.to_string()).await;
        assert_eq!(status, 200, "{name}: {text}");
        check(name, &s, &got, &expect(d, &s));
        check_comparison(name, &s, then, &got, d);
    }
    // A year before: nothing then, so every count is up 100%.
    let s = spec(
        &["visitors", "pageviews"],
        &[],
        vec![],
        (today - 3, today - 1),
    );
    let mut b = body(&s);
    b["include"] = json!({"comparisons": {"mode": "year_over_year"}});
    let (status, got, text) = ask(app, Some(KEY), &b.to_string()).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(got["results"][0]["comparison"]["metrics"], json!([0, 0]));
    assert_eq!(got["results"][0]["comparison"]["change"], json!([100, 100]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_are_refused_naming_the_field() {
    let db = TestDb::new("query_bad");
    let app = start_app(&db, None).await;
    let base = json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "7d"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b.to_string()
    };
    let cases = [
        (with("metrics", json!(["visitors", "nope"])), "metrics[1]"),
        (with("metrics", json!([])), "metrics"),
        (with("date_range", json!("5y")), "date_range"),
        (with("date_range", json!(["2026-02-01", "2026-01-01"])), "date_range"),
        (with("date_range", json!(["2026-02-30", "2026-03-01"])), "date_range[0]"),
        (with("dimensions", json!(["visit:nope"])), "dimensions[0]"),
        (with("dimensions", json!(["visit:city"])), "cities"),
        (with("dimensions", json!(["visit:city_name"])), "cities"),
        (with("dimensions", json!(["visit:country_name"])), "ISO codes"),
        (
            with("filters", json!([["has_done", ["is", "visit:browser", ["Chrome"]]]])),
            "filters[0][1]",
        ),
        (with("dimensions", json!(["visit:visitor_id"])), "visitor ids"),
        (with("dimensions", json!(["event:props:secret"])), "allowed_properties"),
        (
            json!({"site_id": SITE, "metrics": ["visits"], "date_range": "7d", "dimensions": ["event:props:plan"]}).to_string(),
            "cannot be queried along with event dimension",
        ),
        (with("metrics", json!(["conversion_rate"])), "need an event:goal"),
        (
            with("metrics", json!(["visitors", "group_conversion_rate"])),
            "group_conversion_rate needs dimensions",
        ),
        (with("filters", json!([["is", "visit:browser", "Chrome"]])), "filters[0][2]"),
        (with("filters", json!([["starts", "visit:browser", ["C"]]])), "filters[0][0]"),
        (with("filters", json!([["matches", "event:page", ["(unclosed"]]])), "filters[0][2][0]"),
        (with("filters", json!([["matches", "event:page", ["a".repeat(300)]]])), "filters[0][2][0]"),
        (with("filters", json!([["and", [["is", "visit:nope", ["x"]]]]])), "filters[0][1][0][1]"),
        (with("filters", json!([["is", "event:page", ["/"], {"case": true}]])), "filters[0][3].case"),
        (with("pagination", json!({"limit": 10001})), "pagination.limit"),
        (with("pagination", json!({"offset": -1})), "pagination.offset"),
        (with("include", json!({"time_labels": true})), "include.time_labels"),
        (with("order_by", json!([["pageviews", "desc"]])), "order_by[0][0]"),
        (with("unknown", json!(1)), "unknown"),
        (with("include", json!({"comparisons": {"mode": "last_week"}})), "include.comparisons.mode"),
        (with("include", json!({"comparisons": {"mode": "custom"}})), "include.comparisons.date_range"),
        ("{not json".to_string(), "body"),
        (json!({"metrics": ["visitors"], "date_range": "7d"}).to_string(), "site_id"),
        (
            json!({"site_id": SITE, "metrics": ["bounce_rate"], "date_range": "7d", "dimensions": ["event:name"]}).to_string(),
            "cannot be queried along with event dimension",
        ),
        (
            json!({"site_id": SITE, "metrics": ["visits"], "date_range": "7d", "dimensions": ["event:hostname"]}).to_string(),
            "visit metrics by event:hostname",
        ),
        (
            json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "12mo", "filters": [["is", "visit:country", ["DE"]]]}).to_string(),
            "policy.event_ttl_days",
        ),
    ];
    for (body, needle) in &cases {
        let (status, got, text) = ask(&app, Some(KEY), body).await;
        assert_eq!(status, 400, "{body}: {text}");
        let msg = got["error"].as_str().unwrap_or_else(|| panic!("{text}"));
        assert!(
            msg.contains(needle),
            "{body}: {msg:?} should name {needle:?}"
        );
    }
    // Every named range runs; `time` picks its grain, and the labels cover
    // the range.
    for (range, grain, labels) in [
        ("day", "time:hour", 24),
        ("28d", "time:day", 28),
        ("91d", "time:month", 0),
        ("6mo", "time:month", 6),
        ("12mo", "time:month", 12),
        ("year", "time:month", 12),
        ("all", "time:month", 0),
    ] {
        let b = json!({"site_id": SITE, "metrics": ["visitors", "visits"], "date_range": range,
            "dimensions": ["time"], "include": {"time_labels": true}});
        let (status, got, text) = ask(&app, Some(KEY), &b.to_string()).await;
        assert_eq!(status, 200, "{range}: {text}");
        assert_eq!(got["query"]["dimensions"], json!([grain]), "{range}");
        let n = got["meta"]["time_labels"].as_array().unwrap().len();
        assert!(labels == 0 || n == labels, "{range}: {n} labels");
    }
    // Without a filter, a year is answered from the daily aggregates.
    let (status, _, text) = ask(
        &app,
        Some(KEY),
        &json!({"site_id": SITE, "metrics": ["visitors", "bounce_rate"], "date_range": "12mo", "dimensions": ["time:month"]}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_open_their_own_site_only() {
    let db = TestDb::new("query_keys");
    let app = start_app(&db, Some(3)).await;
    let q = |site: &str| {
        json!({"site_id": site, "metrics": ["visitors"], "date_range": "day"}).to_string()
    };
    let (s, got, _) = ask(&app, None, &q(SITE)).await;
    assert_eq!(s, 401, "{got}");
    let (s, _, _) = ask(&app, Some("wrong"), &q(SITE)).await;
    assert_eq!(s, 401);
    let (s, got, _) = ask(&app, Some(OTHER_KEY), &q(SITE)).await;
    assert_eq!(s, 403, "another site's key: {got}");
    let (s, _, _) = ask(&app, Some(KEY), &q("unknown.net")).await;
    assert_eq!(s, 404);
    // Three requests an hour for this key (the 404 took one).
    let (s, _, _) = ask(&app, Some(KEY), &q(SITE)).await;
    assert_eq!(s, 200);
    let (s, _, _) = ask(&app, Some(KEY), &q(SITE)).await;
    assert_eq!(s, 200);
    let (status, headers, _) = post(
        app.admin_addr,
        "/api/v2/query",
        &[("authorization", &format!("Bearer {KEY}"))],
        &q(SITE),
    )
    .await;
    assert_eq!(status, 429);
    assert!(headers.get("retry-after").is_some());
    // The other site's key has its own bucket.
    let (s, _, _) = ask(&app, Some(OTHER_KEY), &q("other.org")).await;
    assert_eq!(s, 200);
    let (s, _, _) = get(app.admin_addr, "/api/v2/query", &[]).await;
    assert_eq!(s, 405);
    let big = format!(
        r#"{{"site_id": "other.org", "x": "{}"}}"#,
        "a".repeat(70_000)
    );
    let (s, _, _) = ask(&app, Some(OTHER_KEY), &big).await;
    assert_eq!(s, 413);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_connections_write_nothing() {
    let db = TestDb::new("query_ro");
    let app = start_app(&db, None).await;
    let ro = tacit::query::run::client(&db.store());
    let n: u64 = ro
        .query("SELECT count() FROM events")
        .fetch_one()
        .await
        .expect("reads");
    assert_eq!(n, 0);
    for stmt in [
        "INSERT INTO events (site, name, ts) VALUES ('example.com', 'pageview', now64(3))",
        "CREATE TABLE query_ro_t (x UInt8) ENGINE = Memory",
        "ALTER TABLE events DELETE WHERE 1",
        "DROP TABLE sessions",
        "SELECT 1 SETTINGS readonly = 0",
    ] {
        assert!(ro.query(stmt).execute().await.is_err(), "{stmt} ran");
    }
    // Nothing changed, by the writer's own connection.
    let n: u64 = db
        .client()
        .query("SELECT count() FROM events")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(n, 0);
    let tables: u64 = db
        .client()
        .query("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name IN ('sessions', 'query_ro_t')")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(tables, 1, "sessions kept, nothing created");
    // The same statements are valid: the writer's connection runs them.
    for stmt in [
        "INSERT INTO events (site, name, ts) VALUES ('example.com', 'pageview', now64(3))",
        "CREATE TABLE query_ro_t (x UInt8) ENGINE = Memory",
    ] {
        db.client().query(stmt).execute().await.unwrap();
    }
    let n: u64 = ro
        .query("SELECT count() FROM events")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(n, 1);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_error_leaves_no_engine_text_in_the_answer() {
    let db = TestDb::new("query_leak");
    let app = start_app(&db, None).await;
    raw_query(
        &db.url,
        &format!("RENAME TABLE `{0}`.events TO `{0}`.events_gone", db.name),
    )
    .await;
    let (status, got, text) = ask(
        &app,
        Some(KEY),
        &json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "day", "dimensions": ["visit:referrer"]}).to_string(),
    )
    .await;
    assert_eq!(status, 503, "{text}");
    assert_eq!(
        got["error"],
        json!("the statistics database is unavailable; try again later")
    );
    for word in ["Code", "Exception", "events", &db.name, "UNKNOWN", "SELECT"] {
        assert!(!text.contains(word), "{word:?} leaked: {text}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_counts_the_visitors_of_the_last_five_minutes() {
    let db = TestDb::new("query_realtime");
    let app = start_app(&db, None).await;
    let now = SystemClock.now_ms();
    let template = generate(&[tacit::model::clock::day_of(now)]).hits[0].clone();
    let at = |ago_s: i64, visitor: u64| Hit {
        ts: now - ago_s * 1000,
        visitor_id: visitor,
        ..template.clone()
    };
    // Two visitors in the last five minutes (one twice), one before, one
    // anonymous hit, and a hit for another site.
    let hits = [
        at(60, 11),
        at(120, 11),
        at(200, 12),
        at(600, 13),
        at(30, 0),
        Hit {
            site: "other.org".into(),
            ..at(30, 14)
        },
    ];
    let mut ins = db.client().insert::<Hit>("events").await.unwrap();
    for h in &hits {
        ins.write(h).await.unwrap();
    }
    ins.end().await.unwrap();
    let auth = format!("Bearer {KEY}");
    let (s, _, b) = get(
        app.admin_addr,
        "/api/v1/stats/realtime/visitors?site_id=example.com",
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    assert_eq!(String::from_utf8_lossy(&b), "2");
    let (s, _, _) = get(
        app.admin_addr,
        "/api/v1/stats/realtime/visitors?site_id=other.org",
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(s, 403);
    let (s, _, _) = get(
        app.admin_addr,
        "/api/v1/stats/realtime/visitors?site_id=example.com",
        &[],
    )
    .await;
    assert_eq!(s, 401);
    app.shutdown().await;
}
