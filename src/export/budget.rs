//! The monthly privacy budget, reserved with the claim of a release.
//!
//! Each account (`budget_account`, default the partner's name) has a
//! budget per calendar month, in millionths of epsilon. A release whose
//! period touches a month charges its epsilon to that month (sequential
//! composition). The charge is a row in `export_budget`, written by the
//! request that won the release's claim, before any noise is drawn:
//!
//! 1. In one process, reservations of one account run one at a time (a
//!    lock per account), so concurrent requests to one replica see each
//!    other's reservations and never refuse each other spuriously.
//! 2. Across replicas, each request inserts its reservation first and then
//!    reads every live reservation of the month, its own included; it keeps
//!    the reservation only if that total fits the budget, and otherwise
//!    gives it up (an `abandoned` row). If two reservations are both kept,
//!    the one read later was made after the other was inserted and
//!    acknowledged, so it counted both: the kept reservations of a month
//!    never add up to more than the budget. This needs a read to see every
//!    acknowledged insert: true of one server; on a cluster the inserts use
//!    `insert_quorum` and the reads `select_sequential_consistency`.
//! 3. A request that gave up because of reservations younger than a few
//!    seconds (others in flight) tries again after a random pause.
//!
//! A reservation whose release fails before its file is frozen is given
//! up; one whose file was frozen stays, since the file may still be handed
//! over. The account is not the export's definition: editing the export
//! (or renaming the partner, with `budget_account` kept) keeps what was
//! spent. [`check_accounts`] refuses a configuration that would drop an
//! account or raise a budget for a month that has already been spent from.

use crate::store::Store;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use rand::Rng;

use super::ledger::months_of;
use super::period::Period;
use super::ExportError;
use crate::config::exports::ExportSpec;
use crate::model::backoff::Backoff;
use crate::model::clock::{day_of, format_day};
use crate::model::sync::lock;

/// Reservations younger than this may still be given up by their request.
const IN_FLIGHT_SECONDS: u32 = 5;
/// Attempts when other reservations are in flight.
/// The wait before reserving again while other reservations are in flight.
const RESERVE_RETRY: Backoff = Backoff {
    base: Duration::from_millis(100),
    cap: Duration::from_secs(2),
};

const ATTEMPTS: u32 = 8;

/// One charge: an account, the months, what it pays for.
#[derive(Debug, Clone)]
pub struct Charge<'a> {
    pub account: &'a str,
    pub partner: &'a str,
    pub export: &'a str,
    pub period: &'a Period,
    /// The claim of the release (one reservation per claim).
    pub claim: &'a str,
    pub epsilon_micros: u64,
    pub budget_micros: u64,
    /// The release's L1 sensitivity (recorded with the charge).
    pub sensitivity: u64,
}

#[derive(clickhouse::Row, serde::Serialize)]
struct Row<'a> {
    account: &'a str,
    month: String,
    partner: &'a str,
    export: &'a str,
    period: &'a str,
    claim: &'a str,
    replica: &'a str,
    epsilon_micros: u64,
    budget_micros: u64,
    sensitivity: u64,
    abandoned: u8,
}

/// This process, in `export_budget.replica`: its own reservations are
/// never in flight when it reads (they run one at a time).
static REPLICA: LazyLock<String> = LazyLock::new(|| hex::encode(rand::random::<[u8; 8]>()));

static LOCKS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn account_lock(account: &str) -> Arc<tokio::sync::Mutex<()>> {
    lock(&LOCKS).entry(account.to_string()).or_default().clone()
}

/// The client, set so that on a cluster a read sees every acknowledged
/// insert and an insert is acknowledged by a quorum of replicas.
fn consistent(store: &Store) -> clickhouse::Client {
    let client = store.client();
    if store.cluster().is_some() {
        client
            .clone()
            .with_setting("select_sequential_consistency", "1")
            .with_setting("insert_quorum", "auto")
            .with_setting("insert_quorum_parallel", "0")
    } else {
        client.clone()
    }
}

async fn write(
    store: &Store,
    c: &Charge<'_>,
    id: &str,
    replica: &str,
    abandoned: u8,
) -> Result<(), clickhouse::error::Error> {
    let mut ins = consistent(store).insert::<Row<'_>>("export_budget").await?;
    for month in months_of(c.period.start, c.period.end) {
        ins.write(&Row {
            account: c.account,
            month,
            partner: c.partner,
            export: c.export,
            period: &c.period.label,
            claim: id,
            replica,
            epsilon_micros: c.epsilon_micros,
            budget_micros: c.budget_micros,
            sensitivity: c.sensitivity,
            abandoned,
        })
        .await?;
    }
    ins.end().await
}

