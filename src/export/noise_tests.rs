//! Tests of the exact sampler (kept apart from `noise.rs`, which must not
//! name a floating-point type: these tests compare with the exact pmf in
//! floating point).

use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// P(X = x) for the mechanism, in floating point (tests only).
fn pmf(m: &DiscreteLaplace, x: i64) -> f64 {
    let a = (-(m.s as f64) / m.t as f64).exp();
    (1.0 - a) / (1.0 + a) * a.powi(x.unsigned_abs() as i32)
}

/// Pearson's chi-square of `n` draws against the exact pmf, the tails
/// beyond ±r pooled; returns (chi2, degrees of freedom, mean, variance).
fn chi_square(m: &DiscreteLaplace, n: usize, seed: u64) -> (f64, usize, f64, f64) {
    let mut rng = StdRng::seed_from_u64(seed);
    // Bins with an expected count of at least 5.
    let mut r = 0;
    while pmf(m, r + 1) * n as f64 >= 5.0 {
        r += 1;
    }
    let mut counts = vec![0u64; (2 * r + 3) as usize];
    let (mut sum, mut sq) = (0f64, 0f64);
    for _ in 0..n {
        let x = m.sample(&mut rng);
        sum += x as f64;
        sq += (x as f64) * (x as f64);
        counts[(x.clamp(-r - 1, r + 1) + r + 1) as usize] += 1;
    }
    let inside: f64 = (-r..=r).map(|x| pmf(m, x)).sum();
    let tail = (1.0 - inside) / 2.0;
    let mut chi2 = 0.0;
    for (i, got) in counts.iter().enumerate() {
        let x = i as i64 - r - 1;
        let p = if x.abs() == r + 1 { tail } else { pmf(m, x) };
        let expect = p * n as f64;
        chi2 += (*got as f64 - expect).powi(2) / expect;
    }
    let mean = sum / n as f64;
    (chi2, counts.len() - 1, mean, sq / n as f64 - mean * mean)
}

/// Upper 0.1% point of chi-square with `df` degrees of freedom
/// (Wilson–Hilferty, accurate to a few percent for df ≥ 3).
fn critical(df: usize) -> f64 {
    let k = df as f64;
    let z = 3.09;
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

/// 10⁶ draws at ε/Δ = 1/2 (the simplest path: s = 1, no division), fixed
/// seed: the histogram matches the exact pmf, and the mean and variance
/// (2a/(1-a)²) match.
#[test]
fn a_million_draws_match_the_exact_pmf() {
    let m = DiscreteLaplace::new(500_000, 1);
    assert_eq!((m.s, m.t), (1, 2));
    let n = 1_000_000;
    let (chi2, df, mean, var) = chi_square(&m, n, 0x7ac17);
    eprintln!(
        "10^6 draws: chi2 {chi2:.1}, df {df}, critical {:.1}; mean {mean:.4}, variance {var:.4}",
        critical(df)
    );
    assert!(chi2 < critical(df), "chi2 {chi2:.1} with {df} df");
    let a = (-0.5f64).exp();
    let want = 2.0 * a / ((1.0 - a) * (1.0 - a));
    assert!(mean.abs() < 4.0 * (want / n as f64).sqrt(), "mean {mean}");
    assert!((var / want - 1.0).abs() < 0.02, "variance {var} vs {want}");
}

/// The division path (s > 1) and a larger sensitivity, fewer draws.
#[test]
fn other_ratios_match_too() {
    for (eps, delta) in [(3_000_000, 2), (250_000, 3)] {
        let m = DiscreteLaplace::new(eps, delta);
        let (chi2, df, _, _) = chi_square(&m, 100_000, 42 + delta);
        assert!(chi2 < critical(df), "{m:?}: chi2 {chi2:.1} with {df} df");
    }
}

/// The test of the test: the same statistic rejects a sampler off by a
/// little (ε/Δ of 0.55 tested against the pmf of 0.5).
#[test]
fn the_chi_square_test_bites() {
    let wrong = DiscreteLaplace::new(550_000, 1);
    let right = DiscreteLaplace::new(500_000, 1);
    let mut rng = StdRng::seed_from_u64(7);
    let n = 200_000;
    let mut r = 0;
    while pmf(&right, r + 1) * n as f64 >= 5.0 {
        r += 1;
    }
    let mut counts = vec![0u64; (2 * r + 1) as usize];
    let mut tails = 0u64;
    for _ in 0..n {
        let x = wrong.sample(&mut rng);
        if x.abs() > r {
            tails += 1;
        } else {
            counts[(x + r) as usize] += 1;
        }
    }
    let inside: f64 = (-r..=r).map(|x| pmf(&right, x)).sum();
    let mut chi2 = (tails as f64 - (1.0 - inside) * n as f64).powi(2) / ((1.0 - inside) * n as f64);
    for (i, got) in counts.iter().enumerate() {
        let e = pmf(&right, i as i64 - r) * n as f64;
        chi2 += (*got as f64 - e).powi(2) / e;
    }
    eprintln!(
        "off-by-10% sampler: chi2 {chi2:.1}, critical {:.1}",
        critical(counts.len())
    );
    assert!(chi2 > critical(counts.len()), "chi2 {chi2:.1}");
}

#[test]
fn bernoulli_exp_has_the_right_mean() {
    let mut rng = StdRng::seed_from_u64(3);
    for (num, den) in [(0u64, 1u64), (1, 3), (5, 2), (1, 1)] {
        let n = 100_000;
        let hits = (0..n).filter(|_| bernoulli_exp(&mut rng, num, den)).count();
        let p = (-(num as f64) / den as f64).exp();
        let sd = (p * (1.0 - p) / n as f64).sqrt().max(1e-9);
        let got = hits as f64 / n as f64;
        assert!(
            (got - p).abs() < 5.0 * sd + 1e-12,
            "{num}/{den}: {got} vs {p}"
        );
    }
}

/// No floating point on the sampler's path: its module names no float
/// type, and the mechanism is built from integers only (the signature
/// below does not compile if `new` takes a float or `sample` returns one).
#[test]
fn no_floating_point_on_the_path() {
    let src = include_str!("noise.rs");
    for token in ["f64", "f32", "as f", "powf", ".ln(", ".exp("] {
        assert!(!src.contains(token), "noise.rs contains {token:?}");
    }
    let _new: fn(u64, u64) -> DiscreteLaplace = DiscreteLaplace::new;
    let _sample: fn(&DiscreteLaplace, &mut StdRng) -> i64 = DiscreteLaplace::sample::<StdRng>;
    let _apply: fn(&DiscreteLaplace, u64, &mut StdRng) -> u64 = DiscreteLaplace::apply::<StdRng>;
}

#[test]
fn noise_is_clamped_and_reduced() {
    let m = DiscreteLaplace::new(1_000_000, 4);
    assert_eq!((m.s, m.t), (1, 4));
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
