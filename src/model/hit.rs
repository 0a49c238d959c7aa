//! A hit as the client sent it, and the request facts other than identity
//! that the pipeline may read. Nothing here has been validated yet.

/// A hit as the client sent it, before any validation.
#[derive(Debug, Clone, Default)]
pub struct Hit {
    pub name: Option<String>,
    pub url: Option<String>,
    /// A configured site, or several separated by commas (the event is
    /// recorded once per site).
    pub domain: Option<String>,
    pub referrer: Option<String>,
    pub screen_width: Option<u64>,
    pub props: Vec<(String, String)>,
    /// Keep the `#/route` fragment as part of the path (hash routers).
    pub hash_mode: bool,
    /// Not counted for bounce rate (Plausible's `i: false`).
    pub non_interactive: bool,
    pub revenue: Option<Revenue>,
    pub engagement: Option<Engagement>,
}

/// Revenue attached to an event: an exact decimal amount and its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revenue {
    /// Millionths of the currency unit.
    pub micros: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

/// What an engagement event reports about the page it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Engagement {
    /// How far down the page was scrolled, 0-100.
    pub scroll_depth: u8,
    /// Milliseconds the page was visible and focused.
    pub engaged_ms: u32,
}

/// Request facts other than identity that steps may read.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub accept_language: Option<String>,
    /// `Purpose: prefetch` or `Sec-Purpose: prefetch` (link previews).
    pub prefetch: bool,
    /// `DNT: 1`.
    pub dnt: bool,
    /// `Sec-GPC: 1`.
    pub gpc: bool,
    /// The opt-out cookie is present.
    pub opted_out: bool,
    /// `Sec-CH-UA-Mobile` (`?1` / `?0`), a hint Chromium-based browsers
    /// send on every request without being asked.
    pub ch_mobile: Option<bool>,
}
