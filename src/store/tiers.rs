//! Every table tacit keeps and every column in it, classified in one place:
//! which retention tier it belongs to and what decides its lifetime. The
//! TTLs `serve` sets come from here, `tacit policy` prints it against the
//! live schema, and a test fails when a column exists that is not listed
//! (or a listed one is gone), so nothing is stored without a stated tier.

/// How long a table's rows live, and what may be in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Pseudonymous rows about visitors (visitor ids, visits, millisecond
    /// times): kept `policy.event_ttl_days`.
    Event,
    /// Counts only: no visitor ids, no sketches, no per-visit rows, nothing
    /// finer than an hour. Kept `policy.aggregate_ttl_months`.
    Aggregate,
    /// tacit's own bookkeeping (salts of the last three days, migrations,
    /// rollup versions, funnel definitions): no data about visitors.
    Operations,
    /// What was disclosed to partners or erased, kept as the record the
    /// policy promises (the disclosure report); counts, never visitor data.
    Ledger,
    /// The partner-audit store: what each partner was given (cells, with
    /// the exact counts of withheld ones) and which combinations existed,
    /// per site and day; kept only while a new release can still be linked
    /// to it, and purged with the site.
    Audit,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Event => "event",
            Tier::Aggregate => "aggregate",
            Tier::Operations => "operations",
            Tier::Ledger => "ledger",
            Tier::Audit => "partner audit",
        }
    }
}

/// What sets a table's TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// `policy.event_ttl_days` after this column.
    EventDays(&'static str),
    /// `policy.aggregate_ttl_months` after this column.
    AggregateMonths(&'static str),
    /// A fixed TTL in the migration (salts: three days), or none (the
    /// ledger and migrations are kept).
    Fixed,
    /// As long as a new partner release can be linked to the row: a new
    /// release starts at most `policy.event_ttl_days` ago and links to
    /// releases ending up to [`LINK_HORIZON_DAYS`] before it, so this column
    /// plus the event retention plus these extra days.
    Horizon(&'static str, u32),
}

pub use crate::config::bound::LINK_HORIZON_DAYS;

/// One table: its tier, lifetime and columns.
#[derive(Debug, Clone, Copy)]
pub struct StoredTable {
    pub name: &'static str,
    pub tier: Tier,
    pub lifetime: Lifetime,
    pub columns: &'static [&'static str],
}

const fn t(
    name: &'static str,
    tier: Tier,
    lifetime: Lifetime,
    columns: &'static [&'static str],
) -> StoredTable {
    StoredTable {
        name,
        tier,
        lifetime,
        columns,
    }
}

use Lifetime::*;
use Tier::*;

