//! The providers the runner knows and the checks there are, both read off one table, so that a
//! provider is added in one place: its folder, and its line in `PROVIDERS`.

use crate::common_checks;
use crate::contract::{Check, Profile, Provider};
use crate::providers::{iotopen, kalibrate, knoema, openenergy, opinum};

/// Every provider, in the order `conformance checks` and docs/conformance.md list them. A provider
/// registers with one line here, `<name>::PROVIDER`: the profile and checks its folder's
/// `mod.rs` declares (the folder itself is a `mod` line in `providers/mod.rs`). Its scenarios'
/// `provider`, its checks' names, `conformance checks` and the table in docs/conformance.md follow from it.
#[rustfmt::skip] // One provider a line, so that adding one is adding a line.
static PROVIDERS: &[Provider] = &[
    kalibrate::PROVIDER,
    opinum::PROVIDER,
    openenergy::PROVIDER,
    knoema::PROVIDER,
    iotopen::PROVIDER,
];

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
