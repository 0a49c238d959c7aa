//! Export definitions: the `[[exports]]` tables of `tacit.toml`, and their
//! pure validation into an [`ExportSpec`]. Validation refuses anything that
//! could identify a person (identifiers, IPs, full URLs, query strings,
//! free-form property values), weak thresholds, and differential privacy
//! without a budget; every error names the export and the field.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::model::export::{
    Dimension, Field, Format, Granularity, Metric, Source, MAX_DIMENSIONS,
};

/// A refused `[[exports]]` entry: which export, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("exports[{index}] ({name}).{field}: {reason}")]
pub struct SpecError {
    pub index: usize,
    pub name: String,
    pub field: String,
    pub reason: String,
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    /// Export name, unique per partner.
    pub name: String,
    pub partner: String,
    pub sites: Vec<String>,
    pub dimensions: Vec<String>,
    pub metrics: Vec<String>,
    /// Release period: "month" (default), "week" or "day".
    #[serde(default = "default_period")]
    pub period: String,
    #[serde(default = "default_k")]
    pub min_visitors: u64,
    #[serde(default)]
    pub round_to: Option<u64>,
    /// How wide (in visitors) the interval a partner can narrow a withheld
    /// small cell to must stay, across everything it received; default k,
    /// never below k/2.
    #[serde(default)]
    pub protection: Option<u64>,
    #[serde(default)]
    pub epsilon: Option<f64>,
    /// Epsilon per partner per calendar month.
    #[serde(default)]
    pub budget: Option<f64>,
    /// How much one visitor can change one count (L1 sensitivity per cell).
    #[serde(default = "default_sensitivity")]
    pub sensitivity: u64,
    #[serde(default = "default_format")]
    pub format: String,
    /// Add a total row computed over the released cells only.
    #[serde(default)]
    pub totals: bool,
    /// `city` may be a dimension only with this set and k >= 50.
    #[serde(default)]
    pub allow_city: bool,
    /// Custom property keys whose values may be exported (`prop:<key>`).
    #[serde(default)]
    pub allowed_properties: Vec<String>,
    /// SHA-256 (hex) of the bearer tokens that may fetch this export.
    #[serde(default)]
    pub token_sha256: Vec<String>,
    #[serde(default = "default_rate")]
    pub rate_limit_per_minute: u32,
}

fn default_period() -> String {
    "month".into()
}
fn default_k() -> u64 {
    10
}
fn default_sensitivity() -> u64 {
    1
}
fn default_format() -> String {
    "csv".into()
}
fn default_rate() -> u32 {
    10
}

/// Differential privacy settings of an export.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dp {
    pub epsilon: f64,
    pub budget: f64,
    pub sensitivity: u64,
}

/// A validated export definition.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSpec {
    pub name: String,
    pub partner: String,
    pub sites: Vec<String>,
    pub dimensions: Vec<Dimension>,
    pub metrics: Vec<Metric>,
    /// Web (events) or email (opens and clicks); from the dimensions.
    #[serde(skip)]
    pub source: Source,
    pub period: Granularity,
    pub min_visitors: u64,
    pub round_to: Option<u64>,
    /// Protection level of the linked audit (visitors).
    pub protection: u64,
    pub dp: Option<Dp>,
    pub format: Format,
    pub totals: bool,
    /// SHA-256 digests of the accepted bearer tokens (configured as hex).
    #[serde(skip)]
    pub token_sha256: Vec<[u8; 32]>,
    #[serde(skip)]
    pub rate_limit_per_minute: u32,
    /// SHA-256 of what the export releases (not of who may fetch it).
    pub config_hash: String,
    /// The finest dimensions across this partner's exports (the atoms of
    /// the linked audit), set once every export is validated.
    #[serde(skip)]
    pub finest: Vec<Dimension>,
}

/// At most this many distinct non-time dimensions across one partner's
/// exports: the linked audit works on their combinations.
pub const MAX_LINKED_DIMENSIONS: usize = 4;

