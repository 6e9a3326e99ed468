//! `common.client-outcome`: the client finishes within the time limit and its exit status says
//! whether it succeeded, as the scenario expects.

use crate::contract::{Check, ExitExpectation, Params, Run, Verdict};

pub struct ClientOutcome;

impl Check for ClientOutcome {
    fn name(&self) -> &'static str {
        "common.client-outcome"
    }
    fn summary(&self) -> &'static str {
        "The client ends within the time limit, exit 0 when the action succeeded and non-zero when it could not"
    }
    fn clause(&self) -> &'static str {
        "Conformance environment contract (docs/conformance.md, 'What the client command gets'): the exit status reports the action's outcome"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let c = run.client;
        if c.timed_out {
            return Verdict::violated(format!(
                "still running after {:.1} s: killed (looping or hanging?)",
                run.timeout_seconds
            ));
        }
        let code = c.code.unwrap_or(-1);
        match (run.expected_exit, code == 0) {
            (ExitExpectation::Success, true) => Verdict::pass("exited 0 as expected"),
            (ExitExpectation::Failure, false) => Verdict::pass(format!("exited {code}: reported the failure")),
            (ExitExpectation::Success, false) => {
                Verdict::violated(format!("exited {code}; the action should have succeeded"))
            }
            (ExitExpectation::Failure, true) => {
                Verdict::violated("exited 0 although the action cannot succeed: failure hidden from the caller")
            }
        }
    }
}
