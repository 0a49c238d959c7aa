//! Per-client rate limit: a token bucket per client network, so that one
//! sender cannot crowd out every site's visitors. The key is a hash of the
//! truncated network (IPv4 /24, IPv6 /48) under a random key made at start
//! (`privacy::RawIdentity::network_key`): the limiter never holds an address.
//! Each bucket is a `governor` limiter (GCRA: the same burst and sustained
//! rate as a token bucket, one atomic word, no lock). Buckets live in a
//! bounded cache; an evicted bucket restarts full, which errs toward
//! letting hits in.

use std::hash::RandomState;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::Quota;

type Bucket<C> =
    governor::RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// `C` is the monotonic clock in service; tests pass a clock they move.
pub struct RateLimiter<C: Clock + Clone = MonotonicClock> {
    quota: Quota,
    clock: C,
    buckets: quick_cache::sync::Cache<u64, Arc<Bucket<C>>>,
    /// The random key of the network hash.
    pub key: RandomState,
}

impl RateLimiter {
    /// `per_second` (at least 1) sustained, up to `burst` at once, for at
    /// most `clients` networks tracked at a time.
    pub fn new(per_second: u32, burst: u32, clients: usize) -> Self {
        Self::with_clock(per_second, burst, clients, MonotonicClock)
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    pub fn with_clock(per_second: u32, burst: u32, clients: usize, clock: C) -> Self {
        let quota = Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Self {
            quota,
            clock,
            buckets: quick_cache::sync::Cache::new(clients.max(1)),
            key: RandomState::new(),
        }
    }

    /// Take one token for `network`; `false` when its bucket is empty.
    pub fn allow(&self, network: u64) -> bool {
        let bucket = match self.buckets.get(&network) {
            Some(b) => b,
            None => {
                let b = Arc::new(governor::RateLimiter::direct_with_clock(
                    self.quota,
                    self.clock.clone(),
                ));
                self.buckets.insert(network, b.clone());
                b
            }
        };
        bucket.check().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_sustained_rate_per_network() {
        let clock = FakeRelativeClock::default();
        let l = RateLimiter::with_clock(10, 5, 100, clock.clone());
        assert_eq!((0..8).filter(|_| l.allow(1)).count(), 5, "the burst");
        assert!(l.allow(2), "another network has its own bucket");
        assert!(!l.allow(1));
        // 10 per second: after 300 ms, three more.
        clock.advance(Duration::from_millis(300));
        assert_eq!((0..8).filter(|_| l.allow(1)).count(), 3);
        // Idle for long: refilled to the burst, never beyond it.
        clock.advance(Duration::from_secs(60));
        assert_eq!((0..20).filter(|_| l.allow(1)).count(), 5);
    }

    #[test]
    fn an_evicted_bucket_restarts_full() {
        let clock = FakeRelativeClock::default();
        let l = RateLimiter::with_clock(1, 2, 1, clock);
        assert_eq!((0..3).filter(|_| l.allow(1)).count(), 2);
        for n in 2..50 {
            l.allow(n);
        }
        assert!(l.allow(1), "evicted, so full again");
    }
}