pub(super) fn err(i: usize, name: &str, field: &str, reason: impl Into<String>) -> SpecError {
    SpecError {
        index: i,
        name: name.to_string(),
        field: field.to_string(),
        reason: reason.into(),
    }
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

/// Validate every export against the configured sites.
pub fn validate_all(raw: &[RawExport], sites: &[String]) -> Result<Vec<ExportSpec>, SpecError> {
    let mut out: Vec<ExportSpec> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let spec = validate(i, r, sites)?;
        if out
            .iter()
            .any(|o| o.partner == spec.partner && o.name == spec.name)
        {
            return Err(err(
                i,
                &r.name,
                "name",
                format!("duplicate export name for partner {:?}", r.partner),
            ));
        }
        if let Some(dp) = spec.dp {
            if let Some(other) = out
                .iter()
                .find(|o| o.partner == spec.partner && o.dp.is_some_and(|d| d.budget != dp.budget))
            {
                return Err(err(
                    i,
                    &r.name,
                    "budget",
                    format!(
                        "partner {:?} already has a monthly budget of {} (export {:?}); the budget is per partner",
                        spec.partner,
                        other.dp.unwrap().budget,
                        other.name
                    ),
                ));
            }
        }
        out.push(spec);
    }
    super::partners::link(&mut out)?;
    Ok(out)
}

