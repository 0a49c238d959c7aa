//! nginx's `log_format` and Apache's `LogFormat`: a template of literals
//! and fields, compiled once, then matched against each line (quoted
//! fields unescaped as each server escapes them).

use std::borrow::Cow;
use std::net::IpAddr;

use super::access::{bad, clf_time, iso_time, LineError, Request};

/// A field a log format can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    RemoteAddr,
    /// `[10/Oct/2000:13:55:36 -0700]` without the brackets.
    TimeLocal,
    /// `2000-10-10T13:55:36-07:00`.
    TimeIso,
    /// `GET /path HTTP/1.1`.
    Request,
    Method,
    /// Path and query.
    Uri,
    Status,
    Referer,
    UserAgent,
    /// Read and not kept.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Var(Field),
}

/// A line template: literals and fields (nginx `log_format` or Apache
/// `LogFormat` syntax).
#[derive(Debug, Clone)]
pub struct Template {
    tokens: Vec<Token>,
}

/// nginx's and Apache's default `combined` format.
pub const COMBINED: &str = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"";

impl Template {
    /// An nginx `log_format` string (`$remote_addr … "$http_user_agent"`).
    pub fn nginx(format: &str) -> Result<Self, LineError> {
        let mut tokens = Vec::new();
        let mut lit = String::new();
        let mut rest = format;
        while let Some(i) = rest.find('$') {
            lit.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            let braced = rest.starts_with('{');
            let body = if braced { &rest[1..] } else { rest };
            let end = body
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(body.len());
            let name = &body[..end];
            if name.is_empty() {
                return Err(bad("log_format: a `$` names no variable"));
            }
            rest = &body[end..];
            if braced {
                rest = rest
                    .strip_prefix('}')
                    .ok_or_else(|| bad("log_format: `${` without `}`"))?;
            }
            let field = match name {
                "remote_addr" | "binary_remote_addr" => Field::RemoteAddr,
                "time_local" => Field::TimeLocal,
                "time_iso8601" => Field::TimeIso,
                "request" => Field::Request,
                "request_method" => Field::Method,
                "request_uri" => Field::Uri,
                "status" => Field::Status,
                "http_referer" => Field::Referer,
                "http_user_agent" => Field::UserAgent,
                _ => Field::Ignored,
            };
            push(&mut tokens, &mut lit, field);
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            tokens.push(Token::Literal(lit));
        }
        Self::checked(tokens)
    }

