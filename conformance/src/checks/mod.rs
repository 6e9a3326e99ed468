//! Named checks over a client's run. Each check is one rule in its own file: a name, the clause
//! it enforces (RFC, provider document or seed), a severity, its parameters, and `evaluate`,
//! which returns a verdict with the evidence (journal events, secrets already redacted there).
//!
//! Checks under `common/` hold for every provider, reading provider facts (which request is
//! the token request, which service is the API) from the run's [`Profile`]; checks under a
//! provider's folder read that provider's events.

use serde::Serialize;
use serde_json::Value;

use crate::client::ClientExit;
use crate::events::EventView;
use crate::providers::Profile;
use crate::scenario::Scenario;

pub mod common;
pub mod iotopen;
pub mod kalibrate;
pub mod knoema;
pub mod openenergy;
pub mod opinum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A violation fails the scenario.
    Failure,
    /// A violation is reported as WARNING; the scenario still passes.
    Warning,
}

/// What one check concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Violated,
    /// The situation the check is about did not arise (e.g. no 429 was served).
    NotApplicable,
}

#[derive(Debug, Clone)]
pub struct Verdict {
    pub outcome: Outcome,
    pub message: String,
    /// The events that decided it (at most a handful).
    pub evidence: Vec<Value>,
}

impl Verdict {
    pub fn pass(message: impl Into<String>) -> Self {
        Verdict { outcome: Outcome::Pass, message: message.into(), evidence: Vec::new() }
    }
    pub fn violated(message: impl Into<String>) -> Self {
        Verdict { outcome: Outcome::Violated, message: message.into(), evidence: Vec::new() }
    }
    pub fn not_applicable(message: impl Into<String>) -> Self {
        Verdict { outcome: Outcome::NotApplicable, message: message.into(), evidence: Vec::new() }
    }
    pub fn with<'a>(mut self, events: impl IntoIterator<Item = &'a EventView>) -> Self {
        self.evidence.extend(events.into_iter().take(MAX_EVIDENCE).map(|e| e.0.clone()));
        self
    }
}

const MAX_EVIDENCE: usize = 6;

/// Everything a check may look at.
pub struct Run<'a> {
    pub scenario: &'a Scenario,
    pub profile: &'a Profile,
    pub client: &'a ClientExit,
    pub events: &'a [EventView],
}

impl Run<'_> {
    pub fn exchanges(&self) -> impl Iterator<Item = &EventView> {
        self.events.iter().filter(|e| e.is_exchange())
    }
    pub fn token_requests(&self) -> impl Iterator<Item = &EventView> {
        let is_token = self.profile.is_token_request;
        self.exchanges().filter(move |e| is_token(e))
    }
    pub fn of_kind<'k>(&'k self, kind: &'k str) -> impl Iterator<Item = &'k EventView> {
        self.events.iter().filter(move |e| e.kind() == kind)
    }
}

pub trait Check: Sync {
    /// `common.honours-retry-after`, `kalibrate.token-reused`...
    fn name(&self) -> &'static str;
    /// What the rule demands, in one sentence.
    fn summary(&self) -> &'static str;
    /// The clause it enforces.
    fn clause(&self) -> &'static str;
    fn severity(&self) -> Severity {
        Severity::Failure
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict;
}

/// Every check there is.
pub fn all() -> Vec<&'static dyn Check> {
    let mut checks = common::all();
    checks.extend(kalibrate::all());
    checks.extend(opinum::all());
    checks.extend(openenergy::all());
    checks.extend(knoema::all());
    checks.extend(iotopen::all());
    checks
}

/// The checks a provider's scenarios use, in the order of [`all`]: its own and the common ones.
pub fn of_provider(provider: &str, scenarios: &[crate::scenario::Scenario]) -> Vec<&'static dyn Check> {
    let own = format!("{provider}.");
    all()
        .into_iter()
        .filter(|c| {
            c.name().starts_with(&own)
                || scenarios.iter().any(|s| s.provider == provider && s.checks.iter().any(|u| u.name == c.name()))
        })
        .collect()
}

/// The README's table of checks per provider (`conformance checks --markdown`).
pub fn markdown(scenarios: &[crate::scenario::Scenario]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    for profile in crate::providers::all() {
        let checks = of_provider(profile.name, scenarios);
        if checks.is_empty() {
            continue;
        }
        let count = scenarios.iter().filter(|s| s.provider == profile.name).count();
        out.push_str(&format!(
            "#### {} ({count} scenarios)\n\n| check | severity | rule | clause |\n|---|---|---|---|\n",
            profile.name
        ));
        for c in checks {
            let severity = match c.severity() {
                Severity::Failure => "failure",
                Severity::Warning => "warning",
            };
            out.push_str(&format!("| `{}` | {severity} | {} | {} |\n", c.name(), cell(c.summary()), cell(c.clause())));
        }
        out.push('\n');
    }
    out.trim_end().to_owned() + "\n"
}

pub fn find(name: &str) -> Option<&'static dyn Check> {
    all().into_iter().find(|c| c.name() == name)
}

/// A parameter a check accepts in a scenario's `[[checks]]` table: whole numbers only, which is
/// all the checks need (counts and seconds).
pub struct ParamSpec {
    pub name: &'static str,
    pub default: i64,
    pub help: &'static str,
}

/// Validated parameters of one use of a check.
#[derive(Debug, Clone, Default)]
pub struct Params(std::collections::BTreeMap<String, i64>);

impl Params {
    /// Checks names and types against `specs`; errors as `(key, message, hint)`.
    pub fn validated(specs: &[ParamSpec], table: toml::Table) -> Result<Params, (String, String, String)> {
        let mut values = std::collections::BTreeMap::new();
        for (key, value) in table {
            let Some(spec) = specs.iter().find(|s| s.name == key) else {
                let known: Vec<String> = specs.iter().map(|s| format!("{} ({})", s.name, s.help)).collect();
                let hint = if known.is_empty() {
                    "this check takes no parameters".to_owned()
                } else {
                    format!("its parameters: {}", known.join("; "))
                };
                return Err((key.clone(), format!("unknown parameter '{key}' for this check"), hint));
            };
            let Some(number) = value.as_integer().filter(|n| *n >= 0) else {
                return Err((
                    key,
                    format!("must be a whole number, not {value}"),
                    format!("e.g. {} = {}", spec.name, spec.default),
                ));
            };
            values.insert(key, number);
        }
        for spec in specs {
            values.entry(spec.name.to_owned()).or_insert(spec.default);
        }
        Ok(Params(values))
    }

    pub fn get(&self, name: &str) -> i64 {
        self.0.get(name).copied().unwrap_or_default()
    }
}
