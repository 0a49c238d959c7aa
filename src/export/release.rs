//! One release, in its fixed order: check the period; return the frozen
//! file if the period was released before; refuse a period that has not
//! settled (`settle`); otherwise claim the release (one claim wins across
//! requests and replicas; the others wait for its file); the winner
//! reserves the epsilon in every month the period touches (`budget`,
//! refused if it would overdraw one); count, suppress
//! within the table, then across everything the partner already holds
//! (`link`); noise and round ([`build_table`]); write the file; store the
//! file, the cells and the atoms; record the ledger row; hand it over.

use crate::store::Store;
use std::time::Duration;

use rand::{CryptoRng, Rng};
use sha2::{Digest, Sha256};

use super::bound::Sensitivity;
use super::link::{self, LinkedCell};
use super::period::Period;
use super::{budget, build_table, cells, check_period, format, ledger, linked, settle, suppress};
use super::{ExportError, ReleaseChannel, Released, Summary};
use crate::config::exports::{ExportSpec, LinkAudit};

/// How long a request waits for another request's release of the same
/// period before giving up.
const WAIT_FOR_OTHER: Duration = Duration::from_secs(120);

/// Which suppression a release applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linking {
    /// Across every release to the partner (what tacit does).
    Linked,
    /// Per table only: the behaviour before the linked audit, kept so tests
    /// can show that the attack harness finds what it protects against.
    PerTableOnly,
}

/// Make one release: compute, protect, write, record, return the file.
pub async fn release<R: Rng + CryptoRng + ?Sized>(
    store: &Store,
    spec: &ExportSpec,
    period: &str,
    now_ms: i64,
    event_ttl_days: u64,
    channel: ReleaseChannel,
    rng: &mut R,
) -> Result<Released, ExportError> {
    release_with(
        store,
        spec,
        period,
        now_ms,
        event_ttl_days,
        channel,
        rng,
        Linking::Linked,
    )
    .await
}

fn frozen(spec: &ExportSpec, c: ledger::CachedRelease) -> Released {
    let sha = hex::encode(Sha256::digest(&c.file));
    Released {
        summary: Summary {
            partner: spec.partner.clone(),
            export: spec.name.clone(),
            period: c.period,
            rows: c.rows,
            suppressed: c.suppressed,
            epsilon_spent: 0.0,
            sha256: sha,
            repeat: true,
        },
        bytes: c.file,
    }
}

/// [`release`] with a choice of suppression (tests only use the other).
#[allow(clippy::too_many_arguments)]
pub async fn release_with<R: Rng + CryptoRng + ?Sized>(
    store: &Store,
    spec: &ExportSpec,
    period: &str,
    now_ms: i64,
    event_ttl_days: u64,
    channel: ReleaseChannel,
    rng: &mut R,
    linking: Linking,
) -> Result<Released, ExportError> {
    let client = store.client();
    let p = check_period(spec, period, now_ms, event_ttl_days)?;
    let key = ledger::ReleaseKey {
        partner: &spec.partner,
        export: &spec.name,
        period: &p.label,
        config_hash: &spec.config_hash,
    };
    if let Some(c) = ledger::cached(client, &key).await? {
        return Ok(frozen(spec, c));
    }
    settle::check(client, &p, now_ms, spec.settle_ms).await?;
    let claim: String = hex::encode(rng.random::<[u8; 16]>());
    if !ledger::claim(client, &key, &claim).await? {
        return match ledger::wait_for(client, &key, WAIT_FOR_OTHER).await? {
            Some(c) => Ok(frozen(spec, c)),
            None => Err(ExportError::InProgress),
        };
    }
    let sensitivity = Sensitivity::of(spec, (p.end - p.start) as u64);
    // The winning claim reserves the budget before any noise is drawn.
    let charge = spec.dp.zip(sensitivity).map(|(dp, s)| budget::Charge {
        account: &spec.budget_account,
        partner: &spec.partner,
        export: &spec.name,
        period: &p,
        claim: &claim,
        epsilon_micros: dp.epsilon_micros,
        budget_micros: dp.budget_micros,
        sensitivity: s.total,
    });
    let mut reserved = None;
    if let Some(c) = &charge {
        match budget::reserve(store, c, rng).await {
            Ok(id) => reserved = Some(id),
            Err(e) => {
                let _ = ledger::abandon(client, &key, &claim).await;
                return Err(e);
            }
        }
    }
    let made = make(client, spec, &p, now_ms, channel, rng, linking, sensitivity).await;
    if made.is_err() {
        // A file that was frozen may still be handed over: its charge
        // stays. Otherwise give the charge and the claim up, so a later
        // request can try again.
        let frozen = matches!(ledger::cached(client, &key).await, Ok(Some(_)));
        if let (Some(c), Some(id), false) = (&charge, &reserved, frozen) {
            let _ = budget::abandon(store, c, id).await;
        }
        let _ = ledger::abandon(client, &key, &claim).await;
    }
    made
}

