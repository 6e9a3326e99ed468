//! Fault injection. A rule matches requests by provider, service, method and route, and fires
//! for a window of those matches (skip the first `after`, then fire `times` times, or forever).
//! Its action replaces or alters the answer: a status with body and headers, a delay, a dropped
//! connection or a truncated body. Rules are applied in one place, before any provider handler
//! (the front door, and the MQTT gate for MQTT packets), so every provider gets them for free.
//! `Namespace::fire_fault` is where a rule fires: it journals the fault and takes its clock step.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// A rule as posted to `/__admin/faults`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Assigned by the server when absent.
    #[serde(default)]
    pub id: String,
    pub provider: Option<String>,
    pub service: Option<String>,
    /// Upper-case HTTP method; any when absent.
    pub method: Option<String>,
    /// Path below the service root, e.g. `/*/oauth2/v2.0/token`. `*` matches one segment,
    /// a final `/**` any rest (`**` anywhere else is refused). Any path when absent.
    pub route: Option<String>,
    /// Let this many matching requests through before firing.
    #[serde(default)]
    pub after: u64,
    /// Fire this many times, then stay inert; forever when absent.
    pub times: Option<u64>,
    pub action: FaultAction,
    /// Counters, reported back by the admin API.
    #[serde(default)]
    pub matched: u64,
    #[serde(default)]
    pub fired: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultAction {
    /// Answer with this status instead of calling the provider.
    pub status: Option<u16>,
    /// Body for `status`: a string is sent as is, anything else as JSON.
    pub body: Option<serde_json::Value>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Wait this long before answering (real time, not the virtual clock).
    pub delay_ms: Option<u64>,
    /// Close the connection without any answer.
    #[serde(default)]
    pub drop_connection: bool,
    /// Send the headers and half the body, then close the connection.
    #[serde(default)]
    pub truncate_body: bool,
    /// Move the virtual clock forward (negative: back) before the request is handled: a clock
    /// step at an exact point of a client's run, e.g. "the token expires after the first call".
    pub advance_clock_seconds: Option<i64>,
}

impl FaultAction {
    /// A short description for the journal.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(seconds) = self.advance_clock_seconds {
            parts.push(format!("advance clock {seconds}s"));
        }
        if let Some(ms) = self.delay_ms {
            parts.push(format!("delay {ms}ms"));
        }
        if self.drop_connection {
            parts.push("drop connection".to_owned());
        }
        if let Some(status) = self.status {
            parts.push(format!("status {status}"));
        }
        if self.truncate_body {
            parts.push("truncate body".to_owned());
        }
        if parts.is_empty() {
            parts.push("none".to_owned());
        }
        parts.join(", ")
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultError {
    #[error("action: status {0} is not an HTTP status (use 100-599)")]
    BadStatus(u16),
    #[error("action: nothing to do; give at least one of status, delay_ms, drop_connection, truncate_body, advance_clock_seconds")]
    EmptyAction,
    #[error("action: delay_ms is at most {0} (one minute); a longer wait only hangs the client's test")]
    DelayTooLong(u64),
    #[error("action: advance_clock_seconds is at most {0} either way (ten years)")]
    ClockStepTooLarge(u64),
    #[error("method: '{0}' is not an HTTP method")]
    BadMethod(String),
    #[error("route: must start with '/', got '{0}'")]
    BadRoute(String),
    #[error("route: '**' may only be the last segment (any rest of the path), got '{0}'")]
    DoubleStarNotLast(String),
    #[error("times: 0 would never fire; omit it to fire forever")]
    ZeroTimes,
}

/// Building rules in code, as they read: `FaultRule::on("kalibrate", "login")
/// .route("/*/oauth2/v2.0/token").times(1).status(503).header("Retry-After", "2")`.
impl FaultRule {
    /// A rule for every request to `provider`'s `service` (`"kalibrate", "login"`); it needs
    /// an action (`status`, `delay_ms`, ...) before it is valid.
    pub fn on(provider: &str, service: &str) -> FaultRule {
        FaultRule {
            id: String::new(),
            provider: Some(provider.to_owned()),
            service: Some(service.to_owned()),
            method: None,
            route: None,
            after: 0,
            times: None,
            action: FaultAction::default(),
            matched: 0,
            fired: 0,
        }
    }

