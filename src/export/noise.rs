//! Differential-privacy noise: the discrete Laplace (two-sided geometric)
//! mechanism. A count c is released as c + X with
//! P(X = x) = (1 - a) / (1 + a) · a^|x|, a = exp(-ε / Δ), which is ε-DP for
//! counts a person can change by at most Δ. X is the difference of two
//! geometric variables drawn from a cryptographically secure RNG (the
//! caller passes one; releases use the operating system's entropy).

use rand::{CryptoRng, Rng};

/// The mechanism for one count.
#[derive(Debug, Clone, Copy)]
pub struct DiscreteLaplace {
    /// a = exp(-ε/Δ), in (0, 1).
    pub a: f64,
}

impl DiscreteLaplace {
    pub fn new(epsilon: f64, sensitivity: u64) -> Self {
        Self {
            a: (-epsilon / sensitivity as f64).exp(),
        }
    }

    /// Failures before the first success, success probability 1 - a.
    fn geometric<R: Rng + CryptoRng + ?Sized>(&self, rng: &mut R) -> i64 {
        // Inverse CDF: P(G >= k) = a^k. u in (0, 1].
        let u: f64 = 1.0 - rng.random::<f64>();
        (u.ln() / self.a.ln()).floor().min(1e15) as i64
    }

    pub fn sample<R: Rng + CryptoRng + ?Sized>(&self, rng: &mut R) -> i64 {
        self.geometric(rng) - self.geometric(rng)
    }

    /// P(X = x).
    pub fn pmf(&self, x: i64) -> f64 {
        (1.0 - self.a) / (1.0 + self.a) * self.a.powi(x.unsigned_abs() as i32)
    }

    /// Var(X) = 2a / (1 - a)².
    pub fn variance(&self) -> f64 {
        2.0 * self.a / ((1.0 - self.a) * (1.0 - self.a))
    }

    /// Noisy count, clamped at zero (post-processing, no privacy cost).
    pub fn apply<R: Rng + CryptoRng + ?Sized>(&self, count: u64, rng: &mut R) -> u64 {
        (count as i64).saturating_add(self.sample(rng)).max(0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Pearson's chi-square of 200,000 draws against the exact pmf, with a
    /// fixed seed, for a strong and a weak epsilon.
    #[test]
    fn empirical_distribution_matches_the_mechanism() {
        for (epsilon, crit) in [(1.0, 45.3), (0.25, 45.3)] {
            let m = DiscreteLaplace::new(epsilon, 1);
            let mut rng = StdRng::seed_from_u64(0x7ac17);
            let n = 200_000usize;
            // Bins: |x| <= r individually, the two tails pooled.
            let r = ((1.0 / (1.0 - m.a)) * 3.0).ceil() as i64;
            let mut counts = std::collections::BTreeMap::<i64, u64>::new();
            let (mut sum, mut sq) = (0f64, 0f64);
            for _ in 0..n {
                let x = m.sample(&mut rng);
                sum += x as f64;
                sq += (x * x) as f64;
                *counts.entry(x.clamp(-r - 1, r + 1)).or_default() += 1;
            }
            let tail: f64 = 0.5 - (0..=r).map(|x| m.pmf(x)).sum::<f64>() + m.pmf(0) / 2.0;
            let mut chi2 = 0.0;
            let mut bins = 0;
            for x in -r - 1..=r + 1 {
                let p = if x.abs() == r + 1 { tail } else { m.pmf(x) };
                let expect = p * n as f64;
                if expect < 5.0 {
                    continue;
                }
                let got = *counts.get(&x).unwrap_or(&0) as f64;
                chi2 += (got - expect).powi(2) / expect;
                bins += 1;
            }
            // Critical values at p = 0.001 for df <= 20 are below 45.3; we
            // assert the looser bound only when there are that many bins.
            let df = bins - 1;
            let crit = if df <= 20 {
                crit
            } else {
                df as f64 + 4.0 * (2.0 * df as f64).sqrt()
            };
            assert!(
                chi2 < crit,
                "epsilon {epsilon}: chi2 {chi2:.1} over {bins} bins"
            );
            let mean = sum / n as f64;
            let var = sq / n as f64 - mean * mean;
            assert!(
                mean.abs() < 4.0 * (m.variance() / n as f64).sqrt(),
                "mean {mean}"
            );
            assert!(
                (var / m.variance() - 1.0).abs() < 0.05,
                "variance {var} vs {}",
                m.variance()
            );
        }
    }

    #[test]
    fn noise_is_symmetric_and_clamped() {
        let m = DiscreteLaplace::new(0.5, 1);
        assert!((m.pmf(3) - m.pmf(-3)).abs() < 1e-15);
        let total: f64 = (-200..=200).map(|x| m.pmf(x)).sum();
        assert!((total - 1.0).abs() < 1e-9);
        // `apply` is the count plus the very draw `sample` makes, floored
        // at zero: same seed, same draws.
        let (mut a, mut b) = (StdRng::seed_from_u64(1), StdRng::seed_from_u64(1));
        let (mut floored, mut raised) = (0, 0);
        for _ in 0..1000 {
            let x = m.sample(&mut a);
            let got = m.apply(2, &mut b);
            assert_eq!(got, (2 + x).max(0) as u64, "draw {x}");
            floored += usize::from(2 + x < 0);
            raised += usize::from(got > 2);
        }
        assert!(
            floored > 0 && raised > 0,
            "{floored} floored, {raised} raised"
        );
    }
}
