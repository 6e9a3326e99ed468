//! `kalibrate.status-called`: the client calls `GET /api/status` with a valid token and the
//! gateway lets it through, as many times as the action asked.

use super::journal::authorized_calls;
use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct StatusCalled;

impl Check for StatusCalled {
    fn name(&self) -> &'static str {
        "kalibrate.status-called"
    }
    fn summary(&self) -> &'static str {
        "Calls GET /api/status with its bearer token and is let through at least `min` times"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/kalibrate.md#status-endpoint; Kalibrate (https://dev.data.thekalibratecloud.com/portal/docs/exampleauth): 'The status endpoint is a good way of checking that the API is up and running and that credentials are valid'"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "min", default: 1, help: "successful status calls required" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let min = params.get("min") as usize;
        let calls: Vec<_> = authorized_calls(run).filter(|e| e.str("endpoint") == Some("/api/status")).collect();
        if calls.len() < min {
            let denied: Vec<_> = run.of_kind("api.denied").collect();
            let why =
                denied.first().and_then(|e| e.str("reason")).map(|r| format!(" (denied: {r})")).unwrap_or_default();
            return Verdict::violated(format!("{} authorized status call(s), {min} required{why}", calls.len()))
                .with(denied);
        }
        Verdict::pass(format!("{} authorized status call(s)", calls.len()))
    }
}
