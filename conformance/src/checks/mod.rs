//! Named checks over a client's run. Each check is one rule in its own file: a name, the clause
//! it enforces (RFC, provider document or seed), a severity, its parameters, and `evaluate`,
//! which returns a verdict with the evidence (journal events, secrets already redacted there).
//!
//! Checks under `common/` hold for every provider, reading provider facts (which request is
//! the token request, which service is the API) from the run's [`Profile`]; checks under a
//! provider's folder read that provider's events.

use crate::contract::{Check, Severity};

pub mod common;
pub mod iotopen;
pub mod kalibrate;
pub mod knoema;
pub mod openenergy;
pub mod opinum;

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
