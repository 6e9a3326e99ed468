//! What a suite run produced, as the reports show it: a status per check, per scenario and
//! for the suite.

use serde::Serialize;
use serde_json::Value;

use crate::contract::{ClientExit, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Passed,
    Failed,
    Warning,
    Skipped,
    /// Failed, and listed in the expected-failures file.
    ExpectedFailure,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "PASSED",
            Status::Failed => "FAILED",
            Status::Warning => "WARNING",
            Status::Skipped => "SKIPPED",
            Status::ExpectedFailure => "EXPECTED FAILURE",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub summary: String,
    pub clause: String,
    pub severity: Severity,
    pub status: Status,
    pub message: String,
    pub evidence: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub id: String,
    pub title: String,
    pub provider: String,
    pub suite: String,
    pub status: Status,
    pub duration_ms: u64,
    /// Set when the scenario could not be run at all (server or client would not start).
    pub error: Option<String>,
    pub client: ClientExit,
    pub checks: Vec<CheckResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SuiteResult {
    pub client: String,
    pub server: String,
    pub duration_ms: u64,
    pub scenarios: Vec<ScenarioResult>,
}

impl SuiteResult {
    pub fn count(&self, status: Status) -> usize {
        self.scenarios.iter().flat_map(|s| &s.checks).filter(|c| c.status == status).count()
    }
    pub fn passed(&self) -> bool {
        self.scenarios.iter().all(|s| s.status != Status::Failed)
    }
}
