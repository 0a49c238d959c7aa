//! The closed outcomes of a hit that is not stored: [`DropReason`] (answered
//! 2xx, counted) and [`Rejection`] (answered 4xx with a one-line reason).
//! Their labels are the metric and storage labels.

macro_rules! closed_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const COUNT: usize = $name::ALL.len();
            /// Stable snake_case label (metrics, storage, `explain`).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }
    };
}

closed_enum!(
    /// Why an accepted hit was not stored. The client still gets 2xx: a drop
    /// is tacit's decision, not the client's error.
    DropReason {
        Bot => "bot",
        Prefetch => "prefetch",
        EmptyUserAgent => "empty_user_agent",
        OptOut => "opt_out",
        DoNotTrack => "do_not_track",
        GlobalPrivacyControl => "global_privacy_control",
        ExcludedCountry => "excluded_country",
        RateLimited => "rate_limited",
    }
);

closed_enum!(
    /// Why a hit was refused with a 4xx status.
    Rejection {
        BodyTooLarge => "body_too_large",
        BodyTimeout => "body_timeout",
        BadContentType => "bad_content_type",
        BadJson => "bad_json",
        BadQuery => "bad_query",
        MissingName => "missing_name",
        BadName => "bad_name",
        MissingUrl => "missing_url",
        BadUrl => "bad_url",
        UnknownSite => "unknown_site",
        BadProps => "bad_props",
        BadReferrer => "bad_referrer",
        BadDomain => "bad_domain",
        BadScreenWidth => "bad_screen_width",
        BadHashMode => "bad_hash_mode",
        BadInteractive => "bad_interactive",
        BadRevenue => "bad_revenue",
        BadEngagement => "bad_engagement",
        MethodNotAllowed => "method_not_allowed",
        BadCampaign => "bad_campaign",
        BadVariant => "bad_variant",
        EmailOff => "email_off",
        BadLink => "bad_link",
        BadSignature => "bad_signature",
    }
);

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