    /// An Apache `LogFormat` string (`%h %l %u %t \"%r\" %>s %b …`).
    pub fn apache(format: &str) -> Result<Self, LineError> {
        let mut tokens = Vec::new();
        let mut lit = String::new();
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                lit.push(c);
                continue;
            }
            // Modifiers: `>`, `<`, status lists (`%400,501{User-agent}i`).
            while matches!(chars.peek(), Some('>' | '<' | '!' | ',' | '0'..='9')) {
                chars.next();
            }
            let arg: Option<String> = if chars.peek() == Some(&'{') {
                chars.next();
                let mut a = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    a.push(c);
                }
                Some(a.to_ascii_lowercase())
            } else {
                None
            };
            let Some(d) = chars.next() else {
                return Err(bad("LogFormat: a `%` names no directive"));
            };
            if d == '%' {
                lit.push('%');
                continue;
            }
            let field = match (d, arg.as_deref()) {
                ('h' | 'a', _) => Field::RemoteAddr,
                ('t', None) => {
                    // `%t` is `[time]`, brackets included.
                    lit.push('[');
                    push(&mut tokens, &mut lit, Field::TimeLocal);
                    lit.push(']');
                    continue;
                }
                ('r', _) => Field::Request,
                ('m', _) => Field::Method,
                ('s', _) => Field::Status,
                ('i', Some("referer")) => Field::Referer,
                ('i', Some("user-agent")) => Field::UserAgent,
                _ => Field::Ignored,
            };
            push(&mut tokens, &mut lit, field);
        }
        if !lit.is_empty() {
            tokens.push(Token::Literal(lit));
        }
        Self::checked(tokens)
    }

    fn checked(tokens: Vec<Token>) -> Result<Self, LineError> {
        let has = |f: Field| tokens.contains(&Token::Var(f));
        if !has(Field::RemoteAddr) {
            return Err(bad(
                "the log format has no client address ($remote_addr, %h)",
            ));
        }
        if !has(Field::TimeLocal) && !has(Field::TimeIso) {
            return Err(bad("the log format has no time ($time_local, %t)"));
        }
        if !(has(Field::Request) || (has(Field::Method) && has(Field::Uri))) {
            return Err(bad("the log format has no request ($request, %r)"));
        }
        if !has(Field::Status) {
            return Err(bad("the log format has no status ($status, %>s)"));
        }
        for w in tokens.windows(2) {
            if matches!(w, [Token::Var(_), Token::Var(_)]) {
                return Err(bad(
                    "two fields of the log format follow each other without a separator",
                ));
            }
        }
        Ok(Self { tokens })
    }

    /// Parse one line.
    pub fn parse<'a>(&self, line: &'a str) -> Result<Request<'a>, LineError> {
        let mut pos = 0;
        let (mut ip, mut ts, mut status) = (None, None, None);
        let (mut method, mut uri, mut referrer, mut ua) = (None, None, None, None);
        for (i, tok) in self.tokens.iter().enumerate() {
            match tok {
                Token::Literal(l) => {
                    if !line[pos..].starts_with(l.as_str()) {
                        // Trailing fields the format does not list are
                        // tolerated; a missing separator is not.
                        if i + 1 == self.tokens.len() && line.len() == pos {
                            break;
                        }
                        return Err(bad(format!(
                            "expected {:?} at column {}",
                            l.trim(),
                            pos + 1
                        )));
                    }
                    pos += l.len();
                }
                Token::Var(field) => {
                    let quoted = i > 0
                        && matches!(&self.tokens[i - 1], Token::Literal(l) if l.ends_with('"'));
                    let end = match self.tokens.get(i + 1) {
                        Some(Token::Literal(next)) if quoted && next.starts_with('"') => {
                            closing_quote(&line[pos..])
                                .ok_or_else(|| bad("a quoted field is not closed"))?
                        }
                        Some(Token::Literal(next)) => line[pos..]
                            .find(next.as_str())
                            .or_else(|| (i + 2 == self.tokens.len()).then(|| line.len() - pos))
                            .ok_or_else(|| bad(format!("expected {:?}", next.trim())))?,
                        _ => line.len() - pos,
                    };
                    let raw = &line[pos..pos + end];
                    pos += end;
                    let value = if quoted {
                        unescape(raw)
                    } else {
                        Cow::Borrowed(raw)
                    };
                    match field {
                        Field::RemoteAddr => {
                            ip = Some(
                                raw.parse::<IpAddr>()
                                    .map_err(|_| bad("the client address is not an IP address"))?,
                            )
                        }
                        Field::TimeLocal => ts = Some(clf_time(raw)?),
                        Field::TimeIso => ts = Some(iso_time(raw)?),
                        Field::Request => {
                            let mut parts = value.split(' ');
                            let m = parts.next().unwrap_or("").to_string();
                            let u = parts.next().unwrap_or("").to_string();
                            method = Some(Cow::Owned(m));
                            uri = Some(Cow::Owned(u));
                        }
                        Field::Method => method = Some(value),
                        Field::Uri => uri = Some(value),
                        Field::Status => {
                            status = Some(
                                raw.parse::<u16>()
                                    .map_err(|_| bad("the status is not a number"))?,
                            )
                        }
                        Field::Referer => referrer = Some(value),
                        Field::UserAgent => ua = Some(value),
                        Field::Ignored => {}
                    }
                }
            }
        }
        Ok(Request {
            ts_ms: ts.ok_or_else(|| bad("no time"))?,
            ip: ip.ok_or_else(|| bad("no client address"))?,
            method: method.unwrap_or(Cow::Borrowed("")),
            target: uri.unwrap_or(Cow::Borrowed("")),
            status: status.ok_or_else(|| bad("no status"))?,
            referrer: referrer.filter(|r| !r.is_empty() && r != "-"),
            user_agent: ua.filter(|u| u != "-").unwrap_or(Cow::Borrowed("")),
        })
    }
}

