//! Page URLs as the policy allows them to be kept: host and path only;
//! path segments that look personal (e-mail addresses, long digit runs,
//! UUIDs, tokens) replaced by `:redacted`; the query string dropped except
//! allow-listed parameters; the fragment dropped unless the site routes by
//! hash. Free text kept in the aggregate tier (custom property values, UTM
//! tags) goes through the same rules ([`redact_text`]).

pub const REDACTED: &str = ":redacted";

/// `%XX` sequences decoded (anything else, `+` included, kept as is);
/// invalid UTF-8 replaced. Never split at `&` or `=`: a path segment or a
/// free-text value may hold them.
fn percent_decode(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('%') {
        return std::borrow::Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|c| hex(*c)),
            b.get(i + 2).and_then(|c| hex(*c)),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// 8-4-4-4-12 hex groups anywhere in the segment.
fn has_uuid(s: &[u8]) -> bool {
    const SHAPE: [usize; 5] = [8, 4, 4, 4, 12];
    if s.len() < 36 {
        return false;
    }
    'start: for i in 0..=s.len() - 36 {
        let mut j = i;
        for (g, len) in SHAPE.iter().enumerate() {
            if !s[j..j + len].iter().all(|b| is_hex(*b)) {
                continue 'start;
            }
            j += len;
            if g < 4 {
                if s[j] != b'-' {
                    continue 'start;
                }
                j += 1;
            }
        }
        return true;
    }
    false
}

