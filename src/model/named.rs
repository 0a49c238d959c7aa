//! The one way tacit names the values of a closed set: each enum derives
//! its names with `strum` (`IntoStaticStr` and `VariantArray`, names
//! spelled by `#[strum(serialize_all = "snake_case")]` or per variant), and
//! [`Named`] gives every such enum the same methods ([`named!`] makes them
//! inherent, so a caller needs no import). An enum that is serialized says
//! `#[serde(into = "&'static str")]`, so its JSON is its name too (and
//! one read back `#[serde(try_from = "String")]`). Config
//! validation parses with `parse`, metrics label and storage writes with
//! `as_str`: one spelling per value.

pub use strum::{IntoStaticStr, VariantArray};

/// A closed set whose every value has one stable name.
pub trait Named: Copy + Into<&'static str> + VariantArray + 'static {
    /// The value's name (config, storage, metrics, files).
    fn as_str(self) -> &'static str {
        self.into()
    }

    /// The value named `s`.
    fn parse(s: &str) -> Option<Self> {
        Self::VARIANTS.iter().copied().find(|v| v.as_str() == s)
    }

    /// Every name, comma-separated (for error messages).
    fn names() -> String {
        Self::VARIANTS
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl<T: Copy + Into<&'static str> + VariantArray + 'static> Named for T {}

/// [`Named`]'s methods as inherent ones of each listed enum, and
/// `TryFrom<String>` by the name. (`Display` as the name, where wanted, is
/// strum's `Display` derive.)
macro_rules! named {
    ($($t:ty),+ $(,)?) => {$(
        impl $t {
            /// The value's name (config, storage, metrics, files).
            pub fn as_str(self) -> &'static str {
                $crate::model::named::Named::as_str(self)
            }
            /// The value named `s`.
            pub fn parse(s: &str) -> Option<Self> {
                <Self as $crate::model::named::Named>::parse(s)
            }
            /// Every name, comma-separated (for error messages).
            pub fn names() -> String {
                <Self as $crate::model::named::Named>::names()
            }
        }
        /// For `#[serde(try_from = "String")]`: a value read back by name.
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!("not one of {}: {s:?}", Self::names()))
            }
        }
    )+};
}
pub(crate) use named;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, IntoStaticStr, VariantArray)]
    #[strum(serialize_all = "snake_case")]
    enum Sample {
        One,
        TwoWords,
    }
    named!(Sample);

    #[test]
    fn names_round_trip() {
        for v in Sample::VARIANTS {
            assert_eq!(Sample::parse(v.as_str()), Some(*v));
        }
        assert_eq!(Sample::TwoWords.as_str(), "two_words");
        assert_eq!(Sample::names(), "one, two_words");
        assert_eq!(Sample::parse("three"), None);
    }

    #[test]
    fn stored_and_metric_names_are_unchanged() {
        use crate::model::device::DeviceSignal;
        use crate::model::email::{EmailKind, Machine};
        use crate::model::facts::Channel;
        use crate::model::policy::{ConsentRule, IpRule, LocationRule};
        use crate::model::{DropReason, Rejection};
        assert_eq!(
            DropReason::GlobalPrivacyControl.as_str(),
            "global_privacy_control"
        );
        assert_eq!(Rejection::BadScreenWidth.as_str(), "bad_screen_width");
        assert_eq!(DeviceSignal::ClientHint.as_str(), "sec_ch_ua_mobile");
        assert_eq!(DeviceSignal::AgentGuess.as_str(), "user_agent_guess");
        assert_eq!(Channel::Ai.as_str(), "ai");
        assert_eq!(
            (EmailKind::Click.as_str(), Machine::Burst.as_str()),
            ("click", "burst")
        );
        assert_eq!(LocationRule::parse("city"), Some(LocationRule::City));
        assert_eq!(IpRule::names(), "drop, truncate");
        assert_eq!(
            serde_json::to_string(&[ConsentRule::Anonymous]).unwrap(),
            "[\"anonymous\"]"
        );
    }
}
