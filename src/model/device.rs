//! The device class stored with a hit (`mobile`, `tablet`, `desktop`,
//! `other`) and the signal that decided it. [`decide`] weighs, in this
//! order, what the user agent names for sure, the `Sec-CH-UA-Mobile` client
//! hint, the screen width the tracker sends (`w`) and the agent's best
//! guess; the agent itself is read in `enrich::ua` into an [`AgentDevice`].
//!
//! Why the width does not come first: `w` is the page's `innerWidth`, the
//! width of a window, not of a device. A desktop browser in a narrow window
//! or in a developer tool's phone emulation reports 375; a phone showing a
//! page without a `<meta name=viewport>` reports 980; a phone in landscape
//! reports up to ~930, as wide as a tablet in portrait. So the width decides
//! only what the agent and the hint leave open.

use super::named::{named, IntoStaticStr, VariantArray};

/// A device class as stored (`events.device`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, IntoStaticStr, VariantArray,
)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum DeviceClass {
    Mobile,
    Tablet,
    Desktop,
    /// TVs, game consoles, wearables, and agents that name no device at all.
    #[default]
    Other,
}

/// What the user agent says about the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentDevice {
    pub class: DeviceClass,
    /// The agent names the device or its kind (an iPhone, a tablet model, a
    /// desktop OS, a TV); `false` when the class is a default or a guess
    /// (an app's HTTP library on Android, an agent naming no OS).
    pub sure: bool,
}

impl Default for AgentDevice {
    fn default() -> Self {
        Self {
            class: DeviceClass::Other,
            sure: false,
        }
    }
}

/// The signal that decided a hit's device class (shown by `tacit explain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, IntoStaticStr, VariantArray)]
pub enum DeviceSignal {
    /// The user agent names the device or its kind.
    #[strum(to_string = "user_agent")]
    Agent,
    /// `Sec-CH-UA-Mobile`, sent by Chromium-based browsers.
    #[strum(to_string = "sec_ch_ua_mobile")]
    ClientHint,
    /// The tracker's `w` (window width in CSS pixels).
    #[strum(to_string = "screen_width")]
    ScreenWidth,
    /// Nothing better: the agent's default for its OS or library.
    #[strum(to_string = "user_agent_guess")]
    AgentGuess,
}

named!(DeviceClass, DeviceSignal);

/// Window width buckets for agents that leave the device open: below 600
/// CSS px no tablet or desktop screen fits (Android's own tablet line is a
/// shortest side of 600 dp), from 1024 on no phone is that wide in either
/// orientation.
pub fn width_class(width: u16) -> Option<DeviceClass> {
    match width {
        0 => None,
        1..=599 => Some(DeviceClass::Mobile),
        600..=1023 => Some(DeviceClass::Tablet),
        _ => Some(DeviceClass::Desktop),
    }
}

/// The device class of a hit, and the signal that decided it:
/// 1. the agent, when it names the device or its kind (iPhone, iPad, a
///    tablet model, `Mobile` in an Android browser's agent, a desktop OS, a
///    TV, console or watch);
/// 2. `Sec-CH-UA-Mobile` (`?1`: a phone; `?0`: not a phone, so an agent
///    that looks handheld is a tablet);
/// 3. the window width `w` ([`width_class`]), 0 when not sent;
/// 4. the agent's guess.
pub fn decide(
    agent: AgentDevice,
    ch_mobile: Option<bool>,
    width: u16,
) -> (DeviceClass, DeviceSignal) {
    if agent.sure {
        return (agent.class, DeviceSignal::Agent);
    }
    match ch_mobile {
        Some(true) => return (DeviceClass::Mobile, DeviceSignal::ClientHint),
        Some(false) if agent.class == DeviceClass::Mobile => {
            return (DeviceClass::Tablet, DeviceSignal::ClientHint)
        }
        Some(false) if agent.class != DeviceClass::Other => {
            return (agent.class, DeviceSignal::ClientHint)
        }
        _ => {}
    }
    if let Some(class) = width_class(width) {
        return (class, DeviceSignal::ScreenWidth);
    }
    (agent.class, DeviceSignal::AgentGuess)
}

/// `Sec-CH-UA-Mobile`'s structured boolean (`?1` / `?0`).
pub fn parse_ch_mobile(v: &str) -> Option<bool> {
    match v.trim() {
        "?1" => Some(true),
        "?0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SURE_DESKTOP: AgentDevice = AgentDevice {
        class: DeviceClass::Desktop,
        sure: true,
    };
    const GUESS_MOBILE: AgentDevice = AgentDevice {
        class: DeviceClass::Mobile,
        sure: false,
    };

    #[test]
    fn a_sure_agent_outranks_the_window() {
        // A desktop browser emulating a phone in its developer tools.
        assert_eq!(
            decide(SURE_DESKTOP, None, 375),
            (DeviceClass::Desktop, DeviceSignal::Agent)
        );
    }

    #[test]
    fn the_hint_then_the_width_then_the_guess() {
        assert_eq!(
            decide(GUESS_MOBILE, Some(false), 390),
            (DeviceClass::Tablet, DeviceSignal::ClientHint)
        );
        assert_eq!(
            decide(AgentDevice::default(), Some(true), 1400),
            (DeviceClass::Mobile, DeviceSignal::ClientHint)
        );
        assert_eq!(
            decide(AgentDevice::default(), Some(false), 800),
            (DeviceClass::Tablet, DeviceSignal::ScreenWidth)
        );
        assert_eq!(
            decide(GUESS_MOBILE, None, 1280),
            (DeviceClass::Desktop, DeviceSignal::ScreenWidth)
        );
        assert_eq!(
            decide(GUESS_MOBILE, None, 0),
            (DeviceClass::Mobile, DeviceSignal::AgentGuess)
        );
    }

    #[test]
    fn hint_values() {
        assert_eq!(parse_ch_mobile("?1"), Some(true));
        assert_eq!(parse_ch_mobile(" ?0"), Some(false));
        assert_eq!(parse_ch_mobile("1"), None);
    }
}
