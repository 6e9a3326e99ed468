//! The providers the runner knows and the checks there are, both read off one table
//! (`providers/mod.rs`), so that a provider is added in one place: its folder, and its line in
//! the `providers!` list.

use crate::common_checks;
use crate::contract::{Check, Profile};
use crate::providers::ALL as PROVIDERS;

/// Every provider's profile, in the table's order.
pub fn profiles() -> impl Iterator<Item = &'static Profile> {
    PROVIDERS.iter().map(|p| &p.profile)
}

/// The profile of the provider a scenario names.
pub fn profile(name: &str) -> Option<&'static Profile> {
    profiles().find(|p| p.name == name)
}

/// Every check there is: the common ones, then each provider's in the table's order.
pub fn checks() -> Vec<&'static dyn Check> {
    common_checks::CHECKS.iter().chain(PROVIDERS.iter().flat_map(|p| p.checks)).copied().collect()
}

/// The check a scenario's `[[checks]]` entry names.
pub fn check(name: &str) -> Option<&'static dyn Check> {
    checks().into_iter().find(|c| c.name() == name)
}
