//! Server access logs, one request per line: nginx and Apache (the
//! combined format, or a `log_format` given in either server's syntax),
//! Caddy's JSON access log, and the CloudFront standard log (tab-separated
//! under a `#Fields:` header). Each line becomes a [`Request`]: time, client
//! address, method, target, status, referrer and user agent; nothing else
//! of the line is kept. A line that does not parse is a [`LineError`],
//! which names what was wrong and never quotes the line (it holds an
//! address and a user agent). The formats' parsers: `template.rs` (nginx,
//! Apache), `cdn.rs` (Caddy, CloudFront); the times they share are here.

use std::borrow::Cow;
use std::net::IpAddr;

/// One request of an access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// Milliseconds since the epoch, UTC.
    pub ts_ms: i64,
    pub ip: IpAddr,
    pub method: Cow<'a, str>,
    /// Path and query, as requested.
    pub target: Cow<'a, str>,
    pub status: u16,
    pub referrer: Option<Cow<'a, str>>,
    pub user_agent: Cow<'a, str>,
}

/// Why a line is not a request of the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LineError(pub String);

pub(super) fn bad(what: impl Into<String>) -> LineError {
    LineError(what.into())
}

/// What one line holds.
#[derive(Debug)]
pub enum Parsed<'a> {
    Request(Request<'a>),
    /// A header or comment line (CloudFront's `#Fields:`), or a JSON line
    /// that is not an access entry (Caddy writes other loggers' lines too).
    Other,
}

/// Days since the epoch of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str, what: &str) -> Result<u32, LineError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!("the time's {what} is not a number")));
    }
    s.parse()
        .map_err(|_| bad(format!("the time's {what} is out of range")))
}

/// `10/Oct/2000:13:55:36 -0700` (the common log format's time).
pub fn clf_time(s: &str) -> Result<i64, LineError> {
    let b = s.as_bytes();
    if b.len() < 26
        || !b[..26].is_ascii()
        || b[2] != b'/'
        || b[6] != b'/'
        || b[11] != b':'
        || b[20] != b' '
    {
        return Err(bad("the time is not dd/Mon/yyyy:hh:mm:ss +zzzz"));
    }
    let day = num(&s[0..2], "day")?;
    let month = match &s[3..6] {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return Err(bad("the time's month is not a month")),
    };
    let year = num(&s[7..11], "year")?;
    let (h, mi, se) = (
        num(&s[12..14], "hour")?,
        num(&s[15..17], "minute")?,
        num(&s[18..20], "second")?,
    );
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(bad("the time's offset has no sign")),
    };
    let (oh, om) = (num(&s[22..24], "offset")?, num(&s[24..26], "offset")?);
    if day == 0 || day > 31 || h > 23 || mi > 59 || se > 60 {
        return Err(bad("the time is out of range"));
    }
    let secs = days_from_civil(year as i64, month, day) * 86_400 + (h * 3600 + mi * 60 + se) as i64
        - sign * (oh * 3600 + om * 60) as i64;
    Ok(secs * 1000)
}

/// An RFC 3339 time with its offset.
pub fn iso_time(s: &str) -> Result<i64, LineError> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| bad("the time is not an ISO 8601 time with an offset"))
}

/// `%HH` decoded once; anything else kept.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

pub use super::cdn::{caddy, CloudFront};
pub use super::template::{Template, COMBINED};
