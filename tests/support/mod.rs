//! Helpers shared by every test binary and bench: the vendored registry data
//! files (`scripts/fetch-data`), real browser agents, and the `tacit` binary
//! run with a clean environment. Included with `#[path]`, so each binary
//! compiles only what it uses.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A file of `.tacit/vendor` (fetched by `scripts/fetch-data`).
pub fn vendor(f: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tacit/vendor")
        .join(f)
}

/// A vendored JSON file, parsed.
pub fn vendor_json(f: &str) -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(vendor(f)).unwrap_or_else(|e| panic!("{f}: {e}; run scripts/fetch-data")),
    )
    .unwrap_or_else(|e| panic!("{f}: {e}"))
}

/// npm `user-agents`: (user agent, share of traffic).
pub fn weighted_agents() -> Vec<(String, f64)> {
    vendor_json("user-agents.json")
        .as_array()
        .expect("a list of agents")
        .iter()
        .map(|a| {
            (
                a["userAgent"].as_str().unwrap_or_default().to_string(),
                a["weight"].as_f64().unwrap_or(0.0),
            )
        })
        .collect()
}

/// The `tacit` binary with no `TACIT_*` variable inherited from the test
/// runner's environment. Only test binaries know where it is.
#[cfg(test)]
pub fn tacit_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tacit"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TACIT_")) {
        cmd.env_remove(k);
    }
    cmd
}

/// A small deterministic generator (xorshift64), so generated data and
/// bench inputs are the same on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform pick.
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    /// Zipf-like index in 0..n (popular items first).
    pub fn zipf(&mut self, n: usize) -> usize {
        ((n as f64).powf(self.unit()) - 1.0).floor() as usize % n
    }
    /// Pick with weight 1/rank: early entries far more likely.
    pub fn zipf_pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        let w: Vec<u64> = (1..=v.len() as u64).map(|i| 1000 / i).collect();
        let mut x = self.below(w.iter().sum());
        for (i, wi) in w.iter().enumerate() {
            if x < *wi {
                return &v[i];
            }
            x -= wi;
        }
        &v[v.len() - 1]
    }
}
