//! tacit's own tracker: at most 1 KiB gzipped, and the committed minified
//! file is what `scripts/build-tracker` makes from `tracker/tacit.js`.

use std::process::Command;

#[test]
fn the_tracker_is_at_most_1_kib_gzipped_and_built_from_its_source() {
    let root = env!("CARGO_MANIFEST_DIR");
    let gz = Command::new("gzip")
        .args(["-9c", &format!("{root}/tracker/tacit.min.js")])
        .output()
        .unwrap();
    assert!(gz.status.success());
    assert!(gz.stdout.len() <= 1024, "{} bytes gzipped", gz.stdout.len());
    // The committed minified file is what scripts/build-tracker makes.
    let terser = format!("{root}/tests/browser/node_modules/terser/bin/terser");
    let min = Command::new("node")
        .args([
            &terser,
            &format!("{root}/tracker/tacit.js"),
            "--compress",
            "--mangle",
            "--comments",
            "false",
        ])
        .output()
        .unwrap();
    assert!(
        min.status.success(),
        "{}",
        String::from_utf8_lossy(&min.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&min.stdout).trim_end(),
        tacit::beacon::script::SCRIPT.trim_end(),
        "tracker/tacit.min.js is stale: run scripts/build-tracker"
    );
}