/// Per month: (live reservations in total, the part younger than
/// [`IN_FLIGHT_SECONDS`] made by other processes).
async fn totals(
    store: &Store,
    account: &str,
    months: &[String],
    replica: &str,
) -> Result<BTreeMap<String, (u64, u64)>, clickhouse::error::Error> {
    let rows: Vec<(String, u64, u64)> = consistent(store)
            .query(&format!(
                "SELECT month, toUInt64(sum(epsilon_micros)),
                        toUInt64(sumIf(epsilon_micros, replica != {{replica:String}} AND reserved_at > now64(6) - INTERVAL {IN_FLIGHT_SECONDS} SECOND))
                 FROM export_budget
                 WHERE account = {{account:String}} AND has({{months:Array(String)}}, month) AND abandoned = 0
                   AND claim NOT IN (SELECT claim FROM export_budget
                                     WHERE account = {{account:String}} AND abandoned = 1)
                 GROUP BY month"
            ))
            .param("replica", replica)
            .param("account", account)
            .param("months", months)
    .fetch_all()
    .await?;
    Ok(rows.into_iter().map(|(m, t, r)| (m, (t, r))).collect())
}

/// Epsilon (millionths) kept per month of an account, every month.
pub async fn spent(
    store: &Store,
    account: &str,
) -> Result<BTreeMap<String, u64>, clickhouse::error::Error> {
    let rows: Vec<(String, u64)> = consistent(store)
        .query(
            "SELECT month, toUInt64(sum(epsilon_micros)) FROM export_budget
                 WHERE account = {account:String} AND abandoned = 0
                   AND claim NOT IN (SELECT claim FROM export_budget
                                     WHERE account = {account:String} AND abandoned = 1)
                 GROUP BY month ORDER BY month",
        )
        .param("account", account)
        .fetch_all()
        .await?;
    Ok(rows.into_iter().collect())
}

fn eps(micros: u64) -> f64 {
    micros as f64 / 1e6
}

/// Reserve the charge, or refuse it with the month it would overdraw;
/// returns the id of the reservation kept. Reservations of one account in
/// this process run one at a time.
pub async fn reserve<R: Rng + ?Sized>(
    store: &Store,
    c: &Charge<'_>,
    rng: &mut R,
) -> Result<String, ExportError> {
    let guard = account_lock(c.account);
    let _one_at_a_time = guard.lock().await;
    reserve_in_engine(store, c, &REPLICA, rng).await
}

/// The engine-side reservation alone, as process `replica` makes it: what
/// keeps replicas from overdrawing a month together.
pub async fn reserve_in_engine<R: Rng + ?Sized>(
    store: &Store,
    c: &Charge<'_>,
    replica: &str,
    rng: &mut R,
) -> Result<String, ExportError> {
    let months = months_of(c.period.start, c.period.end);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let id = format!("{}.{attempt}", c.claim);
        write(store, c, &id, replica, 0).await?;
        let seen = totals(store, c.account, &months, replica).await?;
        let over = months.iter().find_map(|m| {
            let (total, in_flight) = seen.get(m).copied().unwrap_or((0, 0));
            (total > c.budget_micros).then_some((m.clone(), total, in_flight))
        });
        let Some((month, total, in_flight)) = over else {
            return Ok(id);
        };
        write(store, c, &id, replica, 1).await?;
        let settled = total - in_flight;
        if settled > c.budget_micros || attempt >= ATTEMPTS {
            return Err(ExportError::Budget {
                partner: c.partner.to_string(),
                account: c.account.to_string(),
                month,
                spent: eps(total.saturating_sub(c.epsilon_micros)),
                budget: eps(c.budget_micros),
                epsilon: eps(c.epsilon_micros),
            });
        }
        // Other processes' reservations are in flight: some may give up.
        let pause = RESERVE_RETRY.next_delay(attempt - 1, rng);
        tokio::time::sleep(pause).await;
    }
}

/// Give a kept reservation up (its release failed before its file was
/// frozen).
pub async fn abandon(store: &Store, c: &Charge<'_>, id: &str) -> Result<(), ExportError> {
    Ok(write(store, c, id, &REPLICA, 1).await?)
}

/// A configuration that would reset an account, refused at start-up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    #[error("budget_account {account:?} has {spent} epsilon spent on {month}, which can still be released (until {until}), but no export charges it any more: if its partner was renamed, set budget_account = {account:?} on the partner's exports to carry the account over; otherwise keep one export charging it until then")]
    Dropped {
        account: String,
        month: String,
        spent: f64,
        until: String,
    },
    #[error("exports ({export}).budget: budget_account {account:?} spent {spent} of a monthly budget of {was} on {month}, which can still be released; raising it to {now} would reset what was spent. Keep {was} until {until}, or lower it")]
    Raised {
        export: String,
        account: String,
        month: String,
        spent: f64,
        was: f64,
        now: f64,
        until: String,
    },
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("clickhouse: {}", crate::store::log_safe(.0))]
    ClickHouse(#[from] clickhouse::error::Error),
}

/// One account's month as recorded: spent and the budget it was spent under.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, serde::Deserialize)]
pub struct RecordedSpend {
    pub account: String,
    pub month: String,
    pub spent_micros: u64,
    pub budget_micros: u64,
}

