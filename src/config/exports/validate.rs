//! The validation of every `[[exports]]` entry into an [`ExportSpec`]:
//! each entry's fields (`checks.rs`), its config hash, and what a
//! partner's exports must share.

use sha2::{Digest, Sha256};

use super::checks::{access, dimensions, metrics, names_and_sites, noise, period, protection, At};
use super::{err, ExportSpec, Format, LinkAudit, RawExport, SpecError};

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
