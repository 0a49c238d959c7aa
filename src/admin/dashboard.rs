//! The built-in, read-only dashboard on the admin listener: `/dashboard`
//! (one self-contained page: no external requests) and
//! `/dashboard/data?site=&from=&to=` (JSON). The numbers come from the
//! cookbook's own SQL (docs/queries.md, embedded at build time), so the page
//! shows exactly what an analyst's query returns.

use std::collections::BTreeMap;

use bytes::Bytes;
use hyper::header;
use hyper::StatusCode;

use crate::http::resp::{self, Resp};

const COOKBOOK: &str = include_str!("../../docs/queries.md");
/// The longest range the dashboard shows, in days.
const MAX_DAYS: i32 = 366;
/// Every dashboard query gives up after this many seconds, in the engine.
const QUERY_SECONDS: &str = "10";
const PAGE: &str = include_str!("dashboard.html");

/// The panels and the cookbook query each shows.
const PANELS: &[(&str, u32)] = &[
    ("overview", 1),
    ("daily", 2),
    ("visits", 3),
    ("pages", 4),
    ("entry_pages", 5),
    ("sources", 7),
    ("channels", 8),
    ("countries", 10),
    ("devices", 11),
    ("browsers", 12),
    ("email", 21),
];

/// Cookbook queries by number.
pub fn cookbook() -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    let mut number: Option<u32> = None;
    let mut sql: Option<String> = None;
    for line in COOKBOOK.lines() {
        if let Some(h) = line.strip_prefix("### ") {
            number = h.split_once(". ").and_then(|(n, _)| n.parse().ok());
        } else if line.trim() == "```sql" {
            sql = Some(String::new());
        } else if line.trim() == "```" {
            if let (Some(n), Some(s)) = (number.take(), sql.take()) {
                out.insert(n, s);
            }
        } else if let Some(s) = sql.as_mut() {
            s.push_str(line);
            s.push('\n');
        }
    }
    out
}

fn respond(status: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Resp {
    resp::with(
        resp::body(status, ctype, body),
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
    )
}

fn error(status: StatusCode, msg: &str) -> Resp {
    respond(
        status,
        "application/json",
        serde_json::json!({ "error": msg }).to_string(),
    )
}

pub fn page() -> Resp {
    respond(StatusCode::OK, "text/html; charset=utf-8", PAGE)
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// `GET /dashboard/data`: every panel's rows, or the configured sites.
pub async fn data(store: &crate::store::Store, sites: &[String], query: Option<&str>) -> Resp {
    let mut site = None;
    let mut from = None;
    let mut to = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "site" => site = Some(v.into_owned()),
            "from" => from = Some(v.into_owned()),
            "to" => to = Some(v.into_owned()),
            _ => {}
        }
    }
    let (Some(site), Some(from), Some(to)) = (site, from, to) else {
        return respond(
            StatusCode::OK,
            "application/json",
            serde_json::json!({ "sites": sites }).to_string(),
        );
    };
    if !sites.contains(&site) {
        return error(StatusCode::NOT_FOUND, "unknown site");
    }
    let (Ok(a), Ok(b)) = (
        from.parse::<jiff::civil::Date>(),
        to.parse::<jiff::civil::Date>(),
    ) else {
        return error(StatusCode::BAD_REQUEST, "from and to must be YYYY-MM-DD");
    };
    if !is_date(&from) || !is_date(&to) || b < a {
        return error(
            StatusCode::BAD_REQUEST,
            "from and to must be YYYY-MM-DD, from <= to",
        );
    }
    if (b - a).get_days() > MAX_DAYS {
        return error(StatusCode::BAD_REQUEST, "the range is at most 366 days");
    }
    let client = store
        .client()
        .clone()
        .with_setting("output_format_json_quote_64bit_integers", "0")
        .with_setting("max_execution_time", QUERY_SECONDS);
    let queries = cookbook();
    let mut out = serde_json::Map::new();
    for (name, n) in PANELS {
        let Some(sql) = queries.get(n) else {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "cookbook query missing");
        };
        let result = async {
            client
                .query(sql)
                .param("site", &site)
                .param("from", &from)
                .param("to", &to)
                .fetch_bytes("JSON")?
                .collect()
                .await
        }
        .await;
        match result.map(|b| serde_json::from_slice::<serde_json::Value>(&b)) {
            Ok(Ok(v)) => {
                out.insert(name.to_string(), v["data"].clone());
            }
            Ok(Err(_)) | Err(_) => {
                tracing::warn!(panel = name, "dashboard query failed");
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "query failed; is ClickHouse reachable?",
                );
            }
        }
    }
    respond(
        StatusCode::OK,
        "application/json",
        serde_json::Value::Object(out).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_panel_has_its_cookbook_query() {
        let q = cookbook();
        for (name, n) in PANELS {
            assert!(
                q.get(n).is_some_and(|s| s.contains("{site:String}")),
                "{name}: query {n}"
            );
        }
        assert!(is_date("2026-11-27") && !is_date("2026-11-2x") && !is_date("27.11.2026"));
    }
}