fn validate(i: usize, r: &RawExport, sites: &[String]) -> Result<ExportSpec, SpecError> {
    let n = r.name.as_str();
    if !slug(n) {
        return Err(err(i, n, "name", "must be 1-64 of a-z, 0-9, - and _"));
    }
    if !slug(&r.partner) {
        return Err(err(i, n, "partner", "must be 1-64 of a-z, 0-9, - and _"));
    }
    if r.sites.is_empty() {
        return Err(err(i, n, "sites", "must list at least one configured site"));
    }
    for s in &r.sites {
        if !sites.iter().any(|x| x == s) {
            return Err(err(
                i,
                n,
                "sites",
                format!("{s:?} is not a configured site"),
            ));
        }
    }
    if r.min_visitors < 2 {
        return Err(err(
            i,
            n,
            "min_visitors",
            format!(
                "must be at least 2 (got {}): a cell of one visitor describes that person",
                r.min_visitors
            ),
        ));
    }
    let mut dims: Vec<Dimension> = Vec::new();
    for d in &r.dimensions {
        let d = d.trim();
        if let Some((_, why)) = IDENTIFIERS.iter().find(|(id, _)| *id == d) {
            return Err(err(
                i,
                n,
                "dimensions",
                format!("{d:?} is {why} and can never be exported"),
            ));
        }
        let Some(dim) = Dimension::parse(d) else {
            return Err(err(
                i,
                n,
                "dimensions",
                format!(
                    "unknown dimension {d:?}; expected one of {}, or prop:<key>",
                    Field::names()
                ),
            ));
        };
        match &dim {
            Dimension::Field(Field::City) if !r.allow_city || r.min_visitors < 50 => {
                return Err(err(
                    i,
                    n,
                    "dimensions",
                    "\"city\" needs allow_city = true and min_visitors >= 50",
                ));
            }
            Dimension::Prop(key) if !r.allowed_properties.iter().any(|p| p == key) => {
                return Err(err(
                    i,
                    n,
                    "dimensions",
                    format!("custom property {key:?} is not in allowed_properties; property values can carry personal data"),
                ));
            }
            _ => {}
        }
        if dims.contains(&dim) {
            return Err(err(i, n, "dimensions", format!("{d:?} listed twice")));
        }
        dims.push(dim);
    }
    if dims.len() > MAX_DIMENSIONS {
        return Err(err(
            i,
            n,
            "dimensions",
            format!(
                "at most {MAX_DIMENSIONS} dimensions (got {}): suppression is checked against every coarser breakdown",
                dims.len()
            ),
        ));
    }
    if r.metrics.is_empty() {
        return Err(err(i, n, "metrics", "must list at least one metric"));
    }
    let mut metrics: Vec<Metric> = Vec::new();
    for m in &r.metrics {
        let Some(metric) = Metric::parse(m) else {
            return Err(err(
                i,
                n,
                "metrics",
                format!("unknown metric {m:?}; expected one of {}", Metric::names()),
            ));
        };
        if metrics.contains(&metric) {
            return Err(err(i, n, "metrics", format!("{m:?} listed twice")));
        }
        metrics.push(metric);
    }
    let source = super::partners::check_source(i, n, &dims, &metrics)?;
    let Some(period) = Granularity::parse(&r.period) else {
        return Err(err(
            i,
            n,
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
        return Err(err(
            i,
            n,
            "dimensions",
            "a daily release cannot break down by week or month",
        ));
    }
    if period == Granularity::Week && dims.contains(&Dimension::Field(Field::Month)) {
        return Err(err(
            i,
            n,
            "dimensions",
            "a weekly release cannot break down by month",
        ));
    }
    if r.round_to == Some(0) {
        return Err(err(i, n, "round_to", "must be at least 1"));
    }
    let dp = match (r.epsilon, r.budget) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(err(
                i,
                n,
                "budget",
                "epsilon is set without a budget; set the partner's monthly epsilon budget",
            ))
        }
        (None, Some(_)) => return Err(err(i, n, "epsilon", "budget is set without an epsilon")),
        (Some(e), Some(b)) => {
            if !(e.is_finite() && e > 0.0 && e <= 10.0) {
                return Err(err(i, n, "epsilon", format!("must be in (0, 10], got {e}")));
            }
            if !(b.is_finite() && b >= e) {
                return Err(err(
                    i,
                    n,
                    "budget",
                    format!("must be at least epsilon ({e}), got {b}"),
                ));
            }
            if let Some(m) = metrics.iter().find(|m| !m.is_count()) {
                return Err(err(
                    i,
                    n,
                    "metrics",
                    format!("{m:?} is a ratio; with epsilon set only counts (visitors, visits, pageviews, events) can be released"),
                ));
            }
            if r.sensitivity == 0 {
                return Err(err(i, n, "sensitivity", "must be at least 1"));
            }
            Some(Dp {
                epsilon: e,
                budget: b,
                sensitivity: r.sensitivity,
            })
        }
    };
    let Some(format) = Format::parse(&r.format) else {
        return Err(err(
            i,
            n,
            "format",
            format!("expected one of {}, got {:?}", Format::names(), r.format),
        ));
    };
    let mut tokens = Vec::new();
    for (j, t) in r.token_sha256.iter().enumerate() {
        let h = hex32(&t.to_ascii_lowercase()).ok_or_else(|| {
            err(
                i,
                n,
                &format!("token_sha256[{j}]"),
                "must be 64 hex digits: the SHA-256 of the token, never the token itself",
            )
        })?;
        tokens.push(h);
    }
    if r.rate_limit_per_minute == 0 {
        return Err(err(i, n, "rate_limit_per_minute", "must be at least 1"));
    }
    let mut spec = ExportSpec {
        name: n.to_string(),
        partner: r.partner.clone(),
        sites: r.sites.clone(),
        dimensions: dims,
        metrics,
        source,
        period,
        min_visitors: r.min_visitors,
        round_to: r.round_to,
        protection: match r.protection {
            None => r.min_visitors,
            Some(p) if p * 2 >= r.min_visitors && p <= r.min_visitors * 10 => p,
            Some(_) => {
                return Err(err(
                    i,
                    n,
                    "protection",
                    format!(
                        "must be between k/2 and 10k ({} to {})",
                        r.min_visitors.div_ceil(2),
                        r.min_visitors * 10
                    ),
                ))
            }
        },
        dp,
        format,
        totals: r.totals,
        token_sha256: tokens,
        rate_limit_per_minute: r.rate_limit_per_minute,
        config_hash: String::new(),
        finest: Vec::new(),
    };
    let canonical = serde_json::to_string(&spec).expect("spec serializes");
    spec.config_hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    Ok(spec)
}

#[cfg(test)]
#[path = "exports_tests.rs"]
mod tests;
