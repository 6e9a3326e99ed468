//! The view of a run a check reads: the provider's profile, how the client ended, the journal,
//! and the few values of the scenario a rule depends on, handed over as plain values so the
//! contract needs no scenario loader.

use std::collections::BTreeMap;

use super::client_exit::{ClientExit, ExitExpectation};
use super::events::EventView;
use super::profile::Profile;

/// Everything a check may look at.
pub struct Run<'a> {
    pub profile: &'a Profile,
    pub client: &'a ClientExit,
    pub events: &'a [EventView],
    /// The scenario's time limit for the client (`timeout_seconds`).
    pub timeout_seconds: f64,
    /// How the scenario expects the client to exit (`expect.exit`).
    pub expected_exit: ExitExpectation,
    /// The action's parameters (`action = { name = ..., calls = 2 }` without the name), as the
    /// client got them in `CONFORMANCE_<NAME>`.
    pub action_params: &'a BTreeMap<String, String>,
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
