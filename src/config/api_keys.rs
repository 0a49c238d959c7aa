//! `[[sites]] api_keys_sha256` and `api_rate_limit_per_hour`: the keys that
//! may read a site's statistics through the query API, configured as
//! SHA-256 digests (64 hex digits each), so the configuration never holds
//! a key; and how many requests each key may make per hour.

use super::raw::RawSite;
use super::validate::invalid;
use super::ConfigError;

/// Plausible's default: 600 requests per key and hour.
pub const DEFAULT_PER_HOUR: u32 = 600;

/// One site's query API keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteKeys {
    /// The site's domain, as `[[sites]] domain` validated (lower case).
    pub site: String,
    /// SHA-256 digests of the keys.
    pub sha256: Vec<[u8; 32]>,
    /// Requests per key and hour.
    pub per_hour: u32,
}

/// Every site's keys (sites without keys are left out). A digest that is
/// not 64 hex digits, or one listed for two sites, is refused by name.
pub(super) fn validate(raw: &[RawSite]) -> Result<Vec<SiteKeys>, ConfigError> {
    let mut out: Vec<SiteKeys> = Vec::new();
    for (i, site) in raw.iter().enumerate() {
        let mut sha256 = Vec::new();
        for (j, k) in site.api_keys_sha256.iter().enumerate() {
            let key = format!("sites[{i}].api_keys_sha256[{j}]");
            let mut h = [0u8; 32];
            if hex::decode_to_slice(k.trim().to_ascii_lowercase(), &mut h).is_err() {
                return Err(invalid(
                    key,
                    "must be 64 hex digits: the SHA-256 of the key, never the key itself (e.g. printf %s \"$KEY\" | sha256sum)",
                ));
            }
            if out.iter().any(|s| s.sha256.contains(&h)) || sha256.contains(&h) {
                return Err(invalid(key, "the same key is listed twice"));
            }
            sha256.push(h);
        }
        let per_hour = match site.api_rate_limit_per_hour {
            None => DEFAULT_PER_HOUR,
            Some(n @ 1..=1_000_000) => n as u32,
            Some(_) => {
                return Err(invalid(
                    format!("sites[{i}].api_rate_limit_per_hour"),
                    "must be between 1 and 1000000",
                ))
            }
        };
        if !sha256.is_empty() {
            out.push(SiteKeys {
                site: site.domain.trim().to_ascii_lowercase(),
                sha256,
                per_hour,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(keys: &[&str]) -> RawSite {
        RawSite {
            domain: "Example.com".into(),
            api_keys_sha256: keys.iter().map(|k| k.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn keys_are_digests_and_bad_ones_are_named() {
        let good = "ab".repeat(32);
        let v = validate(&[site(&[&good])]).unwrap();
        assert_eq!(v[0].site, "example.com");
        assert_eq!(v[0].sha256, vec![[0xab; 32]]);
        assert_eq!(v[0].per_hour, DEFAULT_PER_HOUR);
        let e = validate(&[site(&[&good, "not-hex"])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("sites[0].api_keys_sha256[1]"), "{e}");
        let e = validate(&[site(&[&good]), site(&[&good.to_uppercase()])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("sites[1].api_keys_sha256[0]"), "{e}");
        let mut s = site(&[&good]);
        s.api_rate_limit_per_hour = Some(0);
        let e = validate(&[s]).unwrap_err().to_string();
        assert!(e.contains("sites[0].api_rate_limit_per_hour"), "{e}");
        assert!(validate(&[site(&[])]).unwrap().is_empty());
    }
}