/// Every table with data, and every column of each.
pub const TABLES: &[StoredTable] = &[
    t(
        "events",
        Event,
        EventDays("toDateTime(ts)"),
        &[
            "site",
            "ts",
            "name",
            "hostname",
            "pathname",
            "query",
            "referrer_host",
            "referrer_source",
            "channel",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_content",
            "utm_term",
            "visitor_id",
            "consent",
            "ip_prefix",
            "country",
            "region",
            "city",
            "browser",
            "browser_version",
            "os",
            "os_version",
            "device",
            "language",
            "screen_width",
            "screen",
            "prop_keys",
            "prop_values",
            "interactive",
            "revenue_amount",
            "revenue_currency",
            "scroll_depth",
            "engaged_ms",
            "visit_id",
        ],
    ),
    t(
        "sessions",
        Event,
        EventDays("day"),
        &[
            "site",
            "day",
            "visitor_id",
            "start",
            "end",
            "pageviews",
            "events",
            "entry_page",
            "exit_page",
            "referrer_source",
            "channel",
            "utm_campaign",
            "country",
            "device",
            "event_names",
            "pages",
            "steps",
            "version",
        ],
    ),
    t(
        "rollup_hourly",
        Aggregate,
        AggregateMonths("hour"),
        &[
            "site",
            "hour",
            "pageviews",
            "events",
            "visitors",
            "version",
            "day",
        ],
    ),
    t(
        "rollup_daily",
        Aggregate,
        AggregateMonths("day"),
        &[
            "site",
            "day",
            "dimension",
            "value",
            "pageviews",
            "events",
            "visitors",
            "version",
        ],
    ),
    t(
        "rollup_filtered_daily",
        Event,
        EventDays("day"),
        &[
            "site",
            "day",
            "filter",
            "filter_value",
            "dimension",
            "value",
            "pageviews",
            "events",
            "visitors",
            "version",
        ],
    ),
    t(
        "rollup_visits_filtered_daily",
        Event,
        EventDays("day"),
        &[
            "site",
            "day",
            "filter",
            "filter_value",
            "kind",
            "value",
            "visits",
            "bounces",
            "duration_s",
            "pageviews",
            "version",
        ],
    ),
    t(
        "rollup_landing_daily",
        Aggregate,
        AggregateMonths("day"),
        &[
            "site",
            "day",
            "dimension",
            "value",
            "pageviews",
            "events",
            "visitors",
            "version",
        ],
    ),
    t(
        "rollup_visits_daily",
        Aggregate,
        AggregateMonths("day"),
        &[
            "site",
            "day",
            "kind",
            "value",
            "visits",
            "bounces",
            "duration_s",
            "pageviews",
            "version",
        ],
    ),
    t(
        "rollup_goals_daily",
        Aggregate,
        AggregateMonths("day"),
        &[
            "site",
            "day",
            "goal_kind",
            "goal",
            "converted_visits",
            "version",
        ],
    ),
    t(
        "rollup_funnels_daily",
        Aggregate,
        AggregateMonths("day"),
        &["site", "day", "funnel", "step", "name", "visits", "version"],
    ),
    t(
        "email_events",
        Event,
        EventDays("toDateTime(ts)"),
        &[
            "site",
            "ts",
            "kind",
            "campaign",
            "variant",
            "link_host",
            "link_path",
            "visitor_id",
            "consent",
            "class",
            "machine",
            "operator",
        ],
    ),
    t(
        "rollup_email_daily",
        Aggregate,
        AggregateMonths("day"),
        &[
            "site", "day", "campaign", "variant", "kind", "link", "class", "machine", "events",
            "visitors", "version",
        ],
    ),
    t(
        "dropped_hits",
        Aggregate,
        AggregateMonths("day"),
        &["day", "site", "reason", "hits"],
    ),
    t(
        "rollup_days",
        Operations,
        AggregateMonths("day"),
        &["day", "version", "computed_at"],
    ),
    t("salts", Operations, Fixed, &["day", "salt", "created_at"]),
    t(
        "purge_fences",
        Operations,
        Fixed,
        &["id", "site", "cutoff", "raised", "expires"],
    ),
    t(
        "fence_members",
        Operations,
        Fixed,
        &["member", "seen", "applied", "stopped"],
    ),
    t(
        "funnel_definitions",
        Operations,
        Fixed,
        &["site", "name", "steps"],
    ),
    t(
        "schema_migrations",
        Operations,
        Fixed,
        &["version", "name", "checksum", "applied_at"],
    ),
    t(
        "disclosures",
        Ledger,
        Fixed,
        &[
            "time",
            "partner",
            "export",
            "period",
            "channel",
            "config_hash",
            "sites",
            "dimensions",
            "metrics",
            "min_visitors",
            "epsilon_spent",
            "rows",
            "suppressed",
            "format",
            "file_sha256",
            "note",
        ],
    ),
    t(
        "export_releases",
        Ledger,
        Fixed,
        &[
            "partner",
            "export",
            "period",
            "config_hash",
            "created_at",
            "epsilon",
            "rows",
            "suppressed",
            "file",
        ],
    ),
    t(
        "export_cells",
        Audit,
        Horizon("period_end", LINK_HORIZON_DAYS),
        &[
            "partner",
            "export",
            "period",
            "config_hash",
            "period_start",
            "period_end",
            "sites",
            "dimensions",
            "keys",
            "visitors",
            "withheld",
            "small",
            "exact",
            "round_to",
            "min_visitors",
            "visits",
            "pageviews",
            "events",
            "counts",
            "margin",
        ],
    ),
    // An atom's day is at most a month before the end of the release
    // that recorded it.
    t(
        "export_atoms",
        Audit,
        Horizon("day", LINK_HORIZON_DAYS + 31),
        &["partner", "finest", "site", "day", "keys", "loose"],
    ),
    t(
        "export_budget",
        Ledger,
        Fixed,
        &[
            "account",
            "month",
            "partner",
            "export",
            "period",
            "claim",
            "replica",
            "epsilon_micros",
            "budget_micros",
            "sensitivity",
            "reserved_at",
            "abandoned",
        ],
    ),
    t(
        "wal_watermarks",
        Operations,
        Fixed,
        &["log_id", "reported_at", "oldest_pending", "pending"],
    ),
    t(
        "export_claims",
        Operations,
        Fixed,
        &[
            "partner",
            "export",
            "period",
            "config_hash",
            "claim",
            "claimed_at",
            "abandoned",
        ],
    ),
    // `tacit import`: staged rows of a running import (deleted when it
    // ends; the six-hour TTL of the migration is a backstop, so a purge
    // does not list it), its record, and which site-days hold imported
    // data.
    t(
        "import_staging",
        Event,
        Fixed,
        &[
            "import_id",
            "staged_at",
            "site",
            "ts",
            "name",
            "hostname",
            "pathname",
            "query",
            "referrer_host",
            "referrer_source",
            "channel",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_content",
            "utm_term",
            "visitor_id",
            "consent",
            "ip_prefix",
            "country",
            "region",
            "city",
            "browser",
            "browser_version",
            "os",
            "os_version",
            "device",
            "language",
            "screen_width",
            "screen",
            "prop_keys",
            "prop_values",
            "interactive",
            "revenue_amount",
            "revenue_currency",
            "scroll_depth",
            "engaged_ms",
            "visit_id",
        ],
    ),
    t(
        "imports",
        Operations,
        Fixed,
        &[
            "import_id",
            "site",
            "format",
            "file_sha256",
            "file_name",
            "started",
            "finished",
            "status",
            "rows_read",
            "rows_stored",
            "skipped",
            "message",
        ],
    ),
    t(
        "import_days",
        Aggregate,
        AggregateMonths("day"),
        &["import_id", "site", "day", "tier", "events"],
    ),
    t(
        "purges",
        Ledger,
        Fixed,
        &[
            "site",
            "before",
            "reason",
            "requested",
            "completed",
            "status",
            "rows",
            "tables_left",
        ],
    ),
];

