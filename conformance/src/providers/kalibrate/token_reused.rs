//! `kalibrate.token-reused`: tokens last 3599 s; the client keeps using one instead of asking
//! Azure AD again for every call.

use super::journal::authorized_calls;
use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct TokenReused;

impl Check for TokenReused {
    fn name(&self) -> &'static str {
        "kalibrate.token-reused"
    }
    fn summary(&self) -> &'static str {
        "Reuses a token while it is valid: at most `max_tokens` tokens for the whole run"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/kalibrate.md#lifetime-and-renewal; Kalibrate (https://dev.data.thekalibratecloud.com/portal/docs/exampleauth): 'Once they timeout (3599 seconds) a new token must be requested'; RFC 6749 §4.4.3"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "max_tokens", default: 1, help: "tokens the run may request" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let max = params.get("max_tokens") as usize;
        let calls = authorized_calls(run).count();
        let issued: Vec<_> = run.of_kind("token.issued").collect();
        if calls < 2 {
            return Verdict::not_applicable(format!("{calls} API call(s): nothing to reuse a token for"));
        }
        if issued.len() > max {
            return Verdict::violated(format!(
                "{} tokens for {calls} API calls; one valid token serves them all",
                issued.len()
            ))
            .with(issued);
        }
        Verdict::pass(format!("{} token(s) for {calls} API calls", issued.len()))
    }
}
