//! The closed outcomes of a hit that is not stored: [`DropReason`] (answered
//! 2xx, counted) and [`Rejection`] (answered 4xx with a one-line reason).
//! Their labels are the metric and storage labels (`as_str`, [`super::named`]).

use super::named::{named, IntoStaticStr, VariantArray};

/// Why an accepted hit was not stored. The client still gets 2xx: a drop
/// is tacit's decision, not the client's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum DropReason {
    Bot,
    Prefetch,
    EmptyUserAgent,
    OptOut,
    DoNotTrack,
    GlobalPrivacyControl,
    ExcludedCountry,
    RateLimited,
}

named!(DropReason, Rejection);

impl DropReason {
    pub const ALL: &'static [DropReason] = DropReason::VARIANTS;
    pub const COUNT: usize = DropReason::VARIANTS.len();
}

/// Why a hit was refused with a 4xx status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum Rejection {
    BodyTooLarge,
    BodyTimeout,
    BadContentType,
    BadJson,
    BadQuery,
    MissingName,
    BadName,
    MissingUrl,
    BadUrl,
    UnknownSite,
    BadProps,
    BadReferrer,
    BadDomain,
    BadScreenWidth,
    BadHashMode,
    BadInteractive,
    BadRevenue,
    BadEngagement,
    MethodNotAllowed,
    BadCampaign,
    BadVariant,
    EmailOff,
    BadLink,
    BadSignature,
}

impl Rejection {
    pub const ALL: &'static [Rejection] = Rejection::VARIANTS;
    pub const COUNT: usize = Rejection::VARIANTS.len();
}

impl Rejection {
    pub fn status(self) -> u16 {
        match self {
            Rejection::BodyTooLarge => 413,
            Rejection::BodyTimeout => 408,
            Rejection::BadContentType => 415,
            Rejection::MethodNotAllowed => 405,
            _ => 400,
        }
    }

    /// One line for the client.
    pub fn message(self) -> &'static str {
        match self {
            Rejection::BodyTooLarge => "body too large",
            Rejection::BodyTimeout => "the body did not arrive in time",
            Rejection::BadContentType => "content type must be application/json or text/plain",
            Rejection::BadJson => "body is not a JSON object of the expected shape",
            Rejection::BadQuery => "query string is not valid",
            Rejection::MissingName => "missing event name (n)",
            Rejection::BadName => "event name (n) must be a string or an integer of 1-120 printable characters",
            Rejection::MissingUrl => "missing page URL (u)",
            Rejection::BadUrl => "page URL (u) must be an absolute http(s) URL string",
            Rejection::UnknownSite => "unknown site (d): not configured in tacit",
            Rejection::BadProps => "props (p) must be an object, or a JSON string of one, of at most 30 string, number or boolean values",
            Rejection::BadReferrer => "referrer (r) must be a URL string of at most 2048 bytes, or null",
            Rejection::BadDomain => "domain (d) must be a string: a site, or up to 10 sites separated by commas",
            Rejection::BadScreenWidth => "screen width (w) must be a non-negative integer",
            Rejection::BadHashMode => "hash mode (h) must be true, false, 1 or 0",
            Rejection::BadInteractive => "interactive (i) must be true or false",
            Rejection::BadRevenue => "revenue ($) must be {\"amount\": a decimal number or numeric string with at most 6 decimals, \"currency\": an ISO 4217 code}",
            Rejection::BadEngagement => "engagement must have scroll depth (sd) an integer 0-100 and engaged time (e) a non-negative integer of milliseconds",
            Rejection::MethodNotAllowed => "method not allowed",
            Rejection::BadCampaign => "campaign (c) must be 1-64 letters, digits, '.', '_' or '-'",
            Rejection::BadVariant => "variant (v) must be 1-64 letters, digits, '.', '_' or '-'",
            Rejection::EmailOff => "site (s) is not configured for email beacons (sites[].email_key)",
            Rejection::BadLink => "link target (to) must be an absolute http(s) URL of at most 2048 bytes",
            Rejection::BadSignature => "the link's signature (sig) does not match it: make links with tacit email-link",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}