/// How long expired rows may wait for the merge that removes them: the
/// engine's `merge_with_ttl_timeout` (4 hours by default).
pub const TTL_MERGE_HOURS: u32 = 4;

/// How long `table` keeps a row, in plain words with its upper bound, from
/// the same lifetime the TTLs are set from; `None` for a table whose
/// lifetime is fixed in its migration (the caller states it).
pub fn kept_for(table: &str, policy: &crate::config::Policy) -> Option<String> {
    let m = TTL_MERGE_HOURS;
    match self::table(table)?.lifetime {
        Lifetime::EventDays(_) => {
            let d = policy.event_ttl_days;
            Some(format!(
                "{d} days, then deleted (the engine removes expired rows at its next TTL merge: at most {d} days and {m} hours)"
            ))
        }
        Lifetime::AggregateMonths(_) => {
            let mo = policy.aggregate_ttl_months;
            Some(format!(
                "{mo} months, then deleted (at most {mo} months and {m} hours)"
            ))
        }
        Lifetime::Horizon(col, extra) => {
            let n = policy.event_ttl_days + extra;
            let after = match col {
                "period_end" => "the end of the period released",
                _ => "the day",
            };
            Some(format!(
                "{n} days after {after} (as long as a new release can still be checked against it), then deleted (at most {n} days and {m} hours)"
            ))
        }
        Lifetime::Fixed => None,
    }
}

/// What a store outside the database holds about visitors, and how long.
#[derive(Debug, Clone, Copy)]
pub struct Outside {
    /// A file under the data directory (`*` matches one name part), or an
    /// in-memory cache (by the type that holds it).
    pub name: &'static str,
    pub holds: &'static str,
    pub lifetime: &'static str,
    /// Whether `tacit purge --site` reaches it, and how.
    pub purge: &'static str,
}

const fn o(
    name: &'static str,
    holds: &'static str,
    lifetime: &'static str,
    purge: &'static str,
) -> Outside {
    Outside {
        name,
        holds,
        lifetime,
        purge,
    }
}

