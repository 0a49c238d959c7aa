//! Umami's read API over the same query core: `GET
//! /api/websites/:id/stats`, `/metrics?type=`, `/pageviews` and
//! `/active`, with Umami's parameter names (`startAt`/`endAt` in ms,
//! `unit`, `timezone`, `compare`, `type`, `limit`, `offset`, and the
//! filters `url`/`path`, `referrer`, `host`, `os`, `browser`, `device`,
//! `country`, `region`, `city`, `event`, each `value` or Umami's
//! `eq.`/`neq.`/`c.`/`dnc.` prefixed form) and its answers' shapes. Each
//! request becomes a Stats API v2 query (so the same tiers, validation
//! and limits apply) and its answer is reshaped.
//!
//! Two data-preserving adjustments: a start before the aggregate tier's
//! oldest day starts there, and an end at or after now ends with today
//! (no hit is stamped later), so `startAt=0&endAt=<now>` reads whole UTC
//! days and is answered from the daily aggregates.

use serde_json::{json, Map, Value};

use super::{invalid, parse, run, Context, Metric, Query, QueryError, MS_PER_DAY};
use crate::store::Store;

/// One of the four endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Stats,
    Metrics,
    Pageviews,
    Active,
}

/// `/api/websites/{id}/{endpoint}`: the id and the endpoint.
pub fn route(path: &str) -> Option<(String, Endpoint)> {
    let rest = path.strip_prefix("/api/websites/")?;
    let (id, what) = rest.split_once('/')?;
    let e = match what.trim_end_matches('/') {
        "stats" => Endpoint::Stats,
        "metrics" => Endpoint::Metrics,
        "pageviews" => Endpoint::Pageviews,
        "active" => Endpoint::Active,
        _ => return None,
    };
    (!id.is_empty()).then(|| (id.to_ascii_lowercase(), e))
}

/// The request's parameters.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str())
    }

    fn ms(&self, k: &str) -> Result<i64, QueryError> {
        let v = self
            .get(k)
            .ok_or_else(|| invalid(k, "required: ms since the epoch"))?;
        v.trim()
            .parse::<i64>()
            .map_err(|_| invalid(k, format!("ms since the epoch, got {v:?}")))
    }

    fn count(&self, k: &str, default: u64) -> Result<u64, QueryError> {
        match self.get(k) {
            None | Some("") => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| invalid(k, format!("a whole number, got {v:?}"))),
        }
    }
}

/// Umami's filter parameters and the dimension each one filters.
const FILTERS: &[(&str, &str)] = &[
    ("url", "event:page"),
    ("path", "event:page"),
    ("referrer", "visit:referrer"),
    ("host", "event:hostname"),
    ("hostname", "event:hostname"),
    ("os", "visit:os"),
    ("browser", "visit:browser"),
    ("device", "visit:device"),
    ("country", "visit:country"),
    ("region", "visit:region"),
    ("city", "visit:city"),
    ("event", "event:name"),
];

/// What tacit does not store, by Umami's parameter name.
fn not_stored(k: &str) -> Option<&'static str> {
    Some(match k {
        "title" => "tacit does not store page titles",
        "query" => "tacit stores only allow-listed query parameters (policy.query_params), not query strings",
        "tag" => "tacit has no tags",
        "language" => "the query API has no language dimension (analytics_technology_daily has it)",
        "segment" | "cohort" => "tacit has no saved segments or cohorts",
        _ => return None,
    })
}

/// The filters a request names, in Plausible's form.
fn filters(p: &Params) -> Result<Vec<Value>, QueryError> {
    let mut out = Vec::new();
    for (k, v) in &p.0 {
        if let Some(why) = not_stored(k) {
            return Err(QueryError::Unsupported(format!("{k}: {why}")));
        }
        let Some((_, dim)) = FILTERS.iter().find(|(n, _)| n == k) else {
            continue;
        };
        let (op, value) = match v.split_once('.') {
            Some(("eq", x)) => ("is", x),
            Some(("neq", x)) => ("is_not", x),
            Some(("c", x)) => ("contains", x),
            Some(("dnc", x)) => ("contains_not", x),
            _ => ("is", v.as_str()),
        };
        out.push(json!([op, dim, [value]]));
    }
    Ok(out)
}

/// `[startAt, endAt]` as a `date_range`: whole UTC days when both ends
/// fall on day boundaries, else the exact span (to the second).
fn date_range(start: i64, end: i64) -> Value {
    let day = |ms: i64| crate::model::clock::format_day(crate::model::clock::day_of(ms));
    if start.rem_euclid(MS_PER_DAY) == 0 && (end + 1).rem_euclid(MS_PER_DAY) == 0 {
        return json!([day(start), day(end)]);
    }
    let iso = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    json!([iso(start), iso(end)])
}

/// A range of ms since the epoch, both ends included.
type Ms = (i64, i64);

