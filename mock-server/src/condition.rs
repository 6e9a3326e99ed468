//! What is broken in a running server. A part that runs on its own (a thread, a task) and
//! cannot come back reports its failure here once; `GET /__admin/health` then answers 503
//! with the failures instead of "ok", so a CI job that waits for health sees a broken server
//! as broken instead of one that silently never answers.

use std::sync::Mutex;

use chrono::{SecondsFormat, Utc};
use serde::Serialize;

/// At most this many failures are kept (the first ones: they explain the rest).
const MAX_FAILURES: usize = 16;

/// One part that stopped.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Failure {
    /// Which part (`mqtt engine router`).
    pub component: String,
    pub reason: String,
    /// When it was noticed (RFC 3339, real time).
    pub since: String,
}

/// The server's failures so far; shared by every namespace of a server.
#[derive(Debug, Default)]
pub struct Condition {
    failures: Mutex<Vec<Failure>>,
}

impl Condition {
    /// Records that `component` stopped; `false` when it was already recorded.
    pub fn failed(&self, component: &str, reason: &str) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_FAILURES || failures.iter().any(|f| f.component == component) {
            return false;
        }
        failures.push(Failure {
            component: component.to_owned(),
            reason: reason.to_owned(),
            since: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        true
    }

    pub fn failures(&self) -> Vec<Failure> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_kept_once_and_failures_are_bounded() {
        let condition = Condition::default();
        assert!(condition.failures().is_empty());
        assert!(condition.failed("engine", "its thread ended"));
        assert!(!condition.failed("engine", "again"), "once per component");
        assert_eq!(condition.failures()[0].reason, "its thread ended");
        for i in 0..100 {
            condition.failed(&format!("part {i}"), "stopped");
        }
        assert_eq!(condition.failures().len(), MAX_FAILURES);
    }
}