#[allow(clippy::too_many_arguments)]
async fn make<R: Rng + CryptoRng + ?Sized>(
    client: &clickhouse::Client,
    spec: &ExportSpec,
    p: &Period,
    now_ms: i64,
    channel: ReleaseChannel,
    rng: &mut R,
    linking: Linking,
    sensitivity: Option<Sensitivity>,
) -> Result<Released, ExportError> {
    let cells = cells::fetch(client, spec, p).await?;
    let mut hidden = suppress::suppress(&cells, spec.min_visitors)?;
    let atoms = linked::atoms_of(client, &spec.sites, &spec.finest, p).await?;
    let margins = linked::margins(client, spec, p).await?;
    if linking == Linking::Linked {
        // The per-table pass and the audit across releases, until neither
        // withholds anything more.
        let earlier = linked::load(client, &spec.partner, &spec.finest, p).await?;
        // What each audit found that still holds after the per-table pass
        // withholds more (cells passed, solutions, the margins' widths).
        let mut carry = link::Carry::default();
        while link_check(
            spec,
            p,
            &cells,
            &mut hidden,
            (&atoms, &margins),
            &earlier,
            &mut carry,
        )? {
            let again = suppress::suppress_from(&cells, spec.min_visitors, hidden.clone())?;
            if again == hidden {
                break;
            }
            hidden = again;
        }
    }
    let table = build_table(
        spec,
        &cells,
        &hidden,
        sensitivity.map_or(1, |s| s.total),
        rng,
    );
    let bytes = format::write(client, spec.format, &table).await?;
    let suppressed = hidden.iter().filter(|h| **h).count() as u64;
    let rows = table.rows.len() as u64;
    let epsilon = spec.dp.map_or(0.0, |d| d.epsilon);
    let sha = hex::encode(Sha256::digest(&bytes));
    // Stored before anything is handed over: the frozen file (every later
    // request gets these bytes), the cells and atoms (later releases are
    // audited against them), then the ledger row.
    let mut stored = linked::stored_cells(spec, p, &cells, &hidden);
    stored.extend(margins);
    linked::store(client, &spec.partner, &spec.finest, &stored, &atoms).await?;
    ledger::store(
        client,
        &ledger::CachedRelease {
            partner: spec.partner.clone(),
            export: spec.name.clone(),
            period: p.label.clone(),
            config_hash: spec.config_hash.clone(),
            created_at: now_ms,
            epsilon,
            rows,
            suppressed,
            file: bytes.clone(),
        },
    )
    .await?;
    ledger::append(
        client,
        &ledger::Disclosure {
            time: now_ms,
            partner: spec.partner.clone(),
            export: spec.name.clone(),
            period: p.label.clone(),
            channel: channel.as_str().into(),
            config_hash: spec.config_hash.clone(),
            sites: spec.sites.clone(),
            dimensions: spec.dimensions.iter().map(|d| d.name()).collect(),
            metrics: spec
                .metrics
                .iter()
                .map(|m| m.as_str().to_string())
                .collect(),
            min_visitors: spec.min_visitors as u32,
            epsilon_spent: epsilon,
            rows,
            suppressed,
            format: spec.format.extension().into(),
            file_sha256: sha.clone(),
            // The noise's scale, as derived (`bound`).
            note: sensitivity.map_or(String::new(), |s| {
                format!(
                    "discrete Laplace noise, epsilon {epsilon} over {}",
                    s.describe(spec)
                )
            }),
        },
    )
    .await?;
    Ok(Released {
        bytes,
        summary: Summary {
            partner: spec.partner.clone(),
            export: spec.name.clone(),
            period: p.label.clone(),
            rows,
            suppressed,
            epsilon_spent: epsilon,
            sha256: sha,
            repeat: false,
        },
    })
}

