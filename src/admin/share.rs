//! Shared read-only dashboard links: a token names one site (and
//! optionally one filter every query of the link carries), signed with
//! HMAC-SHA256 under `[dashboard] share_secret`. Nothing is stored: a
//! link is valid while its signature checks and its id is not in
//! `[dashboard] revoked_shares`; rotating the secret revokes every link.
//!
//! Token: `base64url(payload) "." base64url(mac)`, where the payload is
//! JSON `{"id": "<16 hex>", "site": "<domain>", "filter": [op, dim,
//! [values]]}` (`filter` optional) and the MAC covers
//! `"tacit-share-v1\n"` followed by the encoded payload.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const CONTEXT: &[u8] = b"tacit-share-v1\n";
/// The longest token read, in bytes (a filter with a few values fits).
pub const MAX_TOKEN: usize = 2048;
/// Operators a link's filter may use: the dashboard's chips.
const OPS: &[&str] = &["is", "is_not", "contains", "contains_not"];

/// Why a link is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShareError {
    /// The server has no `share_secret`: shared links are off.
    #[error("shared links are off (set dashboard.share_secret)")]
    Off,
    /// Not a token, a bad signature, or a revoked id: one answer for all,
    /// so a guess learns nothing.
    #[error("this shared link is not valid, or was revoked")]
    Invalid,
    /// A link asked for with a filter that is not one condition.
    #[error("filter: one condition [operator, dimension, [values]] with is, is_not, contains or contains_not, not on event:goal")]
    Filter,
}

/// What a valid link grants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// 16 hex digits: what `revoked_shares` lists.
    pub id: String,
    /// The one site the link reads.
    pub site: String,
    /// A condition every query of the link carries, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<serde_json::Value>,
}

fn mac(secret: &[u8], payload: &str) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(CONTEXT);
    m.update(payload.as_bytes());
    m
}

/// Whether `f` is one condition the dashboard's chips can express. Not on
/// goals: a conversion rate divides by the visitors without the goal
/// filter, which would tell the link's holder what the link leaves out.
fn is_condition(f: &serde_json::Value) -> bool {
    let Some(a) = f.as_array() else { return false };
    a.len() == 3
        && a[0].as_str().is_some_and(|op| OPS.contains(&op))
        && a[1]
            .as_str()
            .is_some_and(|d| !d.is_empty() && d != "event:goal")
        && a[2]
            .as_array()
            .is_some_and(|v| !v.is_empty() && v.iter().all(|x| x.is_string()))
}

/// A new link for `site` (its id from `id_bytes`, random in production).
pub fn sign(
    secret: Option<&[u8]>,
    site: &str,
    filter: Option<serde_json::Value>,
    id_bytes: [u8; 8],
) -> Result<(Grant, String), ShareError> {
    let secret = secret.ok_or(ShareError::Off)?;
    if filter.as_ref().is_some_and(|f| !is_condition(f)) {
        return Err(ShareError::Filter);
    }
    let grant = Grant {
        id: hex::encode(id_bytes),
        site: site.to_string(),
        filter,
    };
    let json = serde_json::to_vec(&grant).map_err(|_| ShareError::Filter)?;
    let payload = URL_SAFE_NO_PAD.encode(json);
    let tag = URL_SAFE_NO_PAD.encode(mac(secret, &payload).finalize().into_bytes());
    Ok((grant, format!("{payload}.{tag}")))
}

/// The grant of a valid, unrevoked token.
pub fn verify(secret: Option<&[u8]>, revoked: &[String], token: &str) -> Result<Grant, ShareError> {
    let secret = secret.ok_or(ShareError::Off)?;
    if token.len() > MAX_TOKEN {
        return Err(ShareError::Invalid);
    }
    let (payload, tag) = token.split_once('.').ok_or(ShareError::Invalid)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| ShareError::Invalid)?;
    // Constant time (hmac's verify).
    mac(secret, payload)
        .verify_slice(&tag)
        .map_err(|_| ShareError::Invalid)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| ShareError::Invalid)?;
    let grant: Grant = serde_json::from_slice(&json).map_err(|_| ShareError::Invalid)?;
    if revoked.contains(&grant.id) {
        return Err(ShareError::Invalid);
    }
    if grant.filter.as_ref().is_some_and(|f| !is_condition(f)) {
        return Err(ShareError::Invalid);
    }
    Ok(grant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const K: &[u8] = &[7u8; 32];

    #[test]
    fn a_link_verifies_until_revoked_or_tampered() {
        let f = json!(["is", "visit:source", ["Google"]]);
        let (g, t) = sign(Some(K), "example.com", Some(f.clone()), [1; 8]).unwrap();
        assert_eq!(g.id, "0101010101010101");
        assert_eq!(verify(Some(K), &[], &t).unwrap(), g);
        assert_eq!(
            verify(Some(K), std::slice::from_ref(&g.id), &t),
            Err(ShareError::Invalid)
        );
        assert_eq!(verify(Some(&[8u8; 32]), &[], &t), Err(ShareError::Invalid));
        assert_eq!(verify(None, &[], &t), Err(ShareError::Off));
        // Another site under the same signature: refused.
        let (payload, tag) = t.split_once('.').unwrap();
        let mut j: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        j["site"] = json!("other.org");
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(j.to_string()));
        assert_eq!(verify(Some(K), &[], &forged), Err(ShareError::Invalid));
        assert_eq!(verify(Some(K), &[], "x"), Err(ShareError::Invalid));
        assert_eq!(
            verify(Some(K), &[], &"a.".repeat(2000)),
            Err(ShareError::Invalid)
        );
    }

    #[test]
    fn a_link_filter_is_one_condition() {
        let bad = [
            json!(["and", [["is", "visit:source", ["a"]]]]),
            json!(["matches", "event:page", [".*"]]),
            json!(["is", "visit:source", []]),
            json!(["is", "event:goal", ["signup"]]),
            json!("visit:source"),
        ];
        for f in bad {
            assert_eq!(
                sign(Some(K), "a.b", Some(f.clone()), [0; 8]).unwrap_err(),
                ShareError::Filter,
                "{f}"
            );
        }
        assert!(sign(Some(K), "a.b", None, [0; 8]).is_ok());
        assert_eq!(
            sign(None, "a.b", None, [0; 8]).unwrap_err(),
            ShareError::Off
        );
    }
}
