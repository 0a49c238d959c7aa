//! The privacy policy as the code applies it: what is kept of the IP, the
//! location, versions and referrers, what consent signals do, and how long
//! each tier lives. Built only by `config` validation.

use serde::Serialize;

use super::named::{named, IntoStaticStr, VariantArray};

/// What happens to the client IP after it has been used in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum IpRule {
    /// Store nothing of the IP.
    Drop,
    /// Store the network prefix only: IPv4 /24, IPv6 /48.
    Truncate,
}

/// How much of the location is kept.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, IntoStaticStr, VariantArray,
)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum LocationRule {
    None,
    Country,
    Region,
    City,
}

/// Versions: the major number, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum VersionRule {
    Major,
    None,
}

/// Referrers: the host, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum ReferrerRule {
    Host,
    Drop,
}

/// What a consent signal (DNT, GPC) does to a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum ConsentRule {
    /// Not stored at all (counted as dropped).
    Drop,
    /// Stored without a visitor id: counts, never a visitor.
    Anonymous,
    /// The signal is not acted on.
    Ignore,
}

/// What a stored row says of consent: `full` (with the day's visitor id),
/// or `anonymous` (a consent signal asked for none: counts, never a
/// visitor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum Consent {
    Full,
    Anonymous,
}

named!(
    IpRule,
    LocationRule,
    VersionRule,
    ReferrerRule,
    ConsentRule,
    Consent
);

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub ip: IpRule,
    pub location: LocationRule,
    pub browser_version: VersionRule,
    pub os_version: VersionRule,
    pub referrer: ReferrerRule,
    pub query_params: Vec<String>,
    pub redact_paths: bool,
    pub dnt: ConsentRule,
    pub gpc: ConsentRule,
    pub opt_out: bool,
    /// ISO codes, `EU`/`EEA` expanded.
    pub exclude_countries: Vec<String>,
    pub event_ttl_days: u32,
    pub aggregate_ttl_months: u32,
    /// Minutes after a day's salt is destroyed before the day is rolled up.
    pub rollup_delay_minutes: u32,
    /// A click this soon after the same recipient-day's first open or click
    /// of the campaign is a machine's (a scanner following every link).
    pub email_burst_ms: u32,
}