/// Withhold more cells of this release until no withheld small cell of any
/// release to the partner can be narrowed below the protection level, given
/// every file and every public margin the partner holds. Returns whether it
/// withheld anything.
fn link_check(
    spec: &ExportSpec,
    p: &Period,
    cells: &[cells::Cell],
    hidden: &mut [bool],
    (new_atoms, margins): (&[linked::Atom], &[linked::StoredCell]),
    earlier: &(Vec<linked::StoredCell>, Vec<linked::Atom>),
    carry: &mut link::Carry,
) -> Result<bool, ExportError> {
    let (earlier, atoms) = earlier;
    let mut atoms = atoms.clone();
    atoms.extend(new_atoms.iter().cloned());
    atoms.sort_by(|a, b| (&a.site, a.day, &a.keys).cmp(&(&b.site, b.day, &b.keys)));
    // One atom per site, day and values; loose where any release saw it so.
    atoms.dedup_by(|later, kept| {
        let same = (&later.site, later.day, &later.keys) == (&kept.site, kept.day, &kept.keys);
        if same {
            for l in later.loose.drain(..) {
                if !kept.loose.contains(&l) {
                    kept.loose.push(l);
                }
            }
        }
        same
    });
    let finest: Vec<String> = spec.finest.iter().map(|d| d.name()).collect();
    let index = linked::index(&atoms);
    let groups = linked::visitor_groups(&atoms, &finest);
    // Releases: the earlier ones, grouped, then the new one last (its
    // cells in order, then its margins).
    let mut releases: Vec<Vec<&linked::StoredCell>> = Vec::new();
    for c in earlier {
        match releases.last_mut() {
            Some(g)
                if g[0].export == c.export
                    && g[0].period == c.period
                    && g[0].config_hash == c.config_hash =>
            {
                g.push(c)
            }
            _ => releases.push(vec![c]),
        }
    }
    let new_stored = linked::stored_cells(spec, p, cells, hidden);
    releases.push(new_stored.iter().chain(margins).collect());
    let new = releases.len() - 1;
    let mut all: Vec<LinkedCell> = Vec::new();
    let mut new_offset = 0;
    for (r, g) in releases.iter().enumerate() {
        if r == new {
            new_offset = all.len();
        }
        let start = all.len();
        all.extend(linked::to_linked(r, g, &finest, &atoms, &index));
        // The protection is known for this export's own releases (the
        // config hash covers it), and for the new one.
        if r == new || g.first().is_some_and(|c| c.config_hash == spec.config_hash) {
            for c in &mut all[start..] {
                c.protection = spec.protection;
            }
        }
    }
    let mode = match spec.audit {
        LinkAudit::Fast => link::Mode::Implied,
        LinkAudit::Full => link::Mode::Searched,
    };
    let added = link::protect_with(&mut all, &groups, new, spec.protection, mode, carry)
        .map_err(ExportError::Linked)?;
    for &i in &added {
        hidden[i - new_offset] = true;
    }
    Ok(!added.is_empty())
}
