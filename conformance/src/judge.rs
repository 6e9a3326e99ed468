//! Turns a check's verdict into the status reported: its severity decides whether a violation
//! fails or warns, and the expected-failures file turns a listed failure into an expected one.

use crate::contract::{Outcome, Run, Severity};
use crate::expected::ExpectedFailures;
use crate::registry;
use crate::results::{CheckResult, Status};
use crate::scenario::CheckUse;

/// The result of one use of a check in the scenario `scenario`.
pub fn judge(run: &Run, scenario: &str, use_: &CheckUse, expected: &ExpectedFailures) -> CheckResult {
    let check = registry::check(&use_.name).expect("validated at load");
    let verdict = check.evaluate(run, &use_.params);
    let listed = expected.find(scenario, check.name());
    let (status, message) = match (verdict.outcome, check.severity(), listed) {
        (Outcome::Pass, _, None) => (Status::Passed, verdict.message),
        (Outcome::Pass, _, Some(_)) => (
            Status::Warning,
            format!("{} (listed as an expected failure but passed: remove it from the file)", verdict.message),
        ),
        (Outcome::NotApplicable, _, _) => (Status::Skipped, verdict.message),
        (Outcome::Violated, _, Some(e)) => {
            (Status::ExpectedFailure, format!("{} (expected: {})", verdict.message, e.reason))
        }
        (Outcome::Violated, Severity::Warning, None) => (Status::Warning, verdict.message),
        (Outcome::Violated, Severity::Failure, None) => (Status::Failed, verdict.message),
    };
    CheckResult {
        name: check.name().to_owned(),
        summary: check.summary().to_owned(),
        clause: check.clause().to_owned(),
        severity: check.severity(),
        status,
        message,
        evidence: verdict.evidence,
    }
}

/// A scenario's status from its checks': failed when one failed, else warning when one warned,
/// else expected failure when one was; passed otherwise (skipped checks do not count).
pub fn overall(checks: &[CheckResult]) -> Status {
    let has = |s| checks.iter().any(|c| c.status == s);
    if has(Status::Failed) {
        Status::Failed
    } else if has(Status::Warning) {
        Status::Warning
    } else if has(Status::ExpectedFailure) {
        Status::ExpectedFailure
    } else {
        Status::Passed
    }
}
