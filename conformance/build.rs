//! Embeds `scenarios/**/*.toml` (in this crate's folder) so an installed `conformance` binary
//! carries its suites. A missing or empty folder fails the build: a runner without scenarios
//! would certify nothing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::exit;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    println!("cargo:rerun-if-changed={}", root.display());
    let files = scenario_files(&root).unwrap_or_else(|message| fail(&message));
    let mut out = String::from("&[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let abs = fs::canonicalize(f).unwrap_or_else(|e| fail(&format!("cannot resolve {}: {e}", f.display())));
        out.push_str(&format!("    ({rel:?}, include_str!({:?})),\n", abs.display().to_string()));
    }
    out.push_str("]\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded_scenarios.rs");
    fs::write(&dest, out).unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", dest.display())));
}

/// Every `*.toml` below `root`, sorted, or why the build must stop: the folder cannot be read
/// (a missing one too) or holds none. Apart from `main` so that `tests/build_script.rs` runs it.
pub(crate) fn scenario_files(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    collect(root, &mut files).map_err(|e| format!("cannot read the scenario folder {}: {e}", root.display()))?;
    if files.is_empty() {
        return Err(format!("the scenario folder {} holds no *.toml file", root.display()));
    }
    files.sort();
    Ok(files)
}

/// Every `*.toml` below `dir`; an unreadable folder (a missing one too) is an error.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            println!("cargo:rerun-if-changed={}", p.display());
            collect(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
    Ok(())
}

/// Stops the build with `message` and what to do about it (`cargo::error` shows it as the
/// build's error; the exit status fails the build whatever cargo makes of that line).
fn fail(message: &str) -> ! {
    println!(
        "cargo::error={message}. The conformance runner embeds its scenarios from \
         conformance/scenarios/<provider>/*.toml: restore that folder (it belongs to the crate and its package)"
    );
    exit(1)
}
