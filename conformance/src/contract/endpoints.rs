//! Reading the server's endpoints document (admin API JSON), as a profile builds its client's
//! environment from it.

use serde_json::Value;

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

/// The base URL of service `key` (`kalibrate.login`) in the endpoints document.
pub fn service_url(endpoints: &Value, key: &str) -> Result<String, String> {
    endpoints["services"][key].as_str().map(str::to_owned).ok_or_else(|| format!("the server has no service {key}"))
}
