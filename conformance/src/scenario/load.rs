//! Finds the scenario files (a folder, or those built into the binary) and parses them all,
//! reporting every bad one before anything runs.

use std::path::{Path, PathBuf};

use mock_server::fixtures::{ConfigError, Problem};

use super::model::Scenario;
use super::parse::parse;

/// The scenario files shipped with the runner, for `--scenarios` left unset.
const EMBEDDED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/embedded_scenarios.rs"));

/// Loads every `*.toml` below `dir` (or the embedded scenarios), sorted by suite then id.
/// All files are checked; the error lists every bad one.
pub fn load_scenarios(dir: Option<&Path>) -> Result<Vec<Scenario>, Vec<ConfigError>> {
    let mut sources: Vec<(PathBuf, String)> = Vec::new();
    let mut errors = Vec::new();
    match dir {
        None => sources.extend(EMBEDDED.iter().map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))),
        Some(dir) => {
            let mut files = Vec::new();
            collect_toml(dir, &mut files);
            if files.is_empty() {
                errors.push(ConfigError {
                    file: dir.display().to_string(),
                    problems: vec![Problem {
                        line: None,
                        key: String::new(),
                        message: "no scenario files (*.toml) here".into(),
                        hint: "point --scenarios at a folder such as conformance/scenarios".into(),
                    }],
                });
            }
            for f in files {
                match std::fs::read_to_string(&f) {
                    Ok(text) => sources.push((f, text)),
                    Err(e) => errors.push(ConfigError {
                        file: f.display().to_string(),
                        problems: vec![Problem {
                            line: None,
                            key: String::new(),
                            message: format!("cannot read: {e}"),
                            hint: String::new(),
                        }],
                    }),
                }
            }
        }
    }
    let mut scenarios = Vec::new();
    for (path, text) in sources {
        match parse(&path, &text) {
            Ok(s) => scenarios.push(s),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    scenarios.sort_by(|a, b| (&a.provider, a.suite, &a.id).cmp(&(&b.provider, b.suite, &b.id)));
    Ok(scenarios)
}

fn collect_toml(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_toml(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_scenarios_all_load() {
        let scenarios = load_scenarios(None)
            .unwrap_or_else(|e| panic!("{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")));
        assert!(scenarios.len() >= 8, "{}", scenarios.len());
    }
}
