//! Embeds the SQL migrations in `schema/` into the binary, so `tacit migrate`
//! needs nothing but the executable.
use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-changed=schema");
    let mut files: Vec<_> = std::fs::read_dir("schema")
        .expect("schema/ directory")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let mut out = String::from("pub static MIGRATIONS: &[(&str, &str)] = &[\n");
    for f in files {
        let name = f
            .file_name()
            .expect("a listed file has a name")
            .to_string_lossy()
            .to_string();
        let abs = std::fs::canonicalize(&f).expect("a listed migration resolves");
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            abs.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    out.push_str("];\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("migrations.rs");
    std::fs::write(dest, out).expect("writing OUT_DIR/migrations.rs");
}
