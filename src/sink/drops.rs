//! Dropped-hit counts (bots, prefetches, consent signals…), kept in memory
//! per site, day and reason and written to `dropped_hits` by the writer.
//! They are counts, not hits: a crash loses at most one flush interval of
//! them, which the data-quality view tolerates.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::model::sync::lock;
use crate::model::DropReason;

#[derive(clickhouse::Row, serde::Serialize)]
struct DropRow<'a> {
    day: u16,
    site: &'a str,
    reason: &'a str,
    hits: u64,
}

type DropKey = (i32, &'static str, DropReason);

/// Counts waiting to be written.
#[derive(Default)]
pub struct DropCounts(Mutex<HashMap<DropKey, u64>>);

impl DropCounts {
    pub fn count(&self, day: i32, site: &'static str, reason: DropReason) {
        *lock(&self.0).entry((day, site, reason)).or_insert(0) += 1;
    }

    /// Write the counts; on failure they are kept for the next try.
    pub async fn write(&self, client: &clickhouse::Client, timeout: Duration) {
        let counts: Vec<(DropKey, u64)> = lock(&self.0).drain().collect();
        if counts.is_empty() {
            return;
        }
        let result = crate::store::timed(timeout, async {
            let mut ins = client.insert::<DropRow>("dropped_hits").await?;
            for ((day, site, reason), hits) in &counts {
                ins.write(&DropRow {
                    day: *day as u16,
                    site,
                    reason: reason.as_str(),
                    hits: *hits,
                })
                .await?;
            }
            ins.end().await
        })
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %crate::store::log_safe(&e), "cannot write dropped-hit counts; will retry");
            let mut m = lock(&self.0);
            for (k, n) in counts {
                *m.entry(k).or_insert(0) += n;
            }
        }
    }
}
