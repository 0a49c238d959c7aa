//! The layering of `src/`, checked: each top-level module may import only
//! the modules listed for it below (the diagram in docs/ARCHITECTURE.md),
//! which also rules out any cycle. A `crate::x` path or a `use crate::{x, …}`
//! in a module's files, outside its unit tests, is an import of `x`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What each top-level module may import, bottom layer first.
const ALLOWED: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("http", &["model"]),
    ("config", &["model"]),
    ("telemetry", &["model", "config"]),
    ("enrich", &["model", "config"]),
    ("store", &["model", "config"]),
    ("privacy", &["model", "config", "enrich", "store"]),
    ("ingest", &["model", "config", "enrich", "privacy"]),
    ("analytics", &["model", "store"]),
    ("visits", &["model", "store"]),
    (
        "sink",
        &["model", "config", "telemetry", "privacy", "store", "visits"],
    ),
    ("export", &["model", "config", "store", "analytics"]),
    ("query", &["model", "store"]),
    (
        "beacon",
        &[
            "model",
            "config",
            "http",
            "ingest",
            "privacy",
            "sink",
            "telemetry",
        ],
    ),
    (
        "commands",
        &[
            "model",
            "config",
            "enrich",
            "http",
            "ingest",
            "privacy",
            "store",
            "sink",
            "export",
            "analytics",
        ],
    ),
    (
        "admin",
        &[
            "model",
            "config",
            "http",
            "export",
            "store",
            "telemetry",
            "sink",
            "query",
            "enrich",
            "commands",
        ],
    ),
];

/// Top-level module → the modules its files name.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let path_re = regex::Regex::new(r"\bcrate::(\w+)").unwrap();
    let group_re = regex::Regex::new(r"\buse crate::\{([^}]*)\}").unwrap();
    let name_re = regex::Regex::new(r"(?:^|,)\s*(\w+)").unwrap();
    let tests_re = regex::Regex::new(r"(?s)#\[cfg\(test\)\]\s*mod tests\s*\{.*").unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap();
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if top == "main" || top == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let text = tests_re.replace(&text, "");
            let names = out.entry(top.clone()).or_default();
            for c in path_re.captures_iter(&text) {
                names.insert(c[1].to_string());
            }
            for g in group_re.captures_iter(&text) {
                for n in name_re.captures_iter(&g[1]) {
                    names.insert(n[1].to_string());
                }
            }
            names.remove(&top);
        }
    }
    out
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = imports(&src);
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, names) in &found {
        if module == "app" {
            continue; // wires everything
        }
        let Some(ok) = allowed.get(module.as_str()) else {
            wrong.push(format!(
                "{module}: not in the layer table (add it to ALLOWED and ARCHITECTURE.md)"
            ));
            continue;
        };
        for n in names {
            if !ok.contains(&n.as_str()) {
                wrong.push(format!("{module} imports {n}"));
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_table_is_acyclic() {
    // Each module may import only modules listed before it.
    for (i, (module, deps)) in ALLOWED.iter().enumerate() {
        for d in *deps {
            let j = ALLOWED.iter().position(|(m, _)| m == d);
            assert!(
                j.is_some_and(|j| j < i),
                "{module} may import {d}, which is not below it"
            );
        }
    }
}
