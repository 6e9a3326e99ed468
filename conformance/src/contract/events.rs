//! Read-only views of the journal's events as the admin API serves them (JSON), so the checks
//! work the same against an embedded server and one attached over HTTP.

use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct EventView(pub Value);

impl EventView {
    fn text(&self, field: &str) -> &str {
        self.0.get(field).and_then(Value::as_str).unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.text("kind")
    }
    pub fn provider(&self) -> &str {
        self.text("provider")
    }
    pub fn service(&self) -> &str {
        self.text("service")
    }
    pub fn path(&self) -> &str {
        self.text("path")
    }
    pub fn method(&self) -> &str {
        self.text("method")
    }
    pub fn host(&self) -> &str {
        self.text("host")
    }
    pub fn str(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(Value::as_str)
    }
    pub fn status(&self) -> u16 {
        self.0.get("status").and_then(Value::as_u64).unwrap_or_default() as u16
    }
    pub fn seq(&self) -> u64 {
        self.0.get("seq").and_then(Value::as_u64).unwrap_or_default()
    }
    pub fn at(&self) -> DateTime<Utc> {
        self.str("at").and_then(|t| t.parse().ok()).unwrap_or_default()
    }
    /// When an exchange's request arrived: recorded at the end, minus its duration.
    pub fn started(&self) -> DateTime<Utc> {
        let ms = self.0.get("duration_ms").and_then(Value::as_f64).unwrap_or_default();
        self.at() - chrono::Duration::microseconds((ms * 1000.0) as i64)
    }
    pub fn is_exchange(&self) -> bool {
        self.kind() == "http.exchange"
    }
    pub fn user_agent(&self) -> Option<&str> {
        self.str("user_agent")
    }
    pub fn auth_scheme(&self) -> Option<&str> {
        self.str("auth_scheme")
    }
    pub fn retry_after_seconds(&self) -> Option<f64> {
        self.str("retry_after").and_then(|v| v.trim().parse().ok())
    }
    pub fn secret_in(&self) -> Vec<&str> {
        self.0
            .get("secret_in")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }
    pub fn query_keys(&self) -> Vec<&str> {
        self.0
            .get("query")
            .and_then(Value::as_object)
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }
}