/// The request's range, adjusted (see the module doc), and the range it
/// is compared with (`compare=prev`, the default, or `yoy`).
fn ranges(p: &Params, ctx: &Context) -> Result<(Ms, Ms), QueryError> {
    let (start, end) = (p.ms("startAt")?, p.ms("endAt")?);
    if end < start {
        return Err(invalid("endAt", "before startAt"));
    }
    if let Some(tz) = p.get("timezone") {
        if !matches!(tz, "" | "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT") {
            return Err(QueryError::Unsupported(format!(
                "timezone: tacit counts UTC days and hours; ask with timezone=UTC (got {tz:?})"
            )));
        }
    }
    let start = start.max(ctx.history_start() as i64 * MS_PER_DAY);
    let end = if end >= ctx.now_ms {
        (ctx.today as i64 + 1) * MS_PER_DAY - 1
    } else {
        end
    };
    let end = end.max(start);
    let then = match p.get("compare").unwrap_or("prev") {
        "prev" => {
            let len = end - start + 1;
            (start - len, end - len)
        }
        "yoy" => {
            let back = |ms: i64| {
                jiff::Timestamp::from_millisecond(ms)
                    .ok()
                    .and_then(|t| {
                        t.to_zoned(jiff::tz::TimeZone::UTC)
                            .checked_sub(jiff::Span::new().years(1))
                            .ok()
                    })
                    .map_or(ms - 365 * MS_PER_DAY, |z| z.timestamp().as_millisecond())
            };
            (back(start), back(end))
        }
        c => return Err(invalid("compare", format!("prev or yoy, got {c:?}"))),
    };
    Ok(((start, end), then))
}

/// A Stats API v2 query for this site and range.
fn query(
    site: &str,
    range: (i64, i64),
    metrics: &[&str],
    dims: &[&str],
    filters: &[Value],
    ctx: &Context,
) -> Result<Query, QueryError> {
    let body = json!({
        "site_id": site,
        "metrics": metrics,
        "date_range": date_range(range.0, range.1),
        "dimensions": dims,
        "filters": filters,
    });
    parse(body.to_string().as_bytes(), ctx)
}

