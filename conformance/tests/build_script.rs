//! The build script's own check (build.rs): a missing scenario folder, or one without a
//! `*.toml`, stops the build with a message, as a runner without scenarios would certify nothing.

#[allow(dead_code)]
#[path = "../build.rs"]
mod build_script;

use std::path::PathBuf;

/// A fresh folder of this test's own.
fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("conformance-build-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_missing_folder_stops_the_build() {
    let dir = temp_dir("missing");
    let message = build_script::scenario_files(&dir.join("scenarios")).unwrap_err();
    assert!(message.starts_with("cannot read the scenario folder "), "{message}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_folder_without_a_scenario_stops_the_build() {
    let dir = temp_dir("empty");
    std::fs::create_dir_all(dir.join("opinum")).unwrap();
    std::fs::write(dir.join("opinum/notes.txt"), "not a scenario").unwrap();
    let message = build_script::scenario_files(&dir).unwrap_err();
    assert!(message.ends_with("holds no *.toml file"), "{message}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_scenarios_below_the_folder_are_found_in_order() {
    let dir = temp_dir("found");
    for file in ["opinum/b.toml", "opinum/a.toml", "knoema/c.toml", "knoema/notes.txt"] {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }
    let found = build_script::scenario_files(&dir).unwrap();
    let expected: Vec<PathBuf> =
        ["knoema/c.toml", "opinum/a.toml", "opinum/b.toml"].iter().map(|f| dir.join(f)).collect();
    assert_eq!(found, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}
