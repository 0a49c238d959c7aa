//! RFC 4180 CSV, as the peers' exports write it: a header line, fields
//! optionally quoted, `""` for a quote inside quotes, newlines inside
//! quotes, blank lines skipped, `\n` or `\r\n`. Streamed record by
//! record. Errors name the line and what was wrong, never a value.

use std::io::BufRead;

/// What is wrong with a file (never quoting a value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct CsvError {
    pub line: u64,
    pub what: String,
}

/// Split a CSV stream into records (RFC 4180: quoted fields, `""` inside
/// quotes, newlines inside quotes).
pub struct Records<R> {
    input: R,
    pub line: u64,
    buf: String,
}

impl<R: BufRead> Records<R> {
    pub fn new(input: R) -> Self {
        Self {
            input,
            line: 0,
            buf: String::new(),
        }
    }

    /// The next record, or `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<Vec<String>>, CsvError> {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut any = false;
        loop {
            self.buf.clear();
            let n = self.input.read_line(&mut self.buf).map_err(|_| CsvError {
                line: self.line + 1,
                what: "not UTF-8 text".into(),
            })?;
            if n == 0 {
                if quoted {
                    return Err(CsvError {
                        line: self.line,
                        what: "a quoted field is not closed".into(),
                    });
                }
                if !any {
                    return Ok(None);
                }
                fields.push(field);
                return Ok(Some(fields));
            }
            self.line += 1;
            any = true;
            let mut chars = self.buf.chars().peekable();
            while let Some(c) = chars.next() {
                match (quoted, c) {
                    (true, '"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    (true, '"') => quoted = false,
                    (true, c) => field.push(c),
                    (false, '"') if field.is_empty() => quoted = true,
                    (false, ',') => fields.push(std::mem::take(&mut field)),
                    (false, '\r' | '\n') => {}
                    (false, c) => field.push(c),
                }
            }
            if !quoted {
                if fields.is_empty() && field.is_empty() {
                    // A blank line.
                    any = false;
                    continue;
                }
                fields.push(field);
                return Ok(Some(fields));
            }
        }
    }
}

/// A header's column positions, by name.
pub struct Header(Vec<String>);

impl Header {
    pub fn new(names: Vec<String>) -> Self {
        Self(names.into_iter().map(|n| n.trim().to_string()).collect())
    }
    /// The position of a column.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|h| h == name)
    }
    /// The position of a column the file must have.
    pub fn need(&self, name: &str) -> Result<usize, CsvError> {
        self.col(name).ok_or_else(|| CsvError {
            line: 1,
            what: format!("no column {name}"),
        })
    }
    pub fn names(&self) -> &[String] {
        &self.0
    }
}

/// Field `i` of a record, or empty.
pub fn field(r: &[String], i: Option<usize>) -> &str {
    i.and_then(|i| r.get(i)).map_or("", |s| s.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_with_quotes_and_newlines() {
        let text = "a,b,c\n\"x,1\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n\n1,,3";
        let mut r = Records::new(text.as_bytes());
        assert_eq!(r.next_record().unwrap().unwrap(), ["a", "b", "c"]);
        assert_eq!(
            r.next_record().unwrap().unwrap(),
            ["x,1", "say \"hi\"", "two\nlines"]
        );
        assert_eq!(r.next_record().unwrap().unwrap(), ["1", "", "3"]);
        assert_eq!(r.next_record().unwrap(), None);
        assert!(Records::new("\"open".as_bytes()).next_record().is_err());
    }
}
