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
    /// How the audit across the partner's releases treats a cell of this
    /// export that reaches a cell an earlier release withheld: "fast"
    /// (default) or "full".
    #[serde(default)]
    pub audit: Option<String>,
    #[serde(default)]
    pub epsilon: Option<f64>,
    /// Epsilon per partner per calendar month.
    #[serde(default)]
    pub budget: Option<f64>,
    /// Refused: the sensitivity is derived from the release's structure
    /// (kept only to name the replacement keys in the error).
    #[serde(default)]
    pub sensitivity: Option<u64>,
    /// Contribution bound: each visitor's events, page views and visits
    /// counted in one cell, at most (with epsilon set).
    #[serde(default = "default_one")]
    pub max_events_per_cell: u64,
    /// Contribution bound: cells one visitor counts in per day, at most
    /// (its first ones that day; with epsilon set).
    #[serde(default = "default_one")]
    pub max_cells_per_day: u64,
    /// The privacy-budget account the partner's releases charge; default
    /// the partner's name. Keeps the account across a partner rename.
    #[serde(default)]
    pub budget_account: Option<String>,
    /// How long after a period's end it may be released when no collector
    /// reports its write-ahead log (and how recent a report must be to be
    /// waited for); default 300, at least twice the sink's flush interval
    /// plus 30.
    #[serde(default = "default_settle")]
    pub settle_seconds: u64,
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
/// Default `settle_seconds`.
pub const DEFAULT_SETTLE_SECONDS: u64 = 300;

fn default_settle() -> u64 {
    DEFAULT_SETTLE_SECONDS
}

fn default_one() -> u64 {
    1
}
fn default_format() -> String {
    "csv".into()
}
fn default_rate() -> u32 {
    10
}

/// Differential privacy settings of an export. Epsilon and the budget are
/// exact in millionths (at most six decimals are accepted), so the sampler
/// and the budget account never round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dp {
    pub epsilon: f64,
    pub budget: f64,
    pub epsilon_micros: u64,
    pub budget_micros: u64,
    /// Each visitor counts at most this many events (page views, visits)
    /// in one cell.
    pub max_events_per_cell: u64,
    /// Each visitor counts in at most this many cells per day (1 when every
    /// dimension is fixed per visitor).
    pub max_cells_per_day: u64,
}

/// `x` in millionths, if it has at most six decimals.
fn micros(x: f64) -> Option<u64> {
    let m = (x * 1e6).round();
    ((m / 1e6 - x).abs() <= 1e-9 * x.abs().max(1.0) && m >= 0.0).then_some(m as u64)
}

/// How the audit across a partner's releases treats the cells of a new
/// release that reach a cell an earlier release withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkAudit {
    /// Released only when the partner's earlier figures already imply
    /// them: the earlier releases' cells need no new audit (seconds for a
    /// month of daily and weekly releases), fewer cells released.
    #[default]
    Fast,
    /// Released when a search over everything the partner holds shows
    /// every earlier withheld cell still protected: more cells released,
    /// minutes for a month of a large breakdown.
    Full,
}

