//! How the client under test ended, and how a scenario expects it to end: what
//! `common.client-outcome` judges and the reports show.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientExit {
    /// Exit status; `None` when killed.
    pub code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
    pub stdout_tail: String,
    pub stderr_tail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitExpectation {
    /// Exit status 0.
    Success,
    /// Any non-zero exit status (not a time-out).
    Failure,
}
