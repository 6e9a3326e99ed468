//! Reads one scenario file: the TOML as written, then every problem in it (unknown provider,
//! action, check or parameter, bad fault rule or fixtures), each with its line, key and fix.

use std::collections::BTreeMap;
use std::path::Path;

use mock_server::fixtures::{locate, toml_problem, ConfigError, Problem};
use serde::Deserialize;

use super::model::{CheckUse, Expect, Scenario, Setup, Suite};
use crate::contract::Params;
use crate::registry;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    title: String,
    provider: String,
    suite: Suite,
    #[serde(default)]
    description: String,
    action: toml::Table,
    #[serde(default = "default_timeout")]
    timeout_seconds: f64,
    expect: Expect,
    #[serde(default)]
    setup: Setup,
    checks: Vec<toml::Table>,
}

fn default_timeout() -> f64 {
    10.0
}

/// Parses one scenario file's text.
pub fn parse(file: &Path, text: &str) -> Result<Scenario, ConfigError> {
    let name = file.display().to_string();
    let fail = |problems: Vec<Problem>| ConfigError { file: name.clone(), problems };
    let raw: File = toml::from_str(text).map_err(|e| fail(vec![toml_problem(text, &e)]))?;
    let problem = |key: &str, near: Option<&str>, message: String, hint: String| Problem {
        line: locate(text, near, key),
        key: key.to_owned(),
        message,
        hint,
    };
    let mut problems = Vec::new();

    let Some(profile) = registry::profile(&raw.provider) else {
        let known: Vec<&str> = registry::profiles().map(|p| p.name).collect();
        return Err(fail(vec![problem(
            "provider",
            Some(&raw.provider),
            format!("unknown provider '{}'", raw.provider),
            format!("use one of: {}", known.join(", ")),
        )]));
    };
    let mut action_params = BTreeMap::new();
    let action = match raw.action.get("name").and_then(toml::Value::as_str) {
        Some(a) if profile.actions.contains(&a) => a.to_owned(),
        other => {
            problems.push(problem(
                "action.name",
                other.or(Some("action")),
                format!("'{}' is not an action of {}", other.unwrap_or("<missing>"), profile.name),
                format!("use one of: {}", profile.actions.join(", ")),
            ));
            String::new()
        }
    };
    for (key, value) in raw.action.iter().filter(|(k, _)| *k != "name") {
        let text_value = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => value.to_string(),
            _ => {
                problems.push(problem(
                    &format!("action.{key}"),
                    Some(key),
                    "must be a string, number or boolean".into(),
                    "e.g. calls = 3".into(),
                ));
                continue;
            }
        };
        action_params.insert(key.clone(), text_value);
    }
    if !(0.1..=600.0).contains(&raw.timeout_seconds) {
        problems.push(problem(
            "timeout_seconds",
            Some("timeout_seconds"),
            format!("{} is out of range", raw.timeout_seconds),
            "use 0.1 to 600 seconds".into(),
        ));
    }
    for (i, rule) in raw.setup.faults.iter().enumerate() {
        if let Err(e) = rule.validate() {
            problems.push(problem(
                &format!("setup.faults[{i}]"),
                Some("[[setup.faults]]"),
                e.to_string(),
                "see the fault rules in docs/admin-api.md".into(),
            ));
        }
    }
    if let Some(fixtures) = &raw.setup.fixtures {
        if let Err(e) = mock_server::Fixtures::parse("setup.fixtures", fixtures) {
            problems.push(problem(
                "setup.fixtures",
                Some("fixtures"),
                format!("the fixtures are not valid:\n{e}"),
                "check them with `mock-server check-config`".into(),
            ));
        }
    }

    if let Some(patch) = &raw.setup.fixtures_patch {
        if let Err(e) = patch_table(patch, "THUMBPRINT", "SERIAL") {
            problems.push(problem(
                "setup.fixtures_patch",
                Some("fixtures_patch"),
                format!("not a TOML table: {e}"),
                "write the keys to change, e.g. [opinum] token_lifetime_seconds = 2".into(),
            ));
        }
    }
    if let Some(s) = raw.setup.client_certificate.validity_seconds.filter(|s| !(1..=315_360_000).contains(s)) {
        problems.push(problem(
            "setup.client_certificate.validity_seconds",
            Some("validity_seconds"),
            format!("{s} is out of range"),
            "use 1 second to 10 years".into(),
        ));
    }

    let mut uses = Vec::new();
    for (i, table) in raw.checks.into_iter().enumerate() {
        let key = format!("checks[{i}]");
        let Some(check_name) = table.get("name").and_then(toml::Value::as_str).map(str::to_owned) else {
            problems.push(problem(
                &key,
                Some("[[checks]]"),
                "a check needs a name".into(),
                "add name = \"<check>\"; `conformance checks` lists them".into(),
            ));
            continue;
        };
        let Some(check) = registry::check(&check_name) else {
            problems.push(problem(
                &format!("{key}.name"),
                Some(&check_name),
                format!("unknown check '{check_name}'"),
                "`conformance checks` lists the checks".into(),
            ));
            continue;
        };
        let mut params = table;
        params.remove("name");
        match Params::validated(check.params(), params) {
            Ok(params) => uses.push(CheckUse { name: check_name, params }),
            Err((param, message, hint)) => {
                problems.push(problem(&format!("{key}.{param}"), Some(&param), message, hint));
            }
        }
    }
    if uses.is_empty() && problems.is_empty() {
        problems.push(problem(
            "checks",
            None,
            "a scenario needs at least one check".into(),
            "add [[checks]] name = \"common.client-outcome\"".into(),
        ));
    }
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario");
    Ok(Scenario {
        id: format!("{}/{stem}", raw.provider),
        file: file.to_owned(),
        title: raw.title,
        description: raw.description,
        provider: raw.provider,
        suite: raw.suite,
        action,
        action_params,
        timeout_seconds: raw.timeout_seconds,
        expect: raw.expect,
        setup: raw.setup,
        checks: uses,
    })
}

