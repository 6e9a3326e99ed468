//! The checks as `conformance checks` lists them: every one, those a provider's scenarios use,
//! and the Markdown tables of docs/conformance.md (`--markdown`, compared with that page by
//! tests/readme.rs).

use crate::contract::{Check, Severity};
use crate::registry;
use crate::scenario::Scenario;

/// Every check there is, common ones first.
pub fn all() -> Vec<&'static dyn Check> {
    registry::checks()
}

/// The checks a provider's scenarios use, in the order of [`all`]: its own and the common ones.
pub fn of_provider(provider: &str, scenarios: &[Scenario]) -> Vec<&'static dyn Check> {
    let own = format!("{provider}.");
    all()
        .into_iter()
        .filter(|c| {
            c.name().starts_with(&own)
                || scenarios.iter().any(|s| s.provider == provider && s.checks.iter().any(|u| u.name == c.name()))
        })
        .collect()
}

/// The table of checks per provider in docs/conformance.md (`conformance checks --markdown`).
pub fn markdown(scenarios: &[Scenario]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    for profile in registry::profiles() {
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