impl LinkAudit {
    fn is_fast(&self) -> bool {
        *self == LinkAudit::Fast
    }
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
    /// How the linked audit decides on the cells that reach an earlier
    /// release's withheld cells (left out of the hash when the default).
    #[serde(skip_serializing_if = "LinkAudit::is_fast")]
    pub audit: LinkAudit,
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
    /// The privacy-budget account (`budget_account`, default the partner).
    #[serde(skip)]
    pub budget_account: String,
    /// `settle_seconds`, in milliseconds (`export::settle`).
    #[serde(skip)]
    pub settle_ms: i64,
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
/// One list of property keys: a site's `allowed_properties` says which
/// keys are stored at all, so an export may name only those. An export
/// without its own list gets the keys every one of its sites allows (none
/// when a site lists none, as before); an export's own list (kept for older
/// configurations) must stay within its sites' lists.
pub fn with_site_properties(
    raw: &[RawExport],
    sites: &[super::Site],
) -> Result<Vec<RawExport>, SpecError> {
    let mut out = raw.to_vec();
    for (i, r) in out.iter_mut().enumerate() {
        let lists: Vec<&Vec<String>> = sites
            .iter()
            .filter(|s| r.sites.contains(&s.domain))
            .filter_map(|s| s.allowed_properties.as_ref())
            .collect();
        if r.allowed_properties.is_empty() {
            if lists.len() == r.sites.len() {
                if let Some((first, rest)) = lists.split_first() {
                    r.allowed_properties = first
                        .iter()
                        .filter(|k| rest.iter().all(|l| l.contains(k)))
                        .cloned()
                        .collect();
                }
            }
            continue;
        }
        for k in &r.allowed_properties {
            if let Some(site) = sites.iter().find(|s| {
                r.sites.contains(&s.domain)
                    && s.allowed_properties
                        .as_ref()
                        .is_some_and(|l| !l.contains(k))
            }) {
                return Err(err(
                    i,
                    &r.name,
                    "allowed_properties",
                    format!(
                        "{k:?} is not in allowed_properties of site {:?}: it is never stored",
                        site.domain
                    ),
                ));
            }
        }
    }
    Ok(out)
}

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
        if let Some(other) = out
            .iter()
            .find(|o| o.partner == spec.partner && o.budget_account != spec.budget_account)
        {
            return Err(err(
                i,
                &r.name,
                "budget_account",
                format!(
                    "partner {:?} already charges budget account {:?} (export {:?}); a partner's exports share one account",
                    spec.partner, other.budget_account, other.name
                ),
            ));
        }
        if let Some(dp) = spec.dp {
            if let Some(other) = out.iter().find(|o| {
                o.budget_account == spec.budget_account
                    && o.dp.is_some_and(|d| d.budget_micros != dp.budget_micros)
            }) {
                return Err(err(
                    i,
                    &r.name,
                    "budget",
                    format!(
                        "budget account {:?} already has a monthly budget of {} (export {:?}); the budget is per account",
                        spec.budget_account,
                        other.dp.map_or(0.0, |d| d.budget),
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

/// Which export a check is about: every error names it and the field.
#[derive(Clone, Copy)]
struct At<'a> {
    index: usize,
    name: &'a str,
}

impl At<'_> {
    fn err(self, field: &str, reason: impl Into<String>) -> SpecError {
        err(self.index, self.name, field, reason)
    }
}

/// One `[[exports]]` entry: its names and sites, then its breakdown, its
/// figures, its release period, its noise, its file and its access, each
/// checked by the function of the same name.
fn validate(i: usize, r: &RawExport, sites: &[String]) -> Result<ExportSpec, SpecError> {
    let at = At {
        index: i,
        name: r.name.as_str(),
    };
    names_and_sites(at, r, sites)?;
    let dims = dimensions(at, r)?;
    let metrics = metrics(at, r)?;
    let source = super::partners::check_source(i, at.name, &dims, &metrics)?;
    let period = period(at, r, &dims)?;
    if r.round_to == Some(0) {
        return Err(at.err("round_to", "must be at least 1"));
    }
    let dp = noise(at, r, &metrics)?;
    let Some(format) = Format::parse(&r.format) else {
        return Err(at.err(
            "format",
            format!("expected one of {}, got {:?}", Format::names(), r.format),
        ));
    };
    let tokens = access(at, r)?;
    let protection = protection(at, r)?;
    let audit = match r.audit.as_deref() {
        None | Some("fast") => LinkAudit::Fast,
        Some("full") => LinkAudit::Full,
        Some(other) => {
            return Err(at.err(
                "audit",
                format!("expected \"fast\" or \"full\", got {other:?}"),
            ))
        }
    };
    let mut spec = ExportSpec {
        name: at.name.to_string(),
        partner: r.partner.clone(),
        sites: r.sites.clone(),
        dimensions: dims,
        metrics,
        source,
        period,
        min_visitors: r.min_visitors,
        round_to: r.round_to,
        protection,
        audit,
        dp,
        format,
        totals: r.totals,
        token_sha256: tokens,
        rate_limit_per_minute: r.rate_limit_per_minute,
        config_hash: String::new(),
        finest: Vec::new(),
        budget_account: r
            .budget_account
            .clone()
            .unwrap_or_else(|| r.partner.clone()),
        settle_ms: r.settle_seconds.min(86_400 * 7) as i64 * 1000,
    };
    let canonical = serde_json::to_string(&spec).expect("spec serializes");
    spec.config_hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    Ok(spec)
}

/// `name`, `partner`, `sites` and `min_visitors`.
fn names_and_sites(at: At, r: &RawExport, sites: &[String]) -> Result<(), SpecError> {
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
fn dimensions(at: At, r: &RawExport) -> Result<Vec<Dimension>, SpecError> {
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
fn metrics(at: At, r: &RawExport) -> Result<Vec<Metric>, SpecError> {
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
fn period(at: At, r: &RawExport, dims: &[Dimension]) -> Result<Granularity, SpecError> {
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
fn noise(at: At, r: &RawExport, metrics: &[Metric]) -> Result<Option<Dp>, SpecError> {
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
fn access(at: At, r: &RawExport) -> Result<Vec<[u8; 32]>, SpecError> {
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
fn protection(at: At, r: &RawExport) -> Result<u64, SpecError> {
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

#[cfg(test)]
#[path = "exports_tests.rs"]
mod tests;
