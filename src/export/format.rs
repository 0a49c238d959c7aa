//! Writing released rows: CSV (RFC 4180), JSON lines, or Parquet. Output is
//! a pure function of the rows (fixed column order, fixed number
//! formatting), so a release without noise is byte-identical on every run.
//! Parquet is written by ClickHouse's own encoder from the JSON lines.

use crate::config::exports::Format;

/// A released value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Count(u64),
    Ratio(f64),
    Null,
}

/// A released table: column names and rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasedTable {
    pub columns: Vec<String>,
    /// ClickHouse type per column, for Parquet.
    pub types: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn ratio(x: f64) -> String {
    // Four decimals, no exponent: stable across platforms.
    format!("{x:.4}")
}

pub fn csv(t: &ReleasedTable) -> Vec<u8> {
    let mut out = String::new();
    out.push_str(
        &t.columns
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for r in &t.rows {
        let line: Vec<String> = r
            .iter()
            .map(|v| match v {
                Value::Text(s) => csv_field(s),
                Value::Count(n) => n.to_string(),
                Value::Ratio(x) => ratio(*x),
                Value::Null => String::new(),
            })
            .collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

pub fn jsonl(t: &ReleasedTable) -> Vec<u8> {
    let mut out = String::new();
    for r in &t.rows {
        out.push('{');
        for (i, (c, v)) in t.columns.iter().zip(r).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(c).expect("string"));
            out.push(':');
            match v {
                Value::Text(s) => out.push_str(&serde_json::to_string(s).expect("string")),
                Value::Count(n) => out.push_str(&n.to_string()),
                Value::Ratio(x) => out.push_str(&ratio(*x)),
                Value::Null => out.push_str("null"),
            }
        }
        out.push_str("}\n");
    }
    out.into_bytes()
}

/// Parquet, encoded by the ClickHouse server from the JSON lines.
pub async fn parquet(
    client: &clickhouse::Client,
    t: &ReleasedTable,
) -> Result<Vec<u8>, clickhouse::error::Error> {
    let structure = t
        .columns
        .iter()
        .zip(&t.types)
        .map(|(c, ty)| format!("`{}` {ty}", c.replace('`', "")))
        .collect::<Vec<_>>()
        .join(", ");
    let data = String::from_utf8(jsonl(t)).expect("utf-8");
    // A dollar-quoted literal, with a tag the data does not contain.
    let mut tag = String::from("tacit");
    while data.contains(&format!("${tag}$")) {
        tag.push('x');
    }
    let sql = format!(
        "SELECT * FROM format(JSONEachRow, '{structure}', ${tag}${data}${tag}$) \
         SETTINGS max_query_size = {}, output_format_parquet_compression_method = 'zstd'",
        data.len() + 65_536
    );
    let bytes = client
        .query_raw(&sql)
        .fetch_bytes("Parquet")?
        .collect()
        .await?;
    Ok(bytes.to_vec())
}

pub async fn write(
    client: &clickhouse::Client,
    format: Format,
    t: &ReleasedTable,
) -> Result<Vec<u8>, clickhouse::error::Error> {
    match format {
        Format::Csv => Ok(csv(t)),
        Format::Jsonl => Ok(jsonl(t)),
        Format::Parquet => parquet(client, t).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_is_stable() {
        let t = ReleasedTable {
            columns: vec!["page".into(), "visitors".into(), "bounce_rate".into()],
            types: vec!["String", "Nullable(UInt64)", "Nullable(Float64)"],
            rows: vec![vec![
                Value::Text("/a,\"b\"".into()),
                Value::Count(12),
                Value::Ratio(0.5),
            ]],
        };
        assert_eq!(
            String::from_utf8(csv(&t)).unwrap(),
            "page,visitors,bounce_rate\r\n\"/a,\"\"b\"\"\",12,0.5000\r\n"
        );
        assert_eq!(
            String::from_utf8(jsonl(&t)).unwrap(),
            "{\"page\":\"/a,\\\"b\\\"\",\"visitors\":12,\"bounce_rate\":0.5000}\n"
        );
    }
}
