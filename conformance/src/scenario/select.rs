//! Chooses the scenarios a `--suite` argument names.

use super::model::Scenario;

/// `kalibrate` selects a provider's scenarios, `kalibrate/basic` one suite of them.
pub fn select<'a>(scenarios: &'a [Scenario], suite: &str) -> Vec<&'a Scenario> {
    let (provider, suite_name) = suite.split_once('/').map_or((suite, None), |(p, s)| (p, Some(s)));
    scenarios
        .iter()
        .filter(|s| provider == "all" || s.provider == provider)
        .filter(|s| suite_name.is_none_or(|n| s.suite.name() == n || s.id == suite))
        .collect()
}
