//! The address ranges of email image proxies and link scanners (Gmail's
//! image proxy, Apple Mail Privacy Protection, Microsoft Defender, Yahoo,
//! Proofpoint, Mimecast, Barracuda…), from `mail-networks.csv`, which
//! `scripts/fetch-data` cuts out of the registry's ASN ranges for the
//! operators listed in `scripts/data/mail-networks.txt`. Looked up only
//! from `privacy/`, which owns the IP.

use std::net::IpAddr;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailNetError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} line {line}: expected operator,first,last,asn with two addresses of one family"
    )]
    Line { path: String, line: usize },
    #[error("{path}: no ranges (run scripts/fetch-data)")]
    Empty { path: String },
}

/// Sorted, non-overlapping ranges (IPv4 as IPv4-mapped IPv6).
pub struct MailNetworks {
    ranges: Vec<(u128, u128, u16)>,
    /// Operator names, for the life of the process (a handful, stored as
    /// labels on email rows).
    operators: Vec<&'static str>,
}

fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(v4.to_ipv6_mapped()),
            None => u128::from(v6),
        },
    }
}

impl MailNetworks {
    pub fn load(path: &Path) -> Result<Self, MailNetError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| MailNetError::Read {
            path: p.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|line| match line {
            0 => MailNetError::Empty { path: p.clone() },
            line => MailNetError::Line { path: p, line },
        })
    }

    /// Parse the CSV; `Err(line)` names the first bad line (0: no ranges).
    pub fn parse(text: &str) -> Result<Self, usize> {
        let mut operators: Vec<&'static str> = Vec::new();
        let mut ranges = Vec::new();
        for (i, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.is_empty() || l.starts_with("operator,") {
                continue;
            }
            let f: Vec<&str> = l.split(',').collect();
            let parsed = match f.as_slice() {
                [op, a, z, _asn] => a
                    .parse::<IpAddr>()
                    .ok()
                    .zip(z.parse::<IpAddr>().ok())
                    .filter(|(a, z)| a.is_ipv4() == z.is_ipv4() && key(*a) <= key(*z))
                    .map(|(a, z)| (*op, key(a), key(z))),
                _ => None,
            };
            let Some((op, a, z)) = parsed else {
                return Err(i + 1);
            };
            let idx = match operators.iter().position(|o| *o == op) {
                Some(k) => k,
                None => {
                    operators.push(crate::model::intern::intern(op));
                    operators.len() - 1
                }
            };
            ranges.push((a, z, idx as u16));
        }
        if ranges.is_empty() {
            return Err(0);
        }
        ranges.sort_unstable();
        Ok(Self { ranges, operators })
    }

    /// The operator whose range holds `ip`, if any.
    pub fn operator(&self, ip: IpAddr) -> Option<&'static str> {
        let k = key(ip);
        let i = self.ranges.partition_point(|r| r.0 <= k);
        let (_, z, op) = *self.ranges.get(i.checked_sub(1)?)?;
        (k <= z).then(|| self.operators[op as usize])
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_found_and_gaps_are_not() {
        let n = MailNetworks::parse(
            "operator,first,last,asn\n\
             apple,17.0.0.0,17.253.1.255,714\n\
             google,66.102.0.0,66.102.15.255,15169\n\
             google,2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169\n",
        )
        .unwrap();
        let op = |ip: &str| n.operator(ip.parse().unwrap());
        assert_eq!(op("17.58.63.1"), Some("apple"));
        assert_eq!(op("17.253.1.255"), Some("apple"));
        assert_eq!(op("17.253.2.0"), None);
        assert_eq!(op("66.102.8.10"), Some("google"));
        assert_eq!(op("::ffff:66.102.8.10"), Some("google"));
        assert_eq!(op("2001:4860:4860::8888"), Some("google"));
        assert_eq!(op("16.255.255.255"), None);
        assert_eq!(op("81.2.69.160"), None);
        assert_eq!(
            MailNetworks::parse("apple,17.0.0.0,::1,714\n").err(),
            Some(1)
        );
        assert_eq!(
            MailNetworks::parse("operator,first,last,asn\n").err(),
            Some(0)
        );
    }
}
