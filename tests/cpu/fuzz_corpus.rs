//! Every checked-in fuzz corpus file (`fuzz/corpus/<target>/`) replayed
//! through its target's body (`fuzz/targets.rs`, what `cargo fuzz` runs):
//! inputs that once crashed, and the corpus the fuzzer grew, stay fixed.

#[path = "../../fuzz/targets.rs"]
mod targets;

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("decode_query", targets::decode_query),
    ("decode_json", targets::decode_json),
    ("client_ip", targets::client_ip),
    ("url_scrub", targets::url_scrub),
    ("log_record", targets::log_record),
    ("config", targets::config),
];

#[test]
fn every_corpus_input_runs_clean() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, body) in TARGETS {
        let dir = root.join(name);
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = e.unwrap().path();
            body(&std::fs::read(&path).unwrap());
            n += 1;
        }
        assert!(n > 0, "{name}: an empty corpus tests nothing");
    }
}
