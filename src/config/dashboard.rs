//! `[dashboard]`: the secret that signs shared read-only dashboard links
//! (hex, at least 32 bytes; also `TACIT_DASHBOARD_SHARE_SECRET`, for
//! secret stores) and the ids of shared links that no longer open
//! (`revoked_shares`). No secret: no shared links.

use secrecy::{ExposeSecret, SecretSlice};

use super::raw::RawDashboard;
use super::validate::invalid;
use super::ConfigError;

/// The validated `[dashboard]` section.
#[derive(Clone, Default)]
pub struct DashboardConfig {
    /// The key of the links' HMAC-SHA256, if shared links are on.
    pub share_secret: Option<SecretSlice<u8>>,
    /// Revoked link ids (lower-case hex).
    pub revoked_shares: Vec<String>,
}

impl DashboardConfig {
    pub fn secret(&self) -> Option<&[u8]> {
        self.share_secret.as_ref().map(|s| s.expose_secret())
    }
}

impl std::fmt::Debug for DashboardConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardConfig")
            .field(
                "share_secret",
                &self.share_secret.as_ref().map(|_| "<secret>"),
            )
            .field("revoked_shares", &self.revoked_shares)
            .finish()
    }
}

/// A link id: 16 hex digits (what `POST /dashboard/api/share` hands out).
fn is_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(super) fn validate(raw: &RawDashboard) -> Result<DashboardConfig, ConfigError> {
    let share_secret =
        match raw.share_secret.trim() {
            "" => None,
            s => match hex::decode(s) {
                Ok(b) if b.len() >= 32 => Some(SecretSlice::from(b)),
                _ => return Err(invalid(
                    "dashboard.share_secret",
                    "must be at least 32 bytes as hex (64 hex digits; e.g. openssl rand -hex 32)",
                )),
            },
        };
    let mut revoked_shares = Vec::new();
    for (i, id) in raw.revoked_shares.iter().enumerate() {
        let id = id.trim().to_ascii_lowercase();
        if !is_id(&id) {
            return Err(invalid(
                format!("dashboard.revoked_shares[{i}]"),
                "a shared link's id: 16 hex digits",
            ));
        }
        revoked_shares.push(id);
    }
    Ok(DashboardConfig {
        share_secret,
        revoked_shares,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_secrets_and_ids_are_named() {
        let ok = validate(&RawDashboard {
            share_secret: "ab".repeat(32),
            revoked_shares: vec!["00112233AABBCCDD".into()],
        })
        .unwrap();
        assert_eq!(ok.secret(), Some(&[0xab; 32][..]));
        assert_eq!(ok.revoked_shares, ["00112233aabbccdd"]);
        let debug = format!("{ok:?}");
        assert!(
            !debug.contains("abab") && !debug.contains("171"),
            "the secret stays out of Debug: {debug}"
        );
        let e = validate(&RawDashboard {
            share_secret: "abcd".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("dashboard.share_secret"), "{e}");
        let e = validate(&RawDashboard {
            revoked_shares: vec!["x".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("dashboard.revoked_shares[0]"), "{e}");
        assert!(validate(&RawDashboard::default())
            .unwrap()
            .secret()
            .is_none());
    }
}
