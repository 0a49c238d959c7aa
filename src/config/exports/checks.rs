//! The check of each field of an `[[exports]]` entry: every refusal
//! names the export and the field.

use super::{err, Dimension, Dp, Field, Granularity, Metric, RawExport, SpecError, MAX_DIMENSIONS};

/// Names that identify a person or a request, refused with their own reason.
const IDENTIFIERS: &[(&str, &str)] = &[
    ("visitor_id", "a visitor identifier"),
    ("visitor", "a visitor identifier"),
    ("session_id", "a session identifier"),
    ("session", "a session identifier"),
    ("user_id", "a user identifier"),
    ("ip", "an IP address"),
    ("ip_address", "an IP address"),
    ("ip_prefix", "an IP network (a truncated IP is still an IP)"),
    ("client_ip", "an IP address"),
    ("user_agent", "the raw user agent"),
    ("url", "a full URL"),
    ("page_url", "a full URL"),
    ("full_url", "a full URL"),
    ("referrer", "a full referrer URL"),
    ("referrer_url", "a full referrer URL"),
    ("referrer_host", "a referrer host (use referrer_source)"),
    ("query", "a query string"),
    ("query_string", "a query string"),
    ("ts", "an exact timestamp (use date, week or month)"),
    ("timestamp", "an exact timestamp (use date, week or month)"),
];
/// `x` in millionths, if it has at most six decimals.
fn micros(x: f64) -> Option<u64> {
    let m = (x * 1e6).round();
    ((m / 1e6 - x).abs() <= 1e-9 * x.abs().max(1.0) && m >= 0.0).then_some(m as u64)
}
fn slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}
/// Which export a check is about: every error names it and the field.
#[derive(Clone, Copy)]
pub(super) struct At<'a> {
    pub(super) index: usize,
    pub(super) name: &'a str,
}

impl At<'_> {
    pub(super) fn err(self, field: &str, reason: impl Into<String>) -> SpecError {
        err(self.index, self.name, field, reason)
    }
}
/// `name`, `partner`, `sites` and `min_visitors`.
pub(super) fn names_and_sites(at: At, r: &RawExport, sites: &[String]) -> Result<(), SpecError> {
    if !slug(at.name) {
        return Err(at.err("name", "must be 1-64 of a-z, 0-9, - and _"));
    }
    if !slug(&r.partner) {
        return Err(at.err("partner", "must be 1-64 of a-z, 0-9, - and _"));
    }
    if r.sites.is_empty() {
        return Err(at.err("sites", "must list at least one configured site"));
    }
    for s in &r.sites {
        if !sites.iter().any(|x| x == s) {
            return Err(at.err("sites", format!("{s:?} is not a configured site")));
        }
    }
    if r.min_visitors < 2 {
        return Err(at.err(
            "min_visitors",
            format!(
                "must be at least 2 (got {}): a cell of one visitor describes that person",
                r.min_visitors
            ),
        ));
    }
    Ok(())
}

/// `dimensions`: known, never an identifier, city and properties only when
/// allowed, each once, at most [`MAX_DIMENSIONS`].
pub(super) fn dimensions(at: At, r: &RawExport) -> Result<Vec<Dimension>, SpecError> {
    let mut dims: Vec<Dimension> = Vec::new();
    for d in &r.dimensions {
        let d = d.trim();
        if let Some((_, why)) = IDENTIFIERS.iter().find(|(id, _)| *id == d) {
            return Err(at.err(
                "dimensions",
                format!("{d:?} is {why} and can never be exported"),
            ));
        }
        let Some(dim) = Dimension::parse(d) else {
            return Err(at.err(
                "dimensions",
                format!(
                    "unknown dimension {d:?}; expected one of {}, or prop:<key>",
                    Field::names()
                ),
            ));
        };
        match &dim {
            Dimension::Field(Field::City) if !r.allow_city || r.min_visitors < 50 => {
                return Err(at.err(
                    "dimensions",
                    "\"city\" needs allow_city = true and min_visitors >= 50",
                ));
            }
            Dimension::Prop(key) if !r.allowed_properties.iter().any(|p| p == key) => {
                return Err(at.err(
                    "dimensions",
                    format!("custom property {key:?} is not in allowed_properties; property values can carry personal data"),
                ));
            }
            _ => {}
        }
        if dims.contains(&dim) {
            return Err(at.err("dimensions", format!("{d:?} listed twice")));
        }
        dims.push(dim);
    }
    if dims.len() > MAX_DIMENSIONS {
        return Err(at.err(
            "dimensions",
            format!(
                "at most {MAX_DIMENSIONS} dimensions (got {}): suppression is checked against every coarser breakdown",
                dims.len()
            ),
        ));
    }
    Ok(dims)
}

/// `metrics`: at least one, each known and listed once.
pub(super) fn metrics(at: At, r: &RawExport) -> Result<Vec<Metric>, SpecError> {
    if r.metrics.is_empty() {
        return Err(at.err("metrics", "must list at least one metric"));
    }
    let mut metrics: Vec<Metric> = Vec::new();
    for m in &r.metrics {
        let Some(metric) = Metric::parse(m) else {
            return Err(at.err(
                "metrics",
                format!("unknown metric {m:?}; expected one of {}", Metric::names()),
            ));
        };
        if metrics.contains(&metric) {
            return Err(at.err("metrics", format!("{m:?} listed twice")));
        }
        metrics.push(metric);
    }
    Ok(metrics)
}

