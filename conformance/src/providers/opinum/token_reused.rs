//! `opinum.token-reused`: tokens live an hour; the client keeps one for its calls instead of
//! logging in again for each.

use super::journal::{authorized_calls, opinum};
use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct TokenReused;

impl Check for TokenReused {
    fn name(&self) -> &'static str {
        "opinum.token-reused"
    }
    fn summary(&self) -> &'static str {
        "Reuses its token while it is valid: at most `max_tokens` tokens for the whole run"
    }
    fn clause(&self) -> &'static str {
        "docs.opinum.com 'Connection': access tokens are valid one hour (expires_in 3600); RFC 6749 §1.4"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "max_tokens", default: 1, help: "tokens the run may obtain" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let max = params.get("max_tokens") as usize;
        let calls = authorized_calls(run).count();
        let issued: Vec<_> = opinum(run, "token.issued").collect();
        if calls < 2 {
            return Verdict::not_applicable(format!("{calls} authorized call(s): nothing to reuse a token for"));
        }
        if issued.len() > max {
            return Verdict::violated(format!(
                "{} tokens for {calls} calls; one valid token serves them all",
                issued.len()
            ))
            .with(issued);
        }
        Verdict::pass(format!("{} token(s) for {calls} calls", issued.len()))
    }
}
