//! Capped exponential backoff with jitter, for every retry: the delay
//! doubles from `base` with each failed attempt up to `cap`, and a random
//! half of it is taken off so that replicas failing together do not retry
//! in step ("equal jitter": the delay stays at least half the step, so a
//! retry is never immediate). Pure: the randomness is handed in.

use std::time::Duration;

use rand::Rng;

/// The delays of one kind of retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The step of the first retry.
    pub base: Duration,
    /// No step is longer than this.
    pub cap: Duration,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
        }
    }

    /// The step after `attempt` failures in a row (0: the first retry):
    /// `min(cap, base * 2^attempt)`.
    pub fn step(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before the retry after `attempt` failures in a row: in
    /// `[step / 2, step]`, uniformly.
    pub fn next_delay<R: Rng + ?Sized>(&self, attempt: u32, rng: &mut R) -> Duration {
        let step = self.step(attempt);
        let half = step / 2;
        let spread = (step - half).as_nanos().min(u64::MAX as u128) as u64;
        half + Duration::from_nanos(rng.random_range(0..=spread))
    }
}

/// A [`Backoff`] and the failures in a row so far, with its own random
/// source (seeded by the caller).
#[derive(Debug, Clone)]
pub struct Retry<R> {
    backoff: Backoff,
    failures: u32,
    rng: R,
}

impl<R: Rng> Retry<R> {
    pub fn new(backoff: Backoff, rng: R) -> Self {
        Self {
            backoff,
            failures: 0,
            rng,
        }
    }

    /// One more failure: the wait before trying again.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.backoff.next_delay(self.failures, &mut self.rng);
        self.failures = self.failures.saturating_add(1);
        d
    }

    /// A success: the next failure waits the base step again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn steps_double_up_to_the_cap() {
        let b = Backoff::new(100 * MS, 1_000 * MS);
        let steps: Vec<_> = (0..6).map(|a| b.step(a).as_millis()).collect();
        assert_eq!(steps, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(b.step(u32::MAX), 1_000 * MS, "no overflow, still capped");
        let huge = Backoff::new(Duration::from_secs(u64::MAX / 4), Duration::MAX);
        assert_eq!(huge.step(40), Duration::MAX, "saturates");
    }

    #[test]
    fn a_cap_below_the_base_is_the_base() {
        let b = Backoff::new(500 * MS, 100 * MS);
        assert_eq!(b.step(3), 500 * MS);
    }

    #[test]
    fn jitter_stays_within_half_to_the_whole_step_and_varies() {
        let b = Backoff::new(200 * MS, 5_000 * MS);
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..10 {
            let step = b.step(attempt);
            let seen: Vec<Duration> = (0..200).map(|_| b.next_delay(attempt, &mut rng)).collect();
            assert!(
                seen.iter().all(|d| *d >= step / 2 && *d <= step),
                "{attempt}"
            );
            let (lo, hi) = (seen.iter().min().unwrap(), seen.iter().max().unwrap());
            assert!(
                *hi - *lo > step / 4,
                "jittered over the range: {lo:?}..{hi:?}"
            );
        }
    }

    #[test]
    fn a_retry_grows_with_failures_and_starts_over_after_a_success() {
        let mut r = Retry::new(Backoff::new(100 * MS, 400 * MS), StdRng::seed_from_u64(1));
        let waits: Vec<Duration> = (0..4).map(|_| r.next_delay()).collect();
        assert!(waits[0] <= 100 * MS && waits[0] >= 50 * MS);
        assert!(waits[1] >= 100 * MS && waits[1] <= 200 * MS);
        assert!(waits[3] >= 200 * MS && waits[3] <= 400 * MS, "capped");
        assert_eq!(r.failures(), 4);
        r.reset();
        assert!(r.next_delay() <= 100 * MS);
    }
}