/// The fixtures patch of a scenario with the run's certificate put in its placeholders.
pub fn patch_table(text: &str, thumbprint: &str, serial: &str) -> Result<toml::Table, toml::de::Error> {
    text.replace("{client_cert_thumbprint}", thumbprint).replace("{client_cert_serial}", serial).parse::<toml::Table>()
}
#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
title = "t"
provider = "kalibrate"
suite = "basic"
action = { name = "status", calls = 2 }
expect = { exit = "success" }

[[checks]]
name = "common.client-outcome"
"#;

    #[test]
    fn a_good_file_parses() {
        let s = parse(Path::new("kalibrate/x.toml"), GOOD).unwrap();
        assert_eq!(s.id, "kalibrate/x");
        assert_eq!(s.action_params.get("calls").map(String::as_str), Some("2"));
    }

    #[test]
    fn errors_name_file_line_key_and_fix() {
        let bad = GOOD.replace("common.client-outcome", "common.no-such-check");
        let e = parse(Path::new("s.toml"), &bad).unwrap_err().to_string();
        assert!(e.starts_with("s.toml:9: checks[0].name: unknown check 'common.no-such-check'"), "{e}");
        assert!(e.contains("fix: `conformance checks`"), "{e}");

        let bad = GOOD.replace("name = \"common.client-outcome\"", "name = \"common.bounded-retries\"\nmaximum = 3");
        let e = parse(Path::new("s.toml"), &bad).unwrap_err().to_string();
        assert!(e.contains("s.toml:10: checks[0].maximum: unknown parameter"), "{e}");

        let bad = GOOD.replace("suite = \"basic\"", "suite = \"basics\"");
        let e = parse(Path::new("s.toml"), &bad).unwrap_err().to_string();
        assert!(e.starts_with("s.toml:4: suite: unknown variant `basics`"), "{e}");

        let bad = GOOD.replace("name = \"status\"", "name = \"stat\"");
        let e = parse(Path::new("s.toml"), &bad).unwrap_err().to_string();
        assert!(e.contains("action.name: 'stat' is not an action of kalibrate"), "{e}");
    }
}
