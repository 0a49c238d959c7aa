//! An import's file as a stream of rows, each already through the rules:
//! an access log line by line ([`Parser`]), or a tracker's CSV export
//! record by record (a record may span lines). The same [`Rows`] feed the
//! import (`run.rs`) and `--explain` (`explain.rs`).

use std::io::BufRead;

use super::access::{self, LineError, Parsed, Template};
use super::csv::Records;
use super::rules::{LineOutcome, Rules};
use super::{goatcounter, umami, Format, ImportError};

/// A line parser for one access-log format.
pub enum Parser {
    Template(Template),
    Caddy,
    CloudFront(access::CloudFront),
}

impl Parser {
    pub fn new(format: Format, log_format: Option<&str>) -> Result<Self, ImportError> {
        Ok(match format {
            Format::Nginx => Parser::Template(
                Template::nginx(log_format.unwrap_or(access::COMBINED))
                    .map_err(ImportError::LogFormat)?,
            ),
            Format::Apache => Parser::Template(match log_format {
                Some(f) => Template::apache(f).map_err(ImportError::LogFormat)?,
                None => Template::nginx(access::COMBINED).map_err(ImportError::LogFormat)?,
            }),
            Format::Caddy => Parser::Caddy,
            Format::CloudFront => Parser::CloudFront(access::CloudFront::default()),
            Format::Plausible | Format::GoatCounter | Format::Umami => {
                return Err(ImportError::LogFormat(LineError(format!(
                    "a {} export is not an access log",
                    format.as_str()
                ))))
            }
        })
    }

    pub fn line<'a>(&mut self, line: &'a str) -> Result<Parsed<'a>, LineError> {
        match self {
            Parser::Template(t) => t.parse(line).map(Parsed::Request),
            Parser::Caddy => access::caddy(line),
            Parser::CloudFront(c) => c.parse(line),
        }
    }
}

/// What one row of a file is.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "moved once per row, like LineOutcome; boxing would add an allocation per row"
)]
pub enum Item {
    /// A blank line.
    Blank,
    /// A header, or a line that is not a request.
    Other,
    /// Not a row of the format, and why (never quoting it).
    Malformed(String),
    /// A row (a request, an exported pageview or event), at its time, and
    /// what the rules made of it.
    Row { ts_ms: i64, outcome: LineOutcome },
}

/// Why a file cannot be read at all.
#[derive(Debug)]
pub enum RowsError {
    Io(std::io::Error),
    /// The file is not of the format (a header that does not fit).
    NotTheFormat(String),
}

/// A file's rows: an access log's lines or an export's records.
pub enum Rows<R> {
    Log(LogRows<R>),
    Export(ExportRows<R>),
}

impl<R: BufRead> Rows<R> {
    /// The next row, through `rules`; `None` at the end.
    pub fn next(&mut self, rules: &Rules) -> Result<Option<Item>, RowsError> {
        match self {
            Rows::Log(l) => l.next(rules),
            Rows::Export(e) => e.next(rules),
        }
    }

    /// The line the last row ended on.
    pub fn line(&self) -> u64 {
        match self {
            Rows::Log(l) => l.line,
            Rows::Export(e) => e.records.line,
        }
    }
}

/// The rows of `input` in `format`.
pub fn rows<R: BufRead>(
    format: Format,
    log_format: Option<&str>,
    input: R,
) -> Result<Rows<R>, ImportError> {
    Ok(match format {
        Format::GoatCounter | Format::Umami => Rows::Export(ExportRows {
            records: Records::new(input),
            format,
            columns: None,
        }),
        _ => Rows::Log(LogRows {
            input,
            parser: Parser::new(format, log_format)?,
            buf: String::new(),
            line: 0,
        }),
    })
}

pub struct LogRows<R> {
    input: R,
    parser: Parser,
    buf: String,
    line: u64,
}

impl<R: BufRead> LogRows<R> {
    fn next(&mut self, rules: &Rules) -> Result<Option<Item>, RowsError> {
        self.buf.clear();
        match self.input.read_line(&mut self.buf) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            // Not UTF-8: a malformed line like any other.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                self.line += 1;
                return Ok(Some(Item::Malformed("not UTF-8 text".into())));
            }
            Err(e) => return Err(RowsError::Io(e)),
        }
        self.line += 1;
        let text = self.buf.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            return Ok(Some(Item::Blank));
        }
        Ok(Some(match self.parser.line(text) {
            Err(e) => Item::Malformed(e.0),
            Ok(Parsed::Other) => Item::Other,
            Ok(Parsed::Request(r)) => Item::Row {
                ts_ms: r.ts_ms,
                outcome: rules.apply(r),
            },
        }))
    }
}

/// The columns of a tracker's export.
enum Columns {
    GoatCounter(goatcounter::Columns),
    Umami(umami::Columns),
}

pub struct ExportRows<R> {
    records: Records<R>,
    format: Format,
    /// Read from the header, the first record.
    columns: Option<Columns>,
}

impl<R: BufRead> ExportRows<R> {
    fn next(&mut self, rules: &Rules) -> Result<Option<Item>, RowsError> {
        let record = match self.records.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(None),
            Err(e) if self.columns.is_none() => return Err(RowsError::NotTheFormat(e.to_string())),
            Err(e) => return Ok(Some(Item::Malformed(e.what))),
        };
        let Some(columns) = &self.columns else {
            self.columns = Some(
                match self.format {
                    Format::GoatCounter => {
                        goatcounter::Columns::from_header(record).map(Columns::GoatCounter)
                    }
                    _ => umami::Columns::from_header(record).map(Columns::Umami),
                }
                .map_err(RowsError::NotTheFormat)?,
            );
            return Ok(Some(Item::Other));
        };
        let hit = match columns {
            Columns::GoatCounter(c) => c
                .row(&record, self.records.line)
                .map(|h| (h.ts_ms, Some(h))),
            Columns::Umami(c) => c.row(&record),
        };
        Ok(Some(match hit {
            Err(why) => Item::Malformed(why),
            Ok((ts_ms, None)) => Item::Row {
                ts_ms,
                outcome: LineOutcome::Skip("event_type"),
            },
            Ok((_, Some(h))) => Item::Row {
                ts_ms: h.ts_ms,
                outcome: rules.apply_exported(h),
            },
        }))
    }
}
