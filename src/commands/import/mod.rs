//! `tacit import`: past traffic from a file, for a site that switches to
//! tacit or never ran a tracker. Access logs (`access.rs`, `template.rs`,
//! `cdn.rs`: nginx, Apache, Caddy, CloudFront) and the per-event exports of
//! other trackers (`goatcounter.rs`, `umami.rs`; read as CSV by `csv.rs`)
//! go row by row (`source.rs`) through the import's rules and the live
//! pipeline (`rules.rs`), each day's visitor ids under a salt made for this
//! import and destroyed when it ends. A `.gz` file is read as such
//! (`input.rs`). The rows are staged, and moved only once the whole file
//! was read (`run.rs`, `days.rs`, `stage.rs`): an import is all or nothing
//! per file. Plausible's CSV export (`plausible.rs`, `plausible_run.rs`, its
//! zip through `zip.rs`) is daily aggregates: they go straight to the
//! aggregate tier, all files one import.
//!
//! Around that: a file already imported for the site (same SHA-256) is not
//! imported again; a day the site already collected live is refused unless
//! `--overlap` says which wins; `imports` records each attempt and
//! `import_days` which site-days hold imported data, so they can be shown,
//! excluded and removed (`tacit purge --site S --imports`, [`purge`]).
//! Malformed lines are reported by number (never quoted: they hold
//! addresses) and the import stops after `max_bad_lines` of them.
//! `tacit import --explain` (`explain.rs`) prints what each row becomes.

pub mod access;
pub mod cdn;
pub mod csv;
pub mod days;
pub mod explain;
pub mod goatcounter;
pub mod input;
pub mod plausible;
pub mod plausible_run;
pub mod rules;
pub mod run;
pub mod source;
pub mod stage;
pub mod template;
pub mod umami;
pub mod zip;

use std::collections::BTreeMap;

use crate::enrich::EnrichError;
use crate::store::StoreError;

pub use days::purge;
pub use explain::explain;
pub use plausible_run::import_plausible;
pub use run::{import_file, Progress};
pub use source::Parser;

/// The formats `tacit import --from` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    Nginx,
    Apache,
    Caddy,
    CloudFront,
    /// Plausible's CSV export (daily aggregates; all files are one import).
    Plausible,
    /// GoatCounter's CSV export (one row per pageview).
    GoatCounter,
    /// Umami's `website_event` CSV (one row per event).
    Umami,
}

impl Format {
    /// Every format, for messages.
    pub const ALL: &'static [Format] = &[
        Format::Nginx,
        Format::Apache,
        Format::Caddy,
        Format::CloudFront,
        Format::Plausible,
        Format::GoatCounter,
        Format::Umami,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Nginx => "nginx",
            Format::Apache => "apache",
            Format::Caddy => "caddy",
            Format::CloudFront => "cloudfront",
            Format::Plausible => "plausible",
            Format::GoatCounter => "goatcounter",
            Format::Umami => "umami",
        }
    }

    /// The names `--from` accepts, comma-separated.
    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A per-row export of another tracker (CSV), not an access log.
    pub fn is_export(self) -> bool {
        matches!(self, Format::GoatCounter | Format::Umami)
    }
}

/// What to do with days the site already collected live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overlap {
    /// Refuse the file, naming the days.
    #[default]
    Refuse,
    /// Keep the live data; skip the file's requests of those days.
    KeepLive,
    /// Delete the live data of those days; import the file's.
    Replace,
}

impl Overlap {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "refuse" => Overlap::Refuse,
            "keep-live" => Overlap::KeepLive,
            "replace" => Overlap::Replace,
            _ => return None,
        })
    }
}

/// One import.
#[derive(Debug, Clone)]
pub struct Options {
    pub site: String,
    pub format: Format,
    /// An nginx `log_format` (nginx, caddy: ignored) or Apache `LogFormat`;
    /// default: combined.
    pub log_format: Option<String>,
    /// Stop after more malformed lines than this.
    pub max_bad_lines: u64,
    pub overlap: Overlap,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("{0:?} is not a configured site")]
    UnknownSite(String),
    #[error("--log-format: {0}")]
    LogFormat(access::LineError),
    #[error("{0}")]
    Enrich(#[from] EnrichError),
    #[error("reading {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: more than {max} malformed lines (the last, line {line}: {reason}); nothing of the file was imported")]
    TooManyBadLines {
        file: String,
        max: u64,
        line: u64,
        reason: String,
    },
    #[error("{file}: the site already has data collected live on {}: pass --overlap keep-live (skip the file's requests of those days) or --overlap replace (delete the live data of those days); nothing was imported", .days.join(", "))]
    LiveOverlap { file: String, days: Vec<String> },
    #[error("{file}: {source}")]
    Csv {
        file: String,
        #[source]
        source: csv::CsvError,
    },
    #[error("{0}: not a file of a Plausible export (the zip, or imported_visitors.csv, imported_pages.csv, …)")]
    NotPlausible(String),
    #[error("{file}: {why}; nothing was imported")]
    NotTheFormat { file: String, why: String },
    #[error("clickhouse: {0}")]
    Store(#[from] StoreError),
}

impl From<clickhouse::error::Error> for ImportError {
    fn from(e: clickhouse::error::Error) -> Self {
        ImportError::Store(StoreError(e))
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub file: String,
    pub import_id: u64,
    /// Set when the same file was imported before: nothing changed.
    pub already_imported: Option<u64>,
    pub rows_read: u64,
    pub imported: u64,
    /// Lines not imported, per reason (malformed lines as `malformed`).
    pub skipped: BTreeMap<String, u64>,
    /// Days moved to the event tier (then rolled up).
    pub event_days: Vec<String>,
    /// Days written straight to the aggregate tier.
    pub aggregate_days: Vec<String>,
    pub seconds: f64,
}

impl Summary {
    /// The summary for a terminal.
    pub fn describe(&self) -> String {
        if let Some(id) = self.already_imported {
            return format!(
                "{}: already imported (import {id:016x}); nothing changed\n",
                self.file
            );
        }
        let mut s = format!(
            "{}: import {:016x}: {} lines read, {} imported in {:.1} s ({:.0} lines/s)\n",
            self.file,
            self.import_id,
            self.rows_read,
            self.imported,
            self.seconds,
            self.rows_read as f64 / self.seconds.max(1e-9)
        );
        for (reason, n) in &self.skipped {
            s.push_str(&format!("  skipped {n}: {reason}\n"));
        }
        let span = |d: &[String]| match (d.first(), d.last()) {
            (Some(a), Some(b)) => format!("{} day(s), {a} to {b}", d.len()),
            _ => "none".into(),
        };
        s.push_str(&format!(
            "  days in the event tier: {}\n  days straight to the aggregate tier: {}\n",
            span(&self.event_days),
            span(&self.aggregate_days)
        ));
        s
    }
}
