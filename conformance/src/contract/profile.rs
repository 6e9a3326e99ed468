//! What the runner and the common checks need to know about a provider: its actions, how to
//! recognise its token requests, which service is its API, and the environment its clients get.

use std::collections::BTreeMap;

use serde_json::Value;

use super::events::EventView;

pub struct Profile {
    pub name: &'static str,
    /// Values of `CONFORMANCE_ACTION` its clients must implement.
    pub actions: &'static [&'static str],
    /// The service (journal `service` field) that is the provider's API; several separated by
    /// spaces when bearer tokens rightly go to more than one (Opinum: `"api push"`).
    pub api_service: &'static str,
    pub is_token_request: fn(&EventView) -> bool,
    /// The client's environment from the server's endpoints and fixtures (admin API JSON).
    pub client_env: fn(endpoints: &Value, fixtures: &Value) -> Result<ClientEnv, String>,
}

/// Environment variables for the client under test, by name.
pub type ClientEnv = BTreeMap<String, String>;

impl Profile {
    /// Whether `service` is one of the provider's API services.
    pub fn is_api(&self, service: &str) -> bool {
        self.api_service.split_whitespace().any(|s| s == service)
    }
}

/// The variable of a profile's environment that names the certificate subject.
pub const SUBJECT_VAR: &str = "CONFORMANCE_CERT_SUBJECT";
