//! Loading and validating fixtures: the tenants, clients, users and data every provider serves.
//!
//! Fixtures are TOML. The embedded `fixtures/default.toml` is used when no file is given, so a
//! fresh clone serves without edits. Errors name the file, the line, the key and a fix: syntax
//! and unknown keys come from the TOML parser (which knows the line), semantic problems from
//! each provider's `validate`.

use std::fmt;
use std::path::{Path, PathBuf};

pub use crate::providers::Fixtures;

/// The fixtures that ship inside the binary.
pub const DEFAULT_FIXTURES: &str = include_str!("../../fixtures/default.toml");

/// Where fixtures come from; `POST /__admin/reset` reloads from here.
#[derive(Debug, Clone, PartialEq)]
pub enum FixturesSource {
    Embedded,
    File(PathBuf),
    /// Given as text by a library user.
    Inline(String),
}

impl FixturesSource {
    pub fn name(&self) -> String {
        match self {
            FixturesSource::Embedded => "fixtures/default.toml (embedded)".to_owned(),
            FixturesSource::File(p) => p.display().to_string(),
            FixturesSource::Inline(_) => "<inline fixtures>".to_owned(),
        }
    }

    pub fn load(&self) -> Result<Fixtures, ConfigError> {
        let text = match self {
            FixturesSource::Embedded => DEFAULT_FIXTURES.to_owned(),
            FixturesSource::Inline(text) => text.clone(),
            FixturesSource::File(path) => std::fs::read_to_string(path).map_err(|e| ConfigError {
                file: self.name(),
                problems: vec![Problem {
                    line: None,
                    key: String::new(),
                    message: format!("cannot read the file: {e}"),
                    hint: "check the path given to --config".to_owned(),
                }],
            })?,
        };
        parse(&self.name(), &text)
    }
}

/// One thing wrong with a fixtures file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub line: Option<usize>,
    /// Dotted path, e.g. `kalibrate.tenants[0].clients[1].secret`.
    pub key: String,
    pub message: String,
    pub hint: String,
}

/// A problem found while validating; the line is found later from the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub key: String,
    pub message: String,
    pub hint: String,
    /// A piece of text to look for to find the line (usually the offending value).
    pub near: Option<String>,
}

impl Issue {
    pub fn new(key: impl Into<String>, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Issue { key: key.into(), message: message.into(), hint: hint.into(), near: None }
    }

    pub fn near(mut self, text: impl Into<String>) -> Self {
        self.near = Some(text.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match p.line {
                Some(line) => write!(f, "{}:{}: ", self.file, line)?,
                None => write!(f, "{}: ", self.file)?,
            }
            if !p.key.is_empty() {
                write!(f, "{}: ", p.key)?;
            }
            write!(f, "{}", p.message)?;
            if !p.hint.is_empty() {
                write!(f, "\n  fix: {}", p.hint)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Parses and validates fixtures text; `file` is only used in messages.
pub fn parse(file: &str, text: &str) -> Result<Fixtures, ConfigError> {
    let fixtures: Fixtures = toml::from_str(text)
        .map_err(|e| ConfigError { file: file.to_owned(), problems: vec![toml_problem(text, &e)] })?;
    let issues = fixtures.validate();
    if issues.is_empty() {
        return Ok(fixtures);
    }
    Err(ConfigError {
        file: file.to_owned(),
        problems: issues
            .into_iter()
            .map(|i| Problem {
                line: locate(text, i.near.as_deref(), &i.key),
                key: i.key,
                message: i.message,
                hint: i.hint,
            })
            .collect(),
    })
}

/// A TOML parse error as a [`Problem`]: its line, the key written there, and a fix.
pub fn toml_problem(text: &str, e: &toml::de::Error) -> Problem {
    let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let message = e.message().trim().to_owned();
    let hint = if message.starts_with("unknown field") {
        "remove the key or correct its spelling to one of those expected".to_owned()
    } else if message.starts_with("missing field") {
        "add the missing key to this table".to_owned()
    } else if message.contains("invalid type") {
        "give the value the type shown (quote strings, no quotes around numbers and booleans)".to_owned()
    } else {
        "see fixtures/default.toml for a complete, valid example".to_owned()
    };
    let key = e.span().map(|s| key_at(text, s.start)).unwrap_or_default();
    Problem { line, key, message, hint }
}

/// The dotted key written at byte `at`: the nearest `[table]` or `[[array]]` header above it,
/// then the `name =` of that line (for an inline table, the error may point inside it).
fn key_at(text: &str, at: usize) -> String {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or_default().trim();
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    let name = if line.starts_with('[') { None } else { line.split_once('=').map(|(k, _)| k.trim().to_owned()) };
    [table, name].into_iter().flatten().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(".")
}

/// The line of the first occurrence of `near`, else of the last segment of `key`.
pub fn locate(text: &str, near: Option<&str>, key: &str) -> Option<usize> {
    let last = key.rsplit('.').next().map(|s| s.split('[').next().unwrap_or(s)).filter(|s| !s.is_empty());
    [near, last]
        .into_iter()
        .flatten()
        .find_map(|needle| text.find(needle))
        .map(|at| text[..at].matches('\n').count() + 1)
}

/// Loads fixtures from an optional path, the embedded defaults otherwise.
pub fn source_for(path: Option<&Path>) -> FixturesSource {
    match path {
        Some(p) => FixturesSource::File(p.to_path_buf()),
        None => FixturesSource::Embedded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_valid() {
        FixturesSource::Embedded.load().unwrap();
    }

    #[test]
    fn unknown_key_names_file_line_and_fix() {
        let err = parse("f.toml", "[journal]\ncapacity = 10\ncapacitty = 3\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("f.toml:3: journal.capacitty: unknown field"), "{text}");
        assert!(text.contains("fix:"), "{text}");
    }

    #[test]
    fn wrong_type_is_explained() {
        let err = parse("f.toml", "[journal]\ncapacity = \"ten\"\n").unwrap_err().to_string();
        assert!(err.contains("f.toml:2: journal.capacity: "), "{err}");
        assert!(err.contains("invalid type"), "{err}");
    }
}
