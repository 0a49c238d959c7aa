//! The analyst cookbook (`docs/queries.md`) as data: its SQL by question
//! number, embedded at build time, so the tests and the analytics bench
//! run exactly what the document shows. Nothing in the server runs it
//! (the dashboard asks the query API).

use std::collections::BTreeMap;

const COOKBOOK: &str = include_str!("../../docs/queries.md");

/// The cookbook's queries by number (`### N. …` then a `sql` block).
pub fn queries() -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    let mut number: Option<u32> = None;
    let mut sql: Option<String> = None;
    for line in COOKBOOK.lines() {
        if let Some(h) = line.strip_prefix("### ") {
            number = h.split_once(". ").and_then(|(n, _)| n.parse().ok());
        } else if line.trim() == "```sql" {
            sql = Some(String::new());
        } else if line.trim() == "```" {
            if let (Some(n), Some(s)) = (number.take(), sql.take()) {
                out.insert(n, s);
            }
        } else if let Some(s) = sql.as_mut() {
            s.push_str(line);
            s.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_query_takes_the_site() {
        let q = super::queries();
        assert!(q.len() >= 20, "{} queries", q.len());
        for n in [1, 2, 3, 4, 5, 7, 8, 10, 11, 12, 21] {
            assert!(
                q.get(&n).is_some_and(|s| s.contains("{site:String}")),
                "query {n}"
            );
        }
    }
}