fn push(tokens: &mut Vec<Token>, lit: &mut String, field: Field) {
    if !lit.is_empty() {
        tokens.push(Token::Literal(std::mem::take(lit)));
    }
    tokens.push(Token::Var(field));
}

/// The offset of the first unescaped `"` in `s`.
fn closing_quote(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// nginx writes `\xHH` for a quote or a control byte, Apache `\"` and `\\`.
fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'x' if i + 3 < b.len() => {
                    match std::str::from_utf8(&b[i + 2..i + 4])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        Some(v) => {
                            out.push(v);
                            i += 4;
                        }
                        None => {
                            out.push(b'\\');
                            i += 1;
                        }
                    }
                }
                c @ (b'"' | b'\\') => {
                    out.push(c);
                    i += 2;
                }
                _ => {
                    out.push(b'\\');
                    i += 1;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_lines_parse_with_escapes() {
        let t = Template::nginx(COMBINED).unwrap();
        let r = t
            .parse(r#"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET /a?b=1 HTTP/1.1" 200 2326 "https://ref.example/x" "Mozilla/5.0 \x22q\x22 (X11)""#)
            .unwrap();
        assert_eq!(r.ts_ms, 971_211_336_000);
        assert_eq!(r.ip.to_string(), "203.0.113.9");
        assert_eq!((&*r.method, &*r.target, r.status), ("GET", "/a?b=1", 200));
        assert_eq!(r.referrer.as_deref(), Some("https://ref.example/x"));
        assert_eq!(r.user_agent, "Mozilla/5.0 \"q\" (X11)");
        // Apache escapes quotes with a backslash; trailing fields are fine.
        let a = Template::apache("%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"")
            .unwrap();
        let r = a
            .parse(r#"2001:db8::1 - frank [01/Mar/2024:00:00:00 +0000] "GET / HTTP/2.0" 304 - "-" "Agent \"x\"" "extra""#)
            .unwrap();
        assert_eq!(r.ts_ms, 1_709_251_200_000);
        assert_eq!(r.referrer, None);
        assert_eq!(r.user_agent, "Agent \"x\"");
        assert_eq!(r.status, 304);
    }

    #[test]
    fn malformed_lines_say_what_without_quoting_the_line() {
        let t = Template::nginx(COMBINED).unwrap();
        for line in [
            "",
            "garbage",
            r#"999.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "ua""#,
            r#"192.0.2.1 - - [10/Foo/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "ua""#,
            r#"192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" abc 1 "-" "ua""#,
            r#"192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "unclosed"#,
        ] {
            let e = t.parse(line).unwrap_err().to_string();
            assert!(!e.contains("192.0.2.1") && !e.contains("ua"), "{e}");
        }
    }

    #[test]
    fn custom_formats_need_the_essential_fields() {
        assert!(Template::nginx("$remote_addr [$time_local]").is_err());
        let t = Template::nginx(
            "$host $remote_addr [$time_iso8601] \"$request_method $request_uri\" $status \"$http_user_agent\" $request_time",
        )
        .unwrap();
        let r = t
            .parse(r#"example.com 192.0.2.7 [2024-05-01T10:00:00+02:00] "GET /x" 200 "UA/1" 0.003"#)
            .unwrap();
        assert_eq!(r.ts_ms, 1_714_550_400_000);
        assert_eq!((&*r.method, &*r.target), ("GET", "/x"));
    }
}
