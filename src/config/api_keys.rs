//! `[[sites]] api_keys_sha256` and `api_rate_limit_per_hour`: the keys that
//! may read a site's statistics through the query API, configured as
//! SHA-256 digests (64 hex digits each), so the configuration never holds
//! a key; and how many requests each key may make per hour. Also
//! `import_keys_sha256`, the keys that may upload history into the site:
//! a separate list, so a key handed out to read never writes.

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
    /// SHA-256 digests of the keys that read (the query API).
    pub sha256: Vec<[u8; 32]>,
    /// SHA-256 digests of the keys that upload imports.
    pub import_sha256: Vec<[u8; 32]>,
    /// Requests per key and hour.
    pub per_hour: u32,
}

/// Every site's keys (sites without keys are left out). A digest that is
/// not 64 hex digits, or one listed for two sites, is refused by name.
pub(super) fn validate(raw: &[RawSite]) -> Result<Vec<SiteKeys>, ConfigError> {
    let mut out: Vec<SiteKeys> = Vec::new();
    let mut seen: Vec<[u8; 32]> = Vec::new();
    for (i, site) in raw.iter().enumerate() {
        let sha256 = digests(i, "api_keys_sha256", &site.api_keys_sha256, &mut seen)?;
        let import_sha256 = digests(i, "import_keys_sha256", &site.import_keys_sha256, &mut seen)?;
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
        if !sha256.is_empty() || !import_sha256.is_empty() {
            out.push(SiteKeys {
                site: site.domain.trim().to_ascii_lowercase(),
                sha256,
                import_sha256,
                per_hour,
            });
        }
    }
    Ok(out)
}

/// One list of digests (`sites[i].<list>`), each new to `seen`: a key
/// listed twice, for two sites or both to read and to import, is refused.
fn digests(
    i: usize,
    list: &str,
    raw: &[String],
    seen: &mut Vec<[u8; 32]>,
) -> Result<Vec<[u8; 32]>, ConfigError> {
    let mut out = Vec::new();
    for (j, k) in raw.iter().enumerate() {
        let key = format!("sites[{i}].{list}[{j}]");
        let mut h = [0u8; 32];
        if hex::decode_to_slice(k.trim().to_ascii_lowercase(), &mut h).is_err() {
            return Err(invalid(
                key,
                "must be 64 hex digits: the SHA-256 of the key, never the key itself (e.g. printf %s \"$KEY\" | sha256sum)",
            ));
        }
        if seen.contains(&h) {
            return Err(invalid(
                key,
                "the same key is listed twice (a key reads one site, or imports into one; never both)",
            ));
        }
        seen.push(h);
        out.push(h);
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

    #[test]
    fn import_keys_are_their_own_list_and_never_a_read_key() {
        let read = "ab".repeat(32);
        let write = "cd".repeat(32);
        let mut s = site(&[&read]);
        s.import_keys_sha256 = vec![write.clone()];
        let v = validate(&[s.clone()]).unwrap();
        assert_eq!(v[0].sha256, vec![[0xab; 32]]);
        assert_eq!(v[0].import_sha256, vec![[0xcd; 32]]);
        s.import_keys_sha256 = vec![read.clone()];
        let e = validate(&[s]).unwrap_err().to_string();
        assert!(e.contains("sites[0].import_keys_sha256[0]"), "{e}");
        let mut only = site(&[]);
        only.import_keys_sha256 = vec![write];
        assert!(validate(&[only]).unwrap()[0].sha256.is_empty());
    }
}
