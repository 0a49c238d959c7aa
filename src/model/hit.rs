//! A hit as the client sent it, and the request facts other than identity
//! that the pipeline may read. Nothing here has been validated yet.

/// A hit as the client sent it, before any validation.
#[derive(Debug, Clone, Default)]
pub struct Hit {
    pub name: Option<String>,
    pub url: Option<String>,
    pub domain: Option<String>,
    pub referrer: Option<String>,
    pub screen_width: Option<u64>,
    pub props: Vec<(String, String)>,
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
}
