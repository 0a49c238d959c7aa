//! What enrichment learns about a hit: the client's browser, OS and device
//! ([`UaInfo`]), its location ([`GeoInfo`]), campaign tags ([`Utm`]) and the
//! acquisition [`Channel`]. Plain data: the parsers that produce them live in
//! `enrich/`.

use std::sync::Arc;

use super::named::{named, IntoStaticStr, VariantArray};

/// What a user agent says about the client, coarsened to what is stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UaInfo {
    pub browser: Arc<str>,
    pub browser_version: Arc<str>,
    pub os: Arc<str>,
    pub os_version: Arc<str>,
    /// `desktop`, `mobile`, `tablet` or `other`, as the agent alone says
    /// (`model::device::decide` weighs it with the hint and the width).
    pub device: crate::model::device::DeviceClass,
    /// The agent names the device or its kind (not a default or a guess).
    pub device_sure: bool,
    /// uap-core classifies the device as a spider.
    pub spider: bool,
    /// A bot by the bot patterns (decided once per distinct agent, cached).
    pub bot: bool,
}

impl UaInfo {
    /// The agent's say on the device class, for `model::device::decide`.
    pub fn agent_device(&self) -> crate::model::device::AgentDevice {
        crate::model::device::AgentDevice {
            class: self.device,
            sure: self.device_sure,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoInfo {
    pub country: String,
    pub region: String,
    pub city: String,
}

/// How a visit arrived (stored in `events.channel`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, IntoStaticStr, VariantArray,
)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum Channel {
    #[default]
    Direct,
    Search,
    Social,
    Email,
    Paid,
    Referral,
    Ai,
}

named!(Channel);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utm {
    pub source: String,
    pub medium: String,
    pub campaign: String,
    pub content: String,
    pub term: String,
    pub click_id: bool,
}

/// Query parameters that mark a click on a paid ad.
pub const CLICK_IDS: &[&str] = &[
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "msclkid",
    "fbclid",
    "ttclid",
    "twclid",
    "li_fat_id",
    "yclid",
    "epik",
    "rdt_cid",
    "sccid",
    "irclid",
];

/// A screen size bucket of the tracker's window width (`events.screen`;
/// stored empty when the width is unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum ScreenClass {
    Mobile,
    Tablet,
    Laptop,
    Desktop,
}

named!(ScreenClass);

/// `mobile` <576, `tablet` <992, `laptop` <1440, `desktop`; none if unknown.
pub fn screen_class(width: u16) -> Option<ScreenClass> {
    match width {
        0 => None,
        1..=575 => Some(ScreenClass::Mobile),
        576..=991 => Some(ScreenClass::Tablet),
        992..=1439 => Some(ScreenClass::Laptop),
        _ => Some(ScreenClass::Desktop),
    }
}

/// A screen class as stored: its name, or empty when unknown.
pub fn screen_name(s: Option<ScreenClass>) -> &'static str {
    s.map_or("", ScreenClass::as_str)
}

/// Expand `EU`/`EEA` shorthands in an `exclude_countries` list.
pub fn expand_country_list(list: &[String]) -> Vec<String> {
    const EU: &[&str] = &[
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
        "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    ];
    const EEA_EXTRA: &[&str] = &["IS", "LI", "NO"];
    let mut out = Vec::new();
    for c in list {
        match c.to_ascii_uppercase().as_str() {
            "EU" => out.extend(EU.iter().map(|s| s.to_string())),
            "EEA" => out.extend(EU.iter().chain(EEA_EXTRA).map(|s| s.to_string())),
            other => out.push(other.to_string()),
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eu_and_eea_expand() {
        let l = expand_country_list(&["EEA".into(), "ch".into()]);
        assert!(
            l.contains(&"DE".to_string())
                && l.contains(&"NO".to_string())
                && l.contains(&"CH".to_string())
        );
        assert_eq!(expand_country_list(&["EU".into()]).len(), 27);
    }

    #[test]
    fn screen_classes() {
        let name = |w| screen_name(screen_class(w));
        assert_eq!(name(0), "");
        assert_eq!(name(390), "mobile");
        assert_eq!(name(800), "tablet");
        assert_eq!(name(1280), "laptop");
        assert_eq!(name(1920), "desktop");
    }
}
