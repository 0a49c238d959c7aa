//! Differential-privacy noise: the discrete Laplace (two-sided geometric)
//! mechanism, sampled exactly. A count c is released as c + X with
//! P(X = x) ∝ exp(-|x| · s / t), where s / t = ε / Δ is a ratio of integers
//! (ε in millionths, Δ the release's L1 sensitivity), which is ε-DP for a
//! release one person can change by at most Δ in total.
//!
//! The sampler is Canonne, Kamath and Steinke's (“The Discrete Gaussian for
//! Differential Privacy”, 2020, algorithms 1 and 2): Bernoulli(exp(-γ))
//! for a rational γ from Bernoulli(γ/k) trials, a geometric variable from
//! those, and the sign. Every step is integer arithmetic on uniform integers
//! drawn by rejection from a cryptographically secure generator (releases
//! use the operating system's): there is no floating point on the path, so
//! the output distribution is exactly the one stated, and rounding cannot
//! leak the count (Mironov's attack on floating-point Laplace). A unit test
//! reads this file and fails if a floating-point type appears in it.

use rand::{CryptoRng, RngCore};

/// The mechanism for one count: noise with P(x) ∝ exp(-|x| · s / t).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscreteLaplace {
    /// Numerator of ε/Δ.
    pub s: u64,
    /// Denominator of ε/Δ.
    pub t: u64,
}

/// A uniform integer in `0..n` (n ≥ 1), by rejection: exact.
fn uniform<R: RngCore + CryptoRng + ?Sized>(rng: &mut R, n: u128) -> u128 {
    debug_assert!(n >= 1);
    if n <= 1 {
        return 0;
    }
    if n < 1 << 64 {
        let n64 = n as u64;
        // Accept below the largest multiple of n that fits in 2^64.
        let zone = u64::MAX - (u64::MAX - n64 + 1) % n64;
        loop {
            let v = rng.next_u64();
            if v <= zone {
                return (v % n64) as u128;
            }
        }
    }
    let zone = u128::MAX - (u128::MAX - n + 1) % n;
    loop {
        let v = ((rng.next_u64() as u128) << 64) | rng.next_u64() as u128;
        if v <= zone {
            return v % n;
        }
    }
}

/// Bernoulli(num / den), 0 ≤ num ≤ den, den ≥ 1.
fn bernoulli<R: RngCore + CryptoRng + ?Sized>(rng: &mut R, num: u128, den: u128) -> bool {
    uniform(rng, den) < num
}

/// Bernoulli(exp(-num / den)) for num ≥ 0, den ≥ 1 (CKS algorithm 1).
pub fn bernoulli_exp<R: RngCore + CryptoRng + ?Sized>(rng: &mut R, num: u64, den: u64) -> bool {
    let (num, den) = (num as u128, den as u128);
    // exp(-γ) = exp(-1)^⌊γ⌋ · exp(-(γ - ⌊γ⌋)).
    for _ in 0..num / den {
        if !bernoulli_exp_unit(rng, 1, 1) {
            return false;
        }
    }
    bernoulli_exp_unit(rng, num % den, den)
}

/// Bernoulli(exp(-γ)) for γ = num/den in [0, 1]: count the trials
/// Bernoulli(γ/k), k = 1, 2, … up to the first failure; the result is 1
/// when that k is odd.
fn bernoulli_exp_unit<R: RngCore + CryptoRng + ?Sized>(rng: &mut R, num: u128, den: u128) -> bool {
    let mut k: u128 = 1;
    while bernoulli(rng, num, den * k) {
        k += 1;
    }
    k % 2 == 1
}

impl DiscreteLaplace {
    /// Noise for ε = `epsilon_micros` / 10⁶ and L1 sensitivity `sensitivity`
    /// (both at least 1): s / t = ε / Δ.
    pub fn new(epsilon_micros: u64, sensitivity: u64) -> Self {
        let (mut s, mut t) = (
            epsilon_micros.max(1),
            1_000_000u64.saturating_mul(sensitivity.max(1)),
        );
        let g = gcd(s, t);
        s /= g;
        t /= g;
        Self { s, t }
    }

    /// One draw (CKS algorithm 2): X = U + t·V is geometric with
    /// parameter exp(-1/t); Y = ⌊X / s⌋ is geometric with exp(-s/t); a
    /// fair sign, rejecting the negative zero.
    pub fn sample<R: RngCore + CryptoRng + ?Sized>(&self, rng: &mut R) -> i64 {
        loop {
            let u = uniform(rng, self.t as u128) as u64;
            if !bernoulli_exp(rng, u, self.t) {
                continue;
            }
            let mut v: u64 = 0;
            while bernoulli_exp(rng, 1, 1) {
                v += 1;
            }
            let x = (u as u128) + (self.t as u128) * (v as u128);
            let y = (x / self.s as u128).min(i64::MAX as u128) as i64;
            let negative = bernoulli(rng, 1, 2);
            if negative && y == 0 {
                continue;
            }
            return if negative { -y } else { y };
        }
    }

    /// Noisy count, clamped at zero (post-processing, no privacy cost).
    pub fn apply<R: RngCore + CryptoRng + ?Sized>(&self, count: u64, rng: &mut R) -> u64 {
        let c = i64::try_from(count).unwrap_or(i64::MAX);
        c.saturating_add(self.sample(rng)).max(0) as u64
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
#[path = "noise_tests.rs"]
mod tests;
