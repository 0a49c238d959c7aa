//! Email beacons as sent: an open (`/e/o.gif`) or a click (`/e/c`) of a
//! campaign, and the labels tacit stores for them. Nothing here names a
//! recipient: the query parameters read are the campaign, the site, the
//! variant, the link target and its signature; any other parameter is
//! ignored, never stored.

use super::named::{named, IntoStaticStr, VariantArray};

/// Which email beacon.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, IntoStaticStr, VariantArray,
)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum EmailKind {
    Open,
    Click,
}

/// Why an open or click is counted as a machine's rather than a person's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, IntoStaticStr, VariantArray,
)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum Machine {
    /// The user agent is a known proxy, crawler or scanner (or is empty).
    Agent,
    /// The address is in a published range of an email proxy or scanner
    /// operator (`scripts/data/mail-networks.txt`).
    Network,
    /// A click within seconds of the same recipient-day's first open or
    /// click of the campaign: a scanner following every link on delivery.
    Burst,
}

/// Whose open or click: a person's, or a machine's (see [`Machine`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, IntoStaticStr, VariantArray,
)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum EmailClass {
    Human,
    Machine,
}

named!(EmailKind, Machine, EmailClass);

/// An email beacon's query, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailHit {
    /// `c`
    pub campaign: Option<String>,
    /// `s`
    pub site: Option<String>,
    /// `v`
    pub variant: Option<String>,
    /// `to`: the click's target.
    pub to: Option<String>,
    /// `sig`: the target's signature.
    pub sig: Option<String>,
}

/// Campaign and variant names: 1-64 letters, digits, `.`, `_` or `-` (a
/// name, never an address or an id per recipient with `@` or `=`).
pub fn valid_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short_names() {
        assert!(valid_label("spring-sale_2026.a"));
        assert!(!valid_label(""));
        assert!(!valid_label("a@b.example"));
        assert!(!valid_label("x=1"));
        assert!(!valid_label(&"a".repeat(65)));
    }
}
