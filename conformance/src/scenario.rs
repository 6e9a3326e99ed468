//! Scenarios: TOML files under `fixtures/scenarios/<provider>/`, one scenario per file.
//!
//! ```toml
//! title = "The token endpoint answers 503 with Retry-After once"
//! provider = "kalibrate"
//! suite = "robustness"                    # basic | robustness | security
//! action = { name = "status", calls = 2 } # CONFORMANCE_ACTION=status, CONFORMANCE_CALLS=2
//! timeout_seconds = 10
//! expect = { exit = "success" }            # or "failure"
//!
//! [setup]
//! fixtures = """..."""                     # optional TOML replacing the server's fixtures
//! fixtures_patch = """[opinum]\ntoken_lifetime_seconds = 2"""  # merged into them instead;
//!                                          # {client_cert_thumbprint} / {client_cert_serial} are
//!                                          # replaced by the run's client certificate's
//! client_certificate = { issuer = "self-signed" }  # default: signed by the dev CA
//! clock = { advance_seconds = 0 }          # a step before the client starts
//! env = { KALIBRATE_CLIENT_SECRET = "wrong" }
//! [[setup.faults]]                         # mock-server fault rules; advance_clock_seconds
//! service = "login"                        # steps the clock while the client runs
//! action = { status = 503, headers = { Retry-After = "1" } }
//!
//! [[checks]]
//! name = "common.honours-retry-after"      # plus the check's parameters
//! ```
//! A file that does not parse or names an unknown check, parameter or action is reported with
//! its file, line, key and a fix, before anything runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mock_server::config::{locate, toml_problem, ConfigError, Problem};
use mock_server::FaultRule;
use serde::Deserialize;

use crate::contract::{ExitExpectation, Params};
use crate::registry;

/// The scenario files shipped with the runner, for `--scenarios` left unset.
pub const EMBEDDED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/embedded_scenarios.rs"));

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    Basic,
    Robustness,
    Security,
}

impl Suite {
    pub fn name(self) -> &'static str {
        match self {
            Suite::Basic => "basic",
            Suite::Robustness => "robustness",
            Suite::Security => "security",
        }
    }
}

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub exit: ExitExpectation,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Fixtures (TOML) served for this scenario instead of the server's own.
    pub fixtures: Option<String>,
    /// TOML merged into the fixtures (after `fixtures`), placeholders
    /// `{client_cert_thumbprint}` and `{client_cert_serial}` replaced first.
    pub fixtures_patch: Option<String>,
    /// How the run's client certificate is made (default: signed by the dev CA, 365 days).
    #[serde(default)]
    pub client_certificate: crate::certificate::CertificateSetup,
    #[serde(default)]
    pub faults: Vec<FaultRule>,
    pub clock: Option<ClockStep>,
    /// Overrides of the client's environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockStep {
    pub advance_seconds: i64,
}

#[derive(Debug, Clone)]
pub struct CheckUse {
    pub name: String,
    pub params: Params,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    /// `<provider>/<file stem>`, e.g. `kalibrate/robustness-token-503`.
    pub id: String,
    pub file: PathBuf,
    pub title: String,
    pub description: String,
    pub provider: String,
    pub suite: Suite,
    pub action: String,
    /// The action's parameters, exported as `CONFORMANCE_<NAME>`.
    pub action_params: BTreeMap<String, String>,
    pub timeout_seconds: f64,
    pub expect: Expect,
    pub setup: Setup,
    pub checks: Vec<CheckUse>,
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
                "see the fault rules in the README".into(),
            ));
        }
    }
    if let Some(fixtures) = &raw.setup.fixtures {
        if let Err(e) = mock_server::config::parse("setup.fixtures", fixtures) {
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
                        hint: "point --scenarios at a folder such as fixtures/scenarios".into(),
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

/// `kalibrate` selects a provider's scenarios, `kalibrate/basic` one suite of them.
pub fn select<'a>(scenarios: &'a [Scenario], suite: &str) -> Vec<&'a Scenario> {
    let (provider, suite_name) = suite.split_once('/').map_or((suite, None), |(p, s)| (p, Some(s)));
    scenarios
        .iter()
        .filter(|s| provider == "all" || s.provider == provider)
        .filter(|s| suite_name.is_none_or(|n| s.suite.name() == n || s.id == suite))
        .collect()
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
    fn embedded_scenarios_all_load() {
        let scenarios = load_scenarios(None)
            .unwrap_or_else(|e| panic!("{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")));
        assert!(scenarios.len() >= 8, "{}", scenarios.len());
    }

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