/// Every file tacit writes under its data directory (a test walks the
/// directory of a running collector and fails on a file not listed).
pub const FILES: &[Outside] = &[
    o("wal/*.wal", "pseudonymous rows not yet in the database", "until the database acknowledges them (seconds; longer while it is unreachable)", "waited for: the purge starts once the site's rows have left the log, and a fence drops any replayed later"),
    o("wal/cursor", "the acknowledged position in the log; no visitor data", "kept", "nothing to remove"),
    o("wal/log-id", "a random name of this log, for deduplication tokens; no visitor data", "kept", "nothing to remove"),
    o("wal/log-id.tmp", "the log's name while it is first written", "renamed at once", "nothing to remove"),
    o("wal/lock", "a lock so one process owns the log; no visitor data", "kept", "nothing to remove"),
    o("wal/quarantine/*.wal", "rows the database refused as invalid (pseudonymous, as in the log) with the refusal reason, one file per UTC day of the rows' time (`sink::quarantine`)", "policy.event_ttl_days after its day, then the file is deleted (the writer checks at each change of day and every minute)", "the site's rows are removed from every file (`tacit quarantine drop DAY` deletes a day)"),
    o("wal/quarantine/*.tmp", "a day file while the purge or a replay rewrites it", "renamed over the day file at once", "is the purge's own rewrite"),
    o("wal/quarantine.wal", "refused rows, as versions before day files kept them", "moved into today's day file the first time the quarantine is read", "moved, then as the day files"),
];

/// Every in-memory store that holds anything derived from a visitor.
pub const MEMORY: &[Outside] = &[
    o(
        "privacy::Salts",
        "the daily secrets of yesterday, today and tomorrow",
        "dropped at the first sync or hit of the day after next, even with the database down",
        "not per site: a salt is no visitor data",
    ),
    o(
        "enrich::ua cache",
        "parsed user-agent strings (browser, OS, device), never with an address",
        "bounded by entries; agents over 512 bytes never cached",
        "not per site",
    ),
    o(
        "ingest::limit",
        "per-network request counters (truncated addresses)",
        "one second window",
        "not per site",
    ),
    o(
        "privacy::email burst cache",
        "per daily pseudonymous id, the time of its first email request",
        "bounded by entries; one day",
        "not per site",
    ),
    o(
        "store::fence",
        "the purge fences in force: site names and cut-off times",
        "until the event TTL plus two days",
        "is the purge's own record",
    ),
];

/// The classification of a file under the data directory, if listed.
pub fn file(relative: &str) -> Option<&'static Outside> {
    FILES.iter().find(|f| glob(f.name, relative))
}

fn glob(pattern: &str, path: &str) -> bool {
    let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len()
        && p.iter().zip(&q).all(|(p, q)| match p.split_once('*') {
            Some((pre, post)) => {
                q.len() >= pre.len() + post.len() && q.starts_with(pre) && q.ends_with(post)
            }
            None => p == q,
        })
}

/// The classification of `table`, if it is a known table.
pub fn table(name: &str) -> Option<&'static StoredTable> {
    TABLES.iter().find(|t| t.name == name)
}

/// One table as the database has it, with its classification.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveTable {
    pub table: String,
    /// `event`, `aggregate`, `operations`, `ledger`, `partner audit`, or
    /// `unclassified`.
    pub tier: &'static str,
    /// The TTL clause as the engine reports it, or `kept` if none.
    pub ttl: String,
    /// The table's own comment: what it holds.
    pub holds: String,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct TableRow {
    name: String,
    engine_full: String,
    comment: String,
}

/// Every table of `database` that stores rows, read from the engine (so
/// the listing cannot drift from the schema), with its tier.
pub async fn live(
    client: &clickhouse::Client,
    database: &str,
) -> Result<Vec<LiveTable>, clickhouse::error::Error> {
    let rows: Vec<TableRow> = client
        .query(
            "SELECT name, engine_full, comment FROM system.tables
             WHERE database = {db:String} AND engine NOT LIKE '%View' ORDER BY name",
        )
        .param("db", database)
        .fetch_all()
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let ttl = r
                .engine_full
                .split_once(" TTL ")
                .map(|(_, rest)| {
                    rest.split(" SETTINGS ")
                        .next()
                        .unwrap_or(rest)
                        .split(" COMMENT ")
                        .next()
                        .unwrap_or(rest)
                        .trim()
                        .to_string()
                })
                .unwrap_or_else(|| "kept".to_string());
            LiveTable {
                tier: table(&r.name).map_or("unclassified", |t| t.tier.name()),
                table: r.name,
                ttl,
                holds: r.comment,
            }
        })
        .collect())
}

/// The live tables as a Markdown section for `tacit policy`.
pub fn markdown(tables: &[LiveTable]) -> String {
    let mut s = String::from(
        "## Tables, from the live schema\n\n| table | tier | kept (TTL) | holds |\n|---|---|---|---|\n",
    );
    for t in tables {
        s.push_str(&format!(
            "| `{}` | {} | `{}` | {} |\n",
            t.table,
            t.tier,
            t.ttl,
            t.holds.replace('|', "\\|")
        ));
    }
    s
}