fn metrics_of(row: &Value) -> Vec<Value> {
    row.get("metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn results(v: &Value) -> Vec<Value> {
    v.get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

const STATS: [&str; 5] = ["pageviews", "visitors", "visits", "bounces", "totaltime"];

/// `/stats`: `{pageviews, visitors, visits, bounces, totaltime,
/// comparison: {…the same for the compared range}}`.
pub async fn stats(
    store: &Store,
    site: &str,
    p: &Params,
    ctx: &Context,
) -> Result<Value, QueryError> {
    let (now, then) = ranges(p, ctx)?;
    let f = filters(p)?;
    let mut out = Map::new();
    let mut comparison = Map::new();
    for (range, into) in [(now, &mut out), (then, &mut comparison)] {
        let mut q = query(
            site,
            range,
            &["pageviews", "visitors", "visits"],
            &[],
            &f,
            ctx,
        )?;
        q.metrics.extend([Metric::Bounces, Metric::TotalTime]);
        let r = run::run(store, &q, ctx).await?;
        let m = results(&r).first().map(metrics_of).unwrap_or_default();
        for (i, name) in STATS.iter().enumerate() {
            into.insert((*name).into(), m.get(i).cloned().unwrap_or(json!(0)));
        }
    }
    out.insert("comparison".into(), Value::Object(comparison));
    Ok(Value::Object(out))
}

/// `/metrics?type=`: `[{x, y}]`, the top values of one dimension by
/// visitors (visits for entry and exit pages, events for event names),
/// `limit` (500) from `offset`.
pub async fn metrics(
    store: &Store,
    site: &str,
    p: &Params,
    ctx: &Context,
) -> Result<Value, QueryError> {
    let (range, _) = ranges(p, ctx)?;
    let mut f = filters(p)?;
    let kind = p.get("type").unwrap_or("");
    let (dim, metric) = match kind {
        "url" | "path" => ("event:page", "visitors"),
        "entry" => ("visit:entry_page", "visits"),
        "exit" => ("visit:exit_page", "visits"),
        "referrer" => ("visit:referrer", "visitors"),
        "host" | "hostname" => ("event:hostname", "visitors"),
        "channel" => ("visit:channel", "visitors"),
        "browser" => ("visit:browser", "visitors"),
        "os" => ("visit:os", "visitors"),
        "device" => ("visit:device", "visitors"),
        "screen" => ("visit:screen", "visitors"),
        "country" => ("visit:country", "visitors"),
        "region" => ("visit:region", "visitors"),
        "city" => ("visit:city", "visitors"),
        "event" => ("event:name", "events"),
        k if not_stored(k).is_some() => {
            return Err(QueryError::Unsupported(format!(
                "type: {k}: {}",
                not_stored(k).unwrap_or_default()
            )))
        }
        k => {
            return Err(invalid(
                "type",
                format!("url, path, entry, exit, referrer, host, channel, browser, os, device, screen, country, region, city or event, got {k:?}"),
            ))
        }
    };
    // As Umami: referrers without the direct visits, events without the
    // page views.
    match kind {
        "referrer" => f.push(json!(["is_not", "visit:referrer", [""]])),
        "event" => f.push(json!(["is_not", "event:name", ["pageview"]])),
        _ => {}
    }
    let mut q = query(site, range, &[metric], &[dim], &f, ctx)?;
    q.limit = p.count("limit", 500)?.clamp(1, super::request::MAX_LIMIT);
    q.offset = p.count("offset", 0)?.min(1_000_000);
    let r = run::run(store, &q, ctx).await?;
    Ok(Value::Array(
        results(&r)
            .iter()
            .map(|row| {
                json!({
                    "x": row["dimensions"][0],
                    "y": metrics_of(row).first().cloned().unwrap_or(json!(0)),
                })
            })
            .collect(),
    ))
}

/// `/pageviews`: `{pageviews: [{x, y}], sessions: [{x, y}]}` per `unit`
/// (`x` is the bucket's start, `YYYY-MM-DD HH:MM:SS`, UTC; sessions are
/// visitors); with `compare`, also `startDate`, `endDate` and `compare`
/// holding the same for the compared range.
pub async fn pageviews(
    store: &Store,
    site: &str,
    p: &Params,
    ctx: &Context,
) -> Result<Value, QueryError> {
    let (now, then) = ranges(p, ctx)?;
    let f = filters(p)?;
    let hours = (now.1 - now.0) / 3_600_000;
    let unit = match p.get("unit") {
        Some("minute") => "time:minute",
        Some("hour") => "time:hour",
        Some("day") => "time:day",
        Some("month") => "time:month",
        Some("year") => {
            return Err(QueryError::Unsupported(
                "unit: year is not a bucket tacit keeps; use month".into(),
            ))
        }
        Some(u) if !u.is_empty() => {
            return Err(invalid(
                "unit",
                format!("minute, hour, day or month, got {u:?}"),
            ))
        }
        _ if hours < 2 => "time:minute",
        _ if hours <= 48 => "time:hour",
        _ if hours <= 92 * 24 => "time:day",
        _ => "time:month",
    };
    let mut series = Vec::new();
    for range in [now, then] {
        let q = query(site, range, &["pageviews", "visitors"], &[unit], &f, ctx)?;
        let r = run::run(store, &q, ctx).await?;
        let (mut views, mut visitors) = (Vec::new(), Vec::new());
        for row in results(&r) {
            let x = row["dimensions"][0].as_str().unwrap_or_default();
            let x = if x.len() == 10 {
                format!("{x} 00:00:00")
            } else {
                x.to_string()
            };
            let m = metrics_of(&row);
            views.push(json!({"x": x, "y": m.first().cloned().unwrap_or(json!(0))}));
            visitors.push(json!({"x": x, "y": m.get(1).cloned().unwrap_or(json!(0))}));
        }
        series.push((views, visitors));
        if p.get("compare").is_none() {
            break;
        }
    }
    let iso = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    let mut it = series.into_iter();
    let (views, visitors) = it.next().unwrap_or_default();
    let mut out = json!({"pageviews": views, "sessions": visitors});
    if let Some((v, s)) = it.next() {
        out["startDate"] = json!(iso(now.0));
        out["endDate"] = json!(iso(now.1));
        out["compare"] = json!({"pageviews": v, "sessions": s, "startDate": iso(then.0), "endDate": iso(then.1)});
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_ranges() {
        assert_eq!(
            route("/api/websites/Example.com/metrics"),
            Some(("example.com".into(), Endpoint::Metrics))
        );
        assert_eq!(route("/api/websites//stats"), None);
        assert_eq!(route("/api/websites/x/reports"), None);
        assert_eq!(
            date_range(20_000 * MS_PER_DAY, 20_002 * MS_PER_DAY - 1),
            json!(["2024-10-04", "2024-10-05"])
        );
        assert_eq!(
            date_range(20_000 * MS_PER_DAY + 1000, 20_000 * MS_PER_DAY + 60_000),
            json!(["2024-10-04T00:00:01Z", "2024-10-04T00:01:00Z"])
        );
        let p = Params::parse(Some("url=c./blog&browser=neq.Chrome&country=DE&unit=day"));
        assert_eq!(
            filters(&p).unwrap(),
            vec![
                json!(["contains", "event:page", ["/blog"]]),
                json!(["is_not", "visit:browser", ["Chrome"]]),
                json!(["is", "visit:country", ["DE"]]),
            ]
        );
        assert!(matches!(
            filters(&Params::parse(Some("title=Home"))),
            Err(QueryError::Unsupported(_))
        ));
    }
}