fn longest_digit_run(s: &[u8]) -> usize {
    let (mut best, mut cur) = (0, 0);
    for b in s {
        if b.is_ascii_digit() {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// Token-like: a long run with no word separators that mixes letters and
/// digits (API keys, session ids, reset tokens), or a long hex string.
fn looks_like_token(s: &str) -> bool {
    s.split(['-', '.', '~']).any(|part| {
        let b = part.as_bytes();
        if b.len() < 16 {
            return false;
        }
        let token_chars = b
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'=' || *c == b'+');
        let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
        let letters = b.iter().filter(|c| c.is_ascii_alphabetic()).count();
        let hex = b.iter().all(|c| is_hex(*c));
        token_chars && digits > 0 && letters > 0 && (hex || digits * 5 >= b.len() || b.len() >= 24)
    })
}

/// Whether one decoded path segment looks like it identifies someone.
pub fn is_personal(segment: &str) -> bool {
    let b = segment.as_bytes();
    segment.contains('@') || longest_digit_run(b) >= 6 || has_uuid(b) || looks_like_token(segment)
}

/// Replace personal-looking segments of an (encoded) path.
pub fn redact_path(path: &str) -> String {
    if !path
        .split('/')
        .any(|seg| !seg.is_empty() && is_personal(&percent_decode(seg)))
    {
        return path.to_string();
    }
    path.split('/')
        .map(|seg| {
            if !seg.is_empty() && is_personal(&percent_decode(seg)) {
                REDACTED
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Free text that is stored and rolled up (custom property values, UTM
/// tags) is cut to this many characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// Digits in a phone-number-like stretch of free text: digits, optionally
/// after a `+`, separated only by spaces, `-`, `.`, `/` or parentheses
/// (`+49 151 2345 6789`, `(555) 123-4567`). The path rule's "long digit
/// run", for text where numbers are written with separators.
fn longest_separated_digits(s: &str) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        if c.is_ascii_digit() {
            cur += 1;
            best = best.max(cur);
        } else if !matches!(c, ' ' | '-' | '.' | '/' | '(' | ')' | '+') {
            cur = 0;
        }
    }
    best
}

fn personal_text(text: &str) -> bool {
    let decoded = percent_decode(text);
    decoded
        .split(|c: char| {
            c.is_whitespace() || matches!(c, ',' | ';' | '/' | '|' | '&' | '=' | '?' | '#' | ':')
        })
        .any(|w| !w.is_empty() && is_personal(w))
        || longest_separated_digits(&decoded) >= 9
}

/// Free text as it may be stored: the whole value replaced by `:redacted`
/// when any word of it looks personal by the path rules ([`is_personal`]:
/// an e-mail address, a run of 6+ digits, a UUID, a token) or it holds a
/// phone-number-like stretch of 9+ digits; otherwise the value cut to
/// [`MAX_TEXT_CHARS`] characters (checked again once cut: a cut word can
/// look like a token).
pub fn redact_text(text: &str) -> String {
    let cut = match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((at, _)) => &text[..at],
        None => text,
    };
    if personal_text(text) || (cut.len() < text.len() && personal_text(cut)) {
        return REDACTED.to_string();
    }
    cut.to_string()
}

/// Allow-listed parameters of a query string, in the order given, values
/// redacted when they look personal.
pub fn kept_query(query: Option<&str>, allow: &[String]) -> String {
    let (Some(q), false) = (query, allow.is_empty()) else {
        return String::new();
    };
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        if allow.iter().any(|a| *a == k) {
            let v = if is_personal(&v) { REDACTED.into() } else { v };
            out.append_pair(&k, &v);
            any = true;
        }
    }
    if any {
        out.finish()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_segments_are_redacted() {
        assert_eq!(
            redact_path("/users/jane.doe@example.com/settings"),
            "/users/:redacted/settings"
        );
        assert_eq!(redact_path("/u/jane%40example.com"), "/u/:redacted");
        assert_eq!(redact_path("/u/a&jane%40example.com"), "/u/:redacted");
        assert_eq!(redact_path("/u/a=b&c%2Fd"), "/u/a=b&c%2Fd");
        assert_eq!(redact_path("/orders/12345678"), "/orders/:redacted");
        assert_eq!(
            redact_path("/d/3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b/view"),
            "/d/:redacted/view"
        );
        assert_eq!(redact_path("/reset/tok_CANARY9f8e7d6c"), "/reset/:redacted");
        assert_eq!(
            redact_path("/s/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"),
            "/s/:redacted"
        );
        assert_eq!(
            redact_path("/c/5f4dcc3b5aa765d61d8327deb882cf99"),
            "/c/:redacted"
        );
    }

    #[test]
    fn ordinary_paths_are_kept() {
        for p in [
            "/",
            "/blog/2024/05/how-to-install-rust-on-linux",
            "/docs/top-10-rust-crates-for-2024",
            "/products/iphone-15-pro-max",
            "/pricing",
            "/api/v2/users",
            "/page/12",
            "/internationalization-guide",
        ] {
            assert_eq!(redact_path(p), p);
        }
    }

    #[test]
    fn free_text_is_redacted_whole_or_cut() {
        for personal in [
            "write to jane.doe@example.com please",
            "jane%40example.com",
            "+49 151 2345 6789",
            "(555) 123-4567 ext",
            "4915123456789",
            "order 12345678",
            "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b",
            "session=tok_CANARY9f8e7d6c",
            "a&b@c.example%",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        ] {
            assert_eq!(redact_text(personal), REDACTED, "{personal}");
        }
        for kept in [
            "running shoes",
            "spring-sale-2024",
            "2024-05-12",
            "plan: pro",
            "Größe 42",
            "",
        ] {
            assert_eq!(redact_text(kept), kept);
        }
        let long = "é".repeat(500);
        assert_eq!(redact_text(&long).chars().count(), MAX_TEXT_CHARS);
    }

    #[test]
    fn only_allowed_parameters_stay() {
        let allow = vec!["page".to_string(), "q".to_string()];
        assert_eq!(
            kept_query(Some("page=2&email=a@b.c&token=x"), &allow),
            "page=2"
        );
        assert_eq!(kept_query(Some("q=a@b.c"), &allow), "q=%3Aredacted");
        assert_eq!(kept_query(Some("page=2"), &[]), "");
        assert_eq!(kept_query(None, &allow), "");
    }
}
