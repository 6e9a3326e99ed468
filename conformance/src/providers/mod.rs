//! What the runner and the common checks need to know about each provider: its actions, how to
//! recognise its token requests, which service is its API, and the environment its clients get.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::events::EventView;

pub mod iotopen;
pub mod kalibrate;
pub mod knoema;
pub mod openenergy;
pub mod opinum;

pub struct Profile {
    pub name: &'static str,
    /// Values of `CONFORMANCE_ACTION` its clients must implement.
    pub actions: &'static [&'static str],
    /// The service (journal `service` field) that is the provider's API; several separated by
    /// spaces when bearer tokens rightly go to more than one (Opinum: `"api push"`).
    pub api_service: &'static str,
    pub is_token_request: fn(&EventView) -> bool,
    /// The client's environment from the server's endpoints and fixtures (admin API JSON).
    pub client_env: fn(endpoints: &Value, fixtures: &Value) -> Result<BTreeMap<String, String>, String>,
}

impl Profile {
    /// Whether `service` is one of the provider's API services.
    pub fn is_api(&self, service: &str) -> bool {
        self.api_service.split_whitespace().any(|s| s == service)
    }
}

/// The root URL of `listener` (`"https"`, `"mtls"`) as the endpoints' namespace sees it: with
/// the run's path prefix when they are a run's.
pub fn listener_root(endpoints: &Value, listener: &str) -> Result<String, String> {
    let root =
        endpoints[listener].as_str().ok_or(format!("the endpoints have no {listener} listener"))?.trim_end_matches('/');
    Ok(match endpoints["run"].as_str() {
        Some(run) => format!("{root}/__run/{run}"),
        None => root.to_owned(),
    })
}

pub fn all() -> &'static [Profile] {
    &[kalibrate::PROFILE, opinum::PROFILE, openenergy::PROFILE, knoema::PROFILE, iotopen::PROFILE]
}

pub fn find(name: &str) -> Option<&'static Profile> {
    all().iter().find(|p| p.name == name)
}
