//! `tacit import --explain`: the rules in words, then what each row of a
//! file becomes, through the same rules and pipeline as an import, one
//! JSON line each; nothing is stored.

use std::io::{BufRead, Write};
use std::sync::Arc;

use crate::config::Config;
use crate::enrich::Enrichers;
use crate::model::clock::{day_of, format_day};
use crate::privacy::event_json;

use super::input::io_err;
use super::rules::{self, LineOutcome, Rules};
use super::source::{rows, Item, RowsError};
use super::{ImportError, Options};

/// `tacit import --explain`: the rules, then what each row of `input`
/// becomes (a JSON line each), through the same rules and pipeline.
pub fn explain(
    cfg: &Config,
    opts: &Options,
    now_ms: i64,
    input: impl BufRead,
    mut out: impl Write,
) -> Result<(), ImportError> {
    let enrichers = Arc::new(Enrichers::load(&cfg.enrich)?);
    let rules = Rules::new(cfg, enrichers, &opts.site, now_ms)
        .ok_or_else(|| ImportError::UnknownSite(opts.site.clone()))?;
    let mut rows = rows(opts.format, opts.log_format.as_deref(), input)?;
    let w = |e| io_err("output")(e);
    writeln!(out, "{}", serde_json::json!({ "rules": rules::describe() })).map_err(w)?;
    loop {
        let item = match rows.next(&rules) {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(RowsError::Io(e)) => return Err(io_err("input")(e)),
            Err(RowsError::NotTheFormat(why)) => {
                return Err(ImportError::NotTheFormat {
                    file: "input".into(),
                    why,
                })
            }
        };
        let line = rows.line();
        let v = match item {
            Item::Blank => continue,
            Item::Malformed(why) => serde_json::json!({ "line": line, "malformed": why }),
            Item::Other => serde_json::json!({ "line": line, "not_a_request": true }),
            Item::Row { ts_ms, outcome } => explain_row(line, ts_ms, outcome),
        };
        writeln!(out, "{v}").map_err(w)?;
    }
    Ok(())
}

fn explain_row(line: u64, ts_ms: i64, outcome: LineOutcome) -> serde_json::Value {
    let day = format_day(day_of(ts_ms));
    match outcome {
        LineOutcome::Store(ev) => serde_json::json!({
            "line": line,
            "day": day,
            "stored": event_json(&ev),
            "note": "visitor_id under a throwaway salt: it shows that an id is stored, not the id the import stores",
        }),
        LineOutcome::Skip(reason) => {
            serde_json::json!({ "line": line, "day": day, "skipped": reason })
        }
    }
}