    /// Names the rule (an id is assigned when it has none).
    pub fn id(mut self, id: &str) -> Self {
        self.id = id.to_owned();
        self
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// The path below the service root: `*` one segment, a final `/**` any rest.
    pub fn route(mut self, route: &str) -> Self {
        self.route = Some(route.to_owned());
        self
    }

    /// Lets `n` matching requests through first.
    pub fn after(mut self, n: u64) -> Self {
        self.after = n;
        self
    }

    /// Fires `n` times, then stays inert.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Answers with `status` instead of the provider.
    pub fn status(mut self, status: u16) -> Self {
        self.action.status = Some(status);
        self
    }

    /// The body sent with `status`: a JSON string is sent as text, anything else as JSON.
    pub fn body(mut self, body: serde_json::Value) -> Self {
        self.action.body = Some(body);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.action.headers.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn delay_ms(mut self, ms: u64) -> Self {
        self.action.delay_ms = Some(ms);
        self
    }

    pub fn drop_connection(mut self) -> Self {
        self.action.drop_connection = true;
        self
    }

    pub fn truncate_body(mut self) -> Self {
        self.action.truncate_body = true;
        self
    }

    pub fn advance_clock_seconds(mut self, seconds: i64) -> Self {
        self.action.advance_clock_seconds = Some(seconds);
        self
    }

    pub fn validate(&self) -> Result<(), FaultError> {
        let a = &self.action;
        if let Some(s) = a.status {
            if !(100..=599).contains(&s) {
                return Err(FaultError::BadStatus(s));
            }
        }
        if a.status.is_none()
            && a.delay_ms.is_none()
            && !a.drop_connection
            && !a.truncate_body
            && a.advance_clock_seconds.is_none()
        {
            return Err(FaultError::EmptyAction);
        }
        if let Some(m) = &self.method {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(FaultError::BadMethod(m.clone()));
            }
        }
        if let Some(r) = &self.route {
            if !r.starts_with('/') {
                return Err(FaultError::BadRoute(r.clone()));
            }
            if !double_star_is_last(r) {
                return Err(FaultError::DoubleStarNotLast(r.clone()));
            }
        }
        if a.delay_ms.is_some_and(|ms| ms > MAX_DELAY_MS) {
            return Err(FaultError::DelayTooLong(MAX_DELAY_MS));
        }
        if a.advance_clock_seconds.is_some_and(|s| s.unsigned_abs() > MAX_CLOCK_STEP_SECONDS) {
            return Err(FaultError::ClockStepTooLarge(MAX_CLOCK_STEP_SECONDS));
        }
        if self.times == Some(0) {
            return Err(FaultError::ZeroTimes);
        }
        Ok(())
    }

    fn matches(&self, provider: &str, service: &str, method: &str, path: &str) -> bool {
        self.provider.as_deref().is_none_or(|p| p == provider)
            // A rule without a service is an HTTP rule: MQTT packets match only rules that name it.
            && self.service.as_deref().map_or(service != MQTT_SERVICE, |s| s == service)
            && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.route.as_deref().is_none_or(|r| route_matches(r, path))
    }
}

/// Whether `**`, if anywhere in `route`, is only its last segment.
fn double_star_is_last(route: &str) -> bool {
    let segments: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).collect();
    segments.iter().position(|s| *s == "**").is_none_or(|i| i + 1 == segments.len())
}

