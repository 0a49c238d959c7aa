//! Email beacons through the pipeline: an open (`/e/o.gif`) or a click
//! (`/e/c`) becomes an [`EmailEvent`], a drop, or a refusal, in small
//! steps like a page view's: the site (which must have an email key), the
//! campaign and variant names, for a click the target and its signature,
//! the link kept as host and scrubbed path, request drops (link prefetches,
//! the opt-out cookie), the rate limit (not for the published networks of
//! mail proxies, which fetch every recipient's images), excluded
//! countries, consent signals, then the privacy step, which classifies
//! human or machine and builds the row. Bots are not dropped here: a
//! proxy's or scanner's open is counted as a machine's.

use super::{steps, DropReason, Pipeline, Rejection, RequestMeta};
use crate::model::clock::day_of;
use crate::model::email::{valid_label, EmailHit, EmailKind};
use crate::privacy::email::{self, EmailEvent, EmailFacts};
use crate::privacy::RawIdentity;

/// What became of an email beacon that was not refused.
#[derive(Debug)]
pub enum EmailOutcome {
    Store(EmailEvent),
    Drop {
        site: &'static str,
        reason: DropReason,
    },
}

/// A valid beacon: its outcome, and for a click the target to redirect to.
#[derive(Debug)]
pub struct EmailAccepted {
    pub outcome: EmailOutcome,
    pub redirect: Option<String>,
}

fn label(v: Option<&str>, required: bool, bad: Rejection) -> Result<String, Rejection> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None if required => Err(bad),
        None => Ok(String::new()),
        Some(v) if valid_label(v) => Ok(v.to_string()),
        Some(_) => Err(bad),
    }
}

impl Pipeline {
    pub fn process_email(
        &self,
        kind: EmailKind,
        hit: EmailHit,
        meta: &RequestMeta,
        identity: RawIdentity,
    ) -> Result<EmailAccepted, Rejection> {
        let site = self
            .sites
            .find(hit.site.as_deref().unwrap_or(""))
            .ok_or(Rejection::UnknownSite)?;
        let key = site.email_key.as_ref().ok_or(Rejection::EmailOff)?;
        let campaign = label(hit.campaign.as_deref(), true, Rejection::BadCampaign)?;
        let variant = label(hit.variant.as_deref(), false, Rejection::BadVariant)?;
        let (mut link_host, mut link_path, mut redirect) = (String::new(), String::new(), None);
        if kind == EmailKind::Click {
            let to = hit.to.as_deref().unwrap_or("").trim();
            let target = steps::parse_url(Some(to)).map_err(|_| Rejection::BadLink)?;
            let sig = hit.sig.as_deref().unwrap_or("");
            if !email::verify(key.expose(), site.domain, &campaign, &variant, to, sig) {
                return Err(Rejection::BadSignature);
            }
            // Kept as a page URL would be: host and scrubbed path, no query.
            let page = steps::page(&target, false, &self.policy);
            (link_host, link_path) = (page.hostname, page.pathname);
            redirect = Some(target.to_string());
        }
        let accepted = |outcome| {
            Ok(EmailAccepted {
                outcome,
                redirect: redirect.clone(),
            })
        };
        let drop = |reason| {
            accepted(EmailOutcome::Drop {
                site: site.domain,
                reason,
            })
        };
        if let Some(reason) = steps::request_drop(meta, &self.policy) {
            return drop(reason);
        }
        // Mail proxies fetch every recipient's images from a few networks:
        // limited per network, their opens would be dropped, not counted.
        if let Some(l) = &self.limiter {
            if !email::from_mail_network(&identity, &self.enrichers)
                && !l.allow(identity.network_key(&l.key))
            {
                return drop(DropReason::RateLimited);
            }
        }
        if let Some(g) = &self.enrichers.geo {
            if steps::excluded_country(&identity.country(g), &self.policy) {
                return drop(DropReason::ExcludedCountry);
            }
        }
        let anonymous = match steps::consent(meta, &self.policy) {
            Err(reason) => return drop(reason),
            Ok(a) => a,
        };
        let facts = EmailFacts {
            site: site.domain,
            kind,
            campaign,
            variant,
            link_host,
            link_path,
        };
        let now = self.clock.now_ms();
        let salt = (!anonymous).then(|| self.salts.key_for(day_of(now)));
        accepted(EmailOutcome::Store(email::anonymize(
            facts,
            identity,
            &self.enrichers,
            salt.as_deref(),
            &self.bursts,
            now,
        )))
    }
}
