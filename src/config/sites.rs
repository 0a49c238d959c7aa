//! `[[sites]]`: each domain a hostname and listed once, its extra CORS
//! origins, its Umami website id (a UUID, unique), and its email key (32+
//! bytes as hex), the property keys it may store (`allowed_properties`).

use super::raw::RawSite;
use super::validate::invalid;
use super::{ConfigError, EmailKey, Site};

pub(super) fn validate(raw: &[RawSite]) -> Result<Vec<Site>, ConfigError> {
    let mut sites: Vec<Site> = Vec::new();
    for (i, site) in raw.iter().enumerate() {
        let d = site.domain.trim().to_ascii_lowercase();
        if !valid_domain(&d) {
            return Err(invalid(
                format!("sites[{i}].domain"),
                format!("not a hostname: {:?}", site.domain),
            ));
        }
        if sites.iter().any(|s| s.domain == d) {
            return Err(invalid(
                format!("sites[{i}].domain"),
                format!("duplicate site {d:?}"),
            ));
        }
        let mut origins = Vec::new();
        for (j, o) in site.origins.iter().enumerate() {
            let u = url::Url::parse(o)
                .map_err(|e| invalid(format!("sites[{i}].origins[{j}]"), format!("{e}: {o:?}")))?;
            origins.push(u.origin().ascii_serialization());
        }
        let umami = site.umami_website_id.trim().to_ascii_lowercase();
        if !umami.is_empty() {
            let uuid = umami.len() == 36
                && umami.bytes().enumerate().all(|(k, b)| {
                    if [8, 13, 18, 23].contains(&k) {
                        b == b'-'
                    } else {
                        b.is_ascii_hexdigit()
                    }
                });
            if !uuid {
                return Err(invalid(
                    format!("sites[{i}].umami_website_id"),
                    format!("not a UUID: {:?}", site.umami_website_id),
                ));
            }
            if sites
                .iter()
                .any(|s| s.umami_website_id.as_deref() == Some(umami.as_str()))
            {
                return Err(invalid(
                    format!("sites[{i}].umami_website_id"),
                    "used by another site",
                ));
            }
        }
        let email_key = match site.email_key.trim() {
            "" => None,
            k => match hex::decode(k) {
                Ok(b) if b.len() >= 32 => Some(EmailKey::new(b)),
                _ => return Err(invalid(
                    format!("sites[{i}].email_key"),
                    "must be at least 32 bytes as hex (64 hex digits; e.g. openssl rand -hex 32)",
                )),
            },
        };
        let allowed_properties = match &site.allowed_properties {
            None => None,
            Some(keys) => {
                let mut out: Vec<String> = Vec::new();
                for (j, k) in keys.iter().enumerate() {
                    // 300 bytes: the longest key a hit may send (ingest).
                    let k = k.trim();
                    if k.is_empty() || k.len() > 300 {
                        return Err(invalid(
                            format!("sites[{i}].allowed_properties[{j}]"),
                            format!("not a property key: {k:?}"),
                        ));
                    }
                    if !out.iter().any(|o| o == k) {
                        out.push(k.to_string());
                    }
                }
                Some(out)
            }
        };
        sites.push(Site {
            domain: d,
            origins,
            hash_routing: site.hash_routing,
            umami_website_id: (!umami.is_empty()).then_some(umami),
            email_key,
            allowed_properties,
        });
    }
    Ok(sites)
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
        })
}