/// `period`, and the time dimensions it allows (none finer than a release
/// can hold).
pub(super) fn period(at: At, r: &RawExport, dims: &[Dimension]) -> Result<Granularity, SpecError> {
    let Some(period) = Granularity::parse(&r.period) else {
        return Err(at.err(
            "period",
            format!(
                "expected one of {}, got {:?}",
                Granularity::names(),
                r.period
            ),
        ));
    };
    if period == Granularity::Day
        && dims
            .iter()
            .any(|d| matches!(d, Dimension::Field(Field::Week | Field::Month)))
    {
        return Err(at.err(
            "dimensions",
            "a daily release cannot break down by week or month",
        ));
    }
    if period == Granularity::Week && dims.contains(&Dimension::Field(Field::Month)) {
        return Err(at.err("dimensions", "a weekly release cannot break down by month"));
    }
    Ok(period)
}

/// `sensitivity` (no longer set), `budget_account`, and differential
/// privacy: `epsilon` and `budget` together, counts only, exact in
/// millionths, each visitor's contribution bounded.
pub(super) fn noise(at: At, r: &RawExport, metrics: &[Metric]) -> Result<Option<Dp>, SpecError> {
    if r.sensitivity.is_some() {
        return Err(at.err(
            "sensitivity",
            "is no longer set by hand: tacit derives it from the release (days and cells one visitor can touch); bound each visitor's contribution with max_events_per_cell and max_cells_per_day instead",
        ));
    }
    if let Some(a) = &r.budget_account {
        if !slug(a) {
            return Err(at.err("budget_account", "must be 1-64 of a-z, 0-9, - and _"));
        }
    }
    let (e, b) = match (r.epsilon, r.budget) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(at.err(
                "budget",
                "epsilon is set without a budget; set the partner's monthly epsilon budget",
            ))
        }
        (None, Some(_)) => return Err(at.err("epsilon", "budget is set without an epsilon")),
        (Some(e), Some(b)) => (e, b),
    };
    if !(e.is_finite() && e > 0.0 && e <= 10.0) {
        return Err(at.err("epsilon", format!("must be in (0, 10], got {e}")));
    }
    if !(b.is_finite() && b >= e) {
        return Err(at.err("budget", format!("must be at least epsilon ({e}), got {b}")));
    }
    if let Some(m) = metrics.iter().find(|m| !m.is_count()) {
        return Err(at.err(
            "metrics",
            format!("{m:?} is a ratio; with epsilon set only counts (visitors, visits, pageviews, events) can be released"),
        ));
    }
    let (Some(em), Some(bm)) = (micros(e), micros(b)) else {
        let (field, v) = if micros(e).is_none() {
            ("epsilon", e)
        } else {
            ("budget", b)
        };
        return Err(at.err(
            field,
            format!("at most six decimals (got {v}): privacy accounting is exact in millionths"),
        ));
    };
    if r.max_events_per_cell == 0 || r.max_events_per_cell > 1000 {
        return Err(at.err(
            "max_events_per_cell",
            format!("must be between 1 and 1000, got {}", r.max_events_per_cell),
        ));
    }
    if r.max_cells_per_day == 0 || r.max_cells_per_day > 100 {
        return Err(at.err(
            "max_cells_per_day",
            format!("must be between 1 and 100, got {}", r.max_cells_per_day),
        ));
    }
    Ok(Some(Dp {
        epsilon: e,
        budget: b,
        epsilon_micros: em,
        budget_micros: bm,
        max_events_per_cell: r.max_events_per_cell,
        max_cells_per_day: r.max_cells_per_day,
    }))
}

/// `token_sha256` (hashes, never tokens) and `rate_limit_per_minute`.
pub(super) fn access(at: At, r: &RawExport) -> Result<Vec<[u8; 32]>, SpecError> {
    let mut tokens = Vec::new();
    for (j, t) in r.token_sha256.iter().enumerate() {
        let h = hex32(&t.to_ascii_lowercase()).ok_or_else(|| {
            at.err(
                &format!("token_sha256[{j}]"),
                "must be 64 hex digits: the SHA-256 of the token, never the token itself",
            )
        })?;
        tokens.push(h);
    }
    if r.rate_limit_per_minute == 0 {
        return Err(at.err("rate_limit_per_minute", "must be at least 1"));
    }
    Ok(tokens)
}

/// `protection`: the complementary-suppression threshold, k by default,
/// between k/2 and 10k.
pub(super) fn protection(at: At, r: &RawExport) -> Result<u64, SpecError> {
    match r.protection {
        None => Ok(r.min_visitors),
        Some(p) if p * 2 >= r.min_visitors && p <= r.min_visitors * 10 => Ok(p),
        Some(_) => Err(at.err(
            "protection",
            format!(
                "must be between k/2 and 10k ({} to {})",
                r.min_visitors.div_ceil(2),
                r.min_visitors * 10
            ),
        )),
    }
}
