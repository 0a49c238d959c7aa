//! Per-client rate limit: a token bucket per client network, so that one
//! sender cannot crowd out every site's visitors. The key is a hash of the
//! truncated network (IPv4 /24, IPv6 /48) under a random key made at start
//! (`privacy::RawIdentity::network_key`): the limiter never holds an address.
//! Buckets live in a bounded cache; an evicted bucket restarts full, which
//! errs toward letting hits in.

use std::hash::RandomState;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::model::sync::lock;

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: quick_cache::sync::Cache<u64, Arc<Mutex<Bucket>>>,
    /// The random key of the network hash.
    pub key: RandomState,
}

impl RateLimiter {
    /// `per_second` sustained, up to `burst` at once, for at most
    /// `clients` networks tracked at a time.
    pub fn new(per_second: u32, burst: u32, clients: usize) -> Self {
        Self {
            per_second: per_second as f64,
            burst: burst.max(1) as f64,
            buckets: quick_cache::sync::Cache::new(clients.max(1)),
            key: RandomState::new(),
        }
    }

    /// Take one token for `network`; `false` when its bucket is empty.
    pub fn allow(&self, network: u64, now: Instant) -> bool {
        let bucket = match self.buckets.get(&network) {
            Some(b) => b,
            None => {
                let b = Arc::new(Mutex::new(Bucket {
                    tokens: self.burst,
                    at: now,
                }));
                self.buckets.insert(network, b.clone());
                b
            }
        };
        let mut b = lock(&bucket);
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_second).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_sustained_rate_per_network() {
        let l = RateLimiter::new(10, 5, 100);
        let t = Instant::now();
        assert_eq!((0..8).filter(|_| l.allow(1, t)).count(), 5, "the burst");
        assert!(l.allow(2, t), "another network has its own bucket");
        assert!(!l.allow(1, t));
        // 10 per second: after 300 ms, three more.
        let later = t + Duration::from_millis(300);
        assert_eq!((0..8).filter(|_| l.allow(1, later)).count(), 3);
    }
}
