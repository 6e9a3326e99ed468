//! A check: one named rule over a client's run, with the clause it enforces. Each lives in a
//! file of its own, under its provider's folder or `common_checks/`.

use serde::Serialize;

use super::params::{ParamSpec, Params};
use super::run::Run;
use super::verdict::Verdict;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A violation fails the scenario.
    Failure,
    /// A violation is reported as WARNING; the scenario still passes.
    Warning,
}

pub trait Check: Sync {
    /// `common.honours-retry-after`, `kalibrate.token-reused`...
    fn name(&self) -> &'static str;
    /// What the rule demands, in one sentence.
    fn summary(&self) -> &'static str;
    /// The clause it enforces.
    fn clause(&self) -> &'static str;
    fn severity(&self) -> Severity {
        Severity::Failure
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict;
}
