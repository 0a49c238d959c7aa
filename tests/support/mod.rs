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
