//! The writer's progress, as `/readyz` reads it: alive, and not stalled
//! while rows wait in the log.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

/// What `/readyz` needs to know of the writer.
#[derive(Debug, Default)]
pub struct Health {
    pub(super) alive: AtomicBool,
    /// Clock time of the last insert acknowledged, or of being caught up.
    pub(super) last_progress_ms: AtomicI64,
    /// Rows durable in the log and not yet acknowledged.
    pub(super) waiting: AtomicI64,
}

impl Health {
    /// `Err` with a one-line reason when the writer is dead, or has made no
    /// progress for `stall` while rows wait.
    pub fn check(&self, now_ms: i64, stall: Duration) -> Result<(), &'static str> {
        if !self.alive.load(Ordering::Relaxed) {
            return Err("the ClickHouse writer is not running");
        }
        let idle = now_ms - self.last_progress_ms.load(Ordering::Relaxed);
        if self.waiting.load(Ordering::Relaxed) > 0 && idle > stall.as_millis() as i64 {
            return Err("the ClickHouse writer is stalled; rows are waiting in the log");
        }
        Ok(())
    }
}
