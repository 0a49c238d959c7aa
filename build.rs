//! Embeds the schema in `schema/` into the binary, so `tacit migrate`
//! needs nothing but the executable: the historical migrations
//! (`schema/migrations/NNNN_name.sql`) and the baseline of a new install
//! (`schema/baseline.sql`, `schema/views/*.sql`, `schema/grants.sql`).
use std::fmt::Write;
use std::path::Path;

/// `(file name, include_str!(absolute path))` for every `.sql` in `dir`, by name.
fn sql_files(dir: &str) -> String {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}/: {e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let mut out = String::from("&[\n");
    for f in files {
        let name = f
            .file_name()
            .expect("a listed file has a name")
            .to_string_lossy()
            .to_string();
        writeln!(out, "    ({name:?}, {}),", include(&f)).expect("writing to a String cannot fail");
    }
    out.push(']');
    out
}

fn include(f: &Path) -> String {
    let abs = std::fs::canonicalize(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    format!("include_str!({:?})", abs.display().to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=schema");
    // A migration left beside the baseline would be silently skipped.
    for e in std::fs::read_dir("schema").expect("schema/").flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".sql") && name != "baseline.sql" && name != "grants.sql" {
            panic!("schema/{name}: a migration goes in schema/migrations/ (schema/README.md)");
        }
    }
    let out = format!(
        "pub static MIGRATIONS: &[(&str, &str)] = {};\n\
         pub static BASELINE_TABLES: &str = {};\n\
         pub static BASELINE_VIEWS: &[(&str, &str)] = {};\n\
         pub static BASELINE_GRANTS: &str = {};\n",
        sql_files("schema/migrations"),
        include(Path::new("schema/baseline.sql")),
        sql_files("schema/views"),
        include(Path::new("schema/grants.sql")),
    );
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    std::fs::write(dest, out).expect("writing OUT_DIR/migrations.rs");
}
