//! The access logs of Caddy (one JSON object a line) and of CloudFront
//! (the standard log: tab-separated under a `#Fields:` header).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use super::access::{bad, iso_time, percent_decode, LineError, Parsed, Request};

#[derive(serde::Deserialize)]
struct CaddyLine<'a> {
    ts: Option<serde_json::Value>,
    #[serde(borrow)]
    request: Option<CaddyRequest<'a>>,
    status: Option<u16>,
}

#[derive(serde::Deserialize)]
struct CaddyRequest<'a> {
    #[serde(borrow)]
    remote_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    client_ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow)]
    uri: Cow<'a, str>,
    #[serde(default)]
    headers: BTreeMap<String, Vec<String>>,
}

/// One line of Caddy's JSON access log (`ts` as seconds, or a time
/// string if `time_format` was set; `client_ip` before `remote_ip`).
pub fn caddy(line: &str) -> Result<Parsed<'_>, LineError> {
    let l: CaddyLine = serde_json::from_str(line).map_err(|_| bad("not a JSON object"))?;
    let Some(r) = l.request else {
        return Ok(Parsed::Other);
    };
    let ts_ms = match l.ts {
        Some(serde_json::Value::Number(n)) => n
            .as_f64()
            .map(|f| (f * 1000.0).round() as i64)
            .ok_or_else(|| bad("ts is not a time"))?,
        Some(serde_json::Value::String(s)) => iso_time(&s)?,
        _ => return Err(bad("no ts")),
    };
    let ip = r
        .client_ip
        .filter(|s| !s.is_empty())
        .or(r.remote_ip)
        .ok_or_else(|| bad("no client address"))?
        .parse::<IpAddr>()
        .map_err(|_| bad("the client address is not an IP address"))?;
    let header = |name: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first().cloned())
    };
    Ok(Parsed::Request(Request {
        ts_ms,
        ip,
        method: r.method,
        target: r.uri,
        status: l.status.ok_or_else(|| bad("no status"))?,
        referrer: header("referer").filter(|s| !s.is_empty()).map(Cow::Owned),
        user_agent: Cow::Owned(header("user-agent").unwrap_or_default()),
    }))
}

/// The column positions of a CloudFront standard log (`#Fields:`).
#[derive(Debug, Clone, Default)]
pub struct CloudFront {
    cols: Option<CloudFrontCols>,
}

#[derive(Debug, Clone, Copy)]
struct CloudFrontCols {
    date: usize,
    time: usize,
    ip: usize,
    method: usize,
    stem: usize,
    status: usize,
    referer: usize,
    ua: usize,
    query: Option<usize>,
    width: usize,
}

impl CloudFront {
    /// One line: a `#Fields:` header sets the columns for the lines after it.
    pub fn parse<'a>(&mut self, line: &'a str) -> Result<Parsed<'a>, LineError> {
        if let Some(fields) = line.strip_prefix("#Fields:") {
            let names: Vec<&str> = fields.split_whitespace().collect();
            let at = |n: &str| names.iter().position(|f| *f == n);
            let need = |n: &str| at(n).ok_or_else(|| bad(format!("#Fields has no {n}")));
            self.cols = Some(CloudFrontCols {
                date: need("date")?,
                time: need("time")?,
                ip: need("c-ip")?,
                method: need("cs-method")?,
                stem: need("cs-uri-stem")?,
                status: need("sc-status")?,
                referer: need("cs(Referer)")?,
                ua: need("cs(User-Agent)")?,
                query: at("cs-uri-query"),
                width: names.len(),
            });
            return Ok(Parsed::Other);
        }
        if line.starts_with('#') {
            return Ok(Parsed::Other);
        }
        let c = self
            .cols
            .ok_or_else(|| bad("a request line before the #Fields header"))?;
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < c.width {
            return Err(bad(format!(
                "{} tab-separated fields where #Fields lists {}",
                f.len(),
                c.width
            )));
        }
        let ts_ms = iso_time(&format!("{}T{}Z", f[c.date], f[c.time]))?;
        let ip = f[c.ip]
            .parse::<IpAddr>()
            .map_err(|_| bad("c-ip is not an IP address"))?;
        let dash = |s: &'a str| (s != "-" && !s.is_empty()).then_some(s);
        let query = c.query.and_then(|q| dash(f[q]));
        let target = match query {
            Some(q) => Cow::Owned(format!("{}?{q}", f[c.stem])),
            None => Cow::Borrowed(f[c.stem]),
        };
        Ok(Parsed::Request(Request {
            ts_ms,
            ip,
            method: Cow::Borrowed(f[c.method]),
            target,
            status: f[c.status]
                .parse()
                .map_err(|_| bad("sc-status is not a number"))?,
            referrer: dash(f[c.referer]).map(percent_decode),
            // CloudFront URL-encodes the agent (spaces as `%20`).
            user_agent: dash(f[c.ua]).map(percent_decode).unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caddy_and_cloudfront_lines() {
        let line = r#"{"level":"info","ts":1714557600.25,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"10.0.0.1","client_ip":"192.0.2.5","proto":"HTTP/2.0","method":"GET","host":"example.com","uri":"/p?q=1","headers":{"User-Agent":["UA/2"],"Referer":["https://r.example/"]}},"status":200}"#;
        let Parsed::Request(r) = caddy(line).unwrap() else {
            panic!()
        };
        assert_eq!(r.ts_ms, 1_714_557_600_250);
        assert_eq!(r.ip.to_string(), "192.0.2.5");
        assert_eq!(r.user_agent, "UA/2");
        assert!(matches!(
            caddy(r#"{"level":"info","ts":1,"msg":"started"}"#).unwrap(),
            Parsed::Other
        ));
        let mut cf = CloudFront::default();
        assert!(cf.parse("#Version: 1.0").is_ok());
        assert!(cf.parse("2024-05-01\t10:00:00").is_err());
        cf.parse("#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query")
            .unwrap();
        let Parsed::Request(r) = cf
            .parse("2024-05-01\t10:00:00\tFRA2\t100\t198.51.100.3\tGET\td1.cloudfront.net\t/a\t200\t-\tMozilla/5.0%20(X11;%20Linux)\tx=1")
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(r.ts_ms, 1_714_557_600_000);
        assert_eq!(r.target, "/a?x=1");
        assert_eq!(r.user_agent, "Mozilla/5.0 (X11; Linux)");
        assert_eq!(r.referrer, None);
    }
}