/// The first day after `month` (`YYYY-MM`) plus the event retention: until
/// then a period touching the month can still be released.
fn releasable_until(month: &str, event_ttl_days: u64) -> Option<i32> {
    let p = super::period::parse(month, crate::config::exports::Granularity::Month).ok()?;
    Some(p.end + event_ttl_days as i32)
}

/// Check the configured accounts against what was spent (pure): every
/// account with spending in a month that can still be released is still
/// charged by some export, with a budget no higher than the one it was
/// spent under.
pub fn check(
    exports: &[ExportSpec],
    recorded: &[RecordedSpend],
    today: i32,
    event_ttl_days: u64,
) -> Result<(), AccountError> {
    for r in recorded.iter().filter(|r| r.spent_micros > 0) {
        let Some(until) = releasable_until(&r.month, event_ttl_days) else {
            continue;
        };
        if until <= today {
            continue;
        }
        let mine: Vec<&ExportSpec> = exports
            .iter()
            .filter(|e| e.budget_account == r.account && e.dp.is_some())
            .collect();
        let Some(first) = mine.first() else {
            return Err(AccountError::Dropped {
                account: r.account.clone(),
                month: r.month.clone(),
                spent: eps(r.spent_micros),
                until: format_day(until),
            });
        };
        if let Some(dp) = first.dp.filter(|d| d.budget_micros > r.budget_micros) {
            return Err(AccountError::Raised {
                export: first.name.clone(),
                account: r.account.clone(),
                month: r.month.clone(),
                spent: eps(r.spent_micros),
                was: eps(r.budget_micros),
                now: dp.budget,
                until: format_day(until),
            });
        }
    }
    Ok(())
}

/// Read what was spent and [`check`] the configuration against it.
pub async fn check_accounts(
    store: &Store,
    exports: &[ExportSpec],
    now_ms: i64,
    event_ttl_days: u64,
) -> Result<(), CheckError> {
    let recorded: Vec<RecordedSpend> = consistent(store)
        .query(
            "SELECT account, month, toUInt64(sum(epsilon_micros)) AS spent_micros,
                    toUInt64(min(budget_micros)) AS budget_micros
             FROM export_budget
             WHERE abandoned = 0 AND claim NOT IN (SELECT claim FROM export_budget WHERE abandoned = 1)
             GROUP BY account, month ORDER BY account, month",
        )
        .fetch_all()
        .await?;
    Ok(check(exports, &recorded, day_of(now_ms), event_ttl_days)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::exports::{validate_all, RawExport};

    fn exports(partner: &str, account: Option<&str>, budget: f64) -> Vec<ExportSpec> {
        let mut raw: RawExport = toml::from_str(&format!(
            "name = \"d\"\npartner = \"{partner}\"\nsites = [\"example.com\"]\nperiod = \"day\"\ndimensions = [\"country\"]\nmetrics = [\"visitors\"]\nepsilon = 0.5\nbudget = {budget}\n"
        ))
        .unwrap();
        raw.budget_account = account.map(String::from);
        validate_all(&[raw], &["example.com".to_string()]).unwrap()
    }

    fn spent(account: &str, month: &str, spent: u64, budget: u64) -> RecordedSpend {
        RecordedSpend {
            account: account.into(),
            month: month.into(),
            spent_micros: spent,
            budget_micros: budget,
        }
    }

    #[test]
    fn a_rename_or_a_raise_cannot_reset_an_account() {
        // 2026-03-10; 30 days of events: March is releasable until May 1.
        let today =
            super::super::period::parse("2026-03-10", crate::config::exports::Granularity::Day)
                .unwrap()
                .start;
        let rec = [spent("acme", "2026-03", 1_500_000, 2_000_000)];
        assert!(check(&exports("acme", None, 2.0), &rec, today, 30).is_ok());
        let e = check(&exports("acme-corp", None, 2.0), &rec, today, 30).unwrap_err();
        assert!(matches!(e, AccountError::Dropped { .. }));
        assert!(e.to_string().contains("budget_account \"acme\""), "{e}");
        assert!(e.to_string().contains("2026-05-01"), "{e}");
        // Carried over under the new name.
        assert!(check(&exports("acme-corp", Some("acme"), 2.0), &rec, today, 30).is_ok());
        let e = check(&exports("acme", None, 3.0), &rec, today, 30).unwrap_err();
        assert!(e.to_string().contains("exports (d).budget"), "{e}");
        // Lowering is safe; a month no longer releasable does not count.
        assert!(check(&exports("acme", None, 1.0), &rec, today, 30).is_ok());
        assert!(check(&exports("other", None, 5.0), &rec, today + 60, 30).is_ok());
    }

    #[test]
    fn the_audit_store_is_kept_as_long_as_the_audit_links() {
        assert_eq!(
            crate::config::bound::LINK_HORIZON_DAYS as i32,
            super::super::linked::HORIZON_DAYS
        );
    }
}