/// `*` matches exactly one segment, a trailing `**` any number (including none). A `**`
/// before the end, which [`FaultRule::validate`] refuses, matches nothing: it would otherwise
/// match every path.
pub fn route_matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.trim_matches('/').split('/').filter(|s| !s.is_empty());
    let mut segs = path.trim_matches('/').split('/').filter(|s| !s.is_empty());
    loop {
        match (pat.next(), segs.next()) {
            (Some("**"), _) => return pat.next().is_none(),
            (Some(p), Some(s)) if p == "*" || p == s => continue,
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The fault that fired for a request.
#[derive(Debug, Clone)]
pub struct FiredFault {
    pub rule_id: String,
    pub action: FaultAction,
}

#[derive(Default)]
pub struct Faults {
    inner: Mutex<FaultsInner>,
}

#[derive(Default)]
struct FaultsInner {
    next_id: u64,
    rules: Vec<FaultRule>,
}

/// At most this many rules at once: a runaway script cannot grow memory.
pub const MAX_RULES: usize = 1000;
pub const MAX_DELAY_MS: u64 = 60_000;
pub const MAX_CLOCK_STEP_SECONDS: u64 = 10 * 366 * 86_400;
/// The service name of MQTT packets in fault rules (and in the journal).
pub const MQTT_SERVICE: &str = "mqtt";

impl Faults {
    pub fn add(&self, mut rule: FaultRule) -> Result<FaultRule, FaultError> {
        rule.validate()?;
        let mut inner = self.inner.lock().unwrap();
        if rule.id.is_empty() {
            // Never reuse an id a user gave to a rule of their own.
            rule.id = loop {
                inner.next_id += 1;
                let id = format!("fault-{}", inner.next_id);
                if !inner.rules.iter().any(|r| r.id == id) {
                    break id;
                }
            };
        }
        rule.matched = 0;
        rule.fired = 0;
        if let Some(m) = rule.method.as_mut() {
            *m = m.to_ascii_uppercase();
        }
        inner.rules.retain(|r| r.id != rule.id);
        if inner.rules.len() >= MAX_RULES {
            inner.rules.remove(0);
        }
        inner.rules.push(rule.clone());
        Ok(rule)
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.inner.lock().unwrap().rules.clone()
    }

    pub fn remove(&self, id: &str) -> bool {
        let mut inner = self.inner.lock().unwrap();
        let before = inner.rules.len();
        inner.rules.retain(|r| r.id != id);
        inner.rules.len() != before
    }

    pub fn clear(&self) {
        self.inner.lock().unwrap().rules.clear();
    }

    /// Counts this request (or MQTT packet) against every matching rule and returns the first
    /// that fires. An MQTT packet is method `PUBLISH` or `SUBSCRIBE`, service `MQTT_SERVICE`
    /// and path `/` + its topic or filter.
    pub fn take(&self, provider: &str, service: &str, method: &str, path: &str) -> Option<FiredFault> {
        let mut inner = self.inner.lock().unwrap();
        let mut fired = None;
        for rule in inner.rules.iter_mut() {
            if !rule.matches(provider, service, method, path) {
                continue;
            }
            rule.matched += 1;
            let in_window = rule.matched > rule.after && rule.times.is_none_or(|t| rule.fired < t);
            if fired.is_none() && in_window {
                rule.fired += 1;
                fired = Some(FiredFault { rule_id: rule.id.clone(), action: rule.action.clone() });
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(after: u64, times: Option<u64>) -> FaultRule {
        FaultRule {
            id: String::new(),
            provider: Some("p".into()),
            service: None,
            method: Some("post".into()),
            route: Some("/*/token".into()),
            after,
            times,
            action: FaultAction { status: Some(503), ..Default::default() },
            matched: 0,
            fired: 0,
        }
    }

    #[test]
    fn fires_in_its_window_only() {
        let faults = Faults::default();
        faults.add(rule(1, Some(2))).unwrap();
        let hit = |path: &str| faults.take("p", "s", "POST", path).is_some();
        assert!(!hit("/t/token"), "first is let through");
        assert!(hit("/t/token"));
        assert!(hit("/t/token"));
        assert!(!hit("/t/token"), "times exhausted");
        assert!(!hit("/t/other"));
        assert_eq!(faults.list()[0].fired, 2);
    }

    #[test]
    fn route_patterns() {
        assert!(route_matches("/*/oauth2/v2.0/token", "/tenant/oauth2/v2.0/token"));
        assert!(!route_matches("/*/oauth2/v2.0/token", "/oauth2/v2.0/token"));
        assert!(route_matches("/api/**", "/api/price"));
        assert!(route_matches("/api/**", "/api"));
        assert!(!route_matches("/api", "/api/price"));
    }

    #[test]
    fn a_double_star_before_the_end_matches_nothing_and_is_refused() {
        for path in ["/t/token", "/a/b/token", "/token", "/other"] {
            assert!(!route_matches("/**/token", path), "{path}");
            assert!(!route_matches("/api/**/x", path), "{path}");
        }
        let mut r = rule(0, None);
        r.route = Some("/**/token".into());
        let refused = |r: &FaultRule| r.validate().map_err(|e| e.to_string());
        assert_eq!(
            refused(&r),
            Err("route: '**' may only be the last segment (any rest of the path), got '/**/token'".into())
        );
        assert!(Faults::default().add(r.clone()).is_err());
        r.route = Some("/api/**/".into());
        assert_eq!(refused(&r), Ok(()), "a final '**' with a trailing slash is still final");
    }

    #[test]
    fn rejects_useless_rules() {
        let mut r = rule(0, None);
        r.action = FaultAction::default();
        assert_eq!(r.validate(), Err(FaultError::EmptyAction));
        let mut r = rule(0, Some(0));
        assert_eq!(r.validate(), Err(FaultError::ZeroTimes));
        r.times = None;
        r.action.status = Some(42);
        assert_eq!(r.validate(), Err(FaultError::BadStatus(42)));
    }

    #[test]
    fn mqtt_packets_match_only_rules_that_name_the_mqtt_service() {
        let faults = Faults::default();
        let any = FaultRule { provider: None, method: None, route: None, times: None, ..rule(0, None) };
        faults.add(any).unwrap();
        assert!(
            faults.take("iotopen", MQTT_SERVICE, "PUBLISH", "/1001/obj/x").is_none(),
            "an HTTP rule without a service stays HTTP's"
        );
        let drop = FaultRule {
            provider: Some("iotopen".into()),
            service: Some(MQTT_SERVICE.into()),
            method: Some("PUBLISH".into()),
            route: Some("/*/obj/**".into()),
            action: FaultAction { drop_connection: true, ..Default::default() },
            ..rule(1, Some(1))
        };
        faults.add(drop).unwrap();
        assert!(faults.take("iotopen", MQTT_SERVICE, "PUBLISH", "/1001/obj/x").is_none(), "after = 1");
        assert!(faults.take("iotopen", MQTT_SERVICE, "PUBLISH", "/1001/evt/x").is_none(), "route");
        assert!(faults
            .take("iotopen", MQTT_SERVICE, "PUBLISH", "/1001/obj/x")
            .is_some_and(|f| f.action.drop_connection));
        assert!(faults.take("iotopen", MQTT_SERVICE, "PUBLISH", "/1001/obj/x").is_none(), "times = 1");
    }
}
