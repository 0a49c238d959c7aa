//! Page URLs as the policy allows them to be kept: host and path only;
//! path segments that look personal (e-mail addresses, long digit runs,
//! UUIDs, tokens) replaced by `:redacted`; the query string dropped except
//! allow-listed parameters; the fragment dropped unless the site routes by
//! hash.

pub const REDACTED: &str = ":redacted";

fn percent_decode(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('%') {
        return std::borrow::Cow::Borrowed(s);
    }
    let decoded = url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    std::borrow::Cow::Owned(decoded)
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
