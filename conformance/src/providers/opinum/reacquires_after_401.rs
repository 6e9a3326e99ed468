//! `opinum.reacquires-after-401`: when the API or push answers 401 because the token expired
//! (here: the clock jumps an hour mid-run), the client gets a new token and carries on instead of
//! failing or retrying the dead token.

use super::journal::{authorized_calls, expired_denials, opinum};
use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct ReacquiresAfter401;

impl Check for ReacquiresAfter401 {
    fn name(&self) -> &'static str {
        "opinum.reacquires-after-401"
    }
    fn summary(&self) -> &'static str {
        "After a 401 for an expired token, refreshes or logs in again and succeeds; at most `max_rejected` 401s"
    }
    fn clause(&self) -> &'static str {
        "docs.opinum.com: an expired access token gets 401 from the API and push; RFC 6750 §3.1 (invalid_token: request a new token)"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "max_rejected", default: 1, help: "401s tolerated in the run" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let denied: Vec<_> = expired_denials(run).collect();
        let Some(first) = denied.first() else {
            return Verdict::not_applicable("no call was refused for an expired token");
        };
        let max = params.get("max_rejected") as usize;
        if denied.len() > max {
            return Verdict::violated(format!(
                "{} calls refused for an expired token; the client kept using it",
                denied.len()
            ))
            .with(denied.iter().take(3).copied());
        }
        let Some(renewed) = opinum(run, "token.issued").find(|t| t.seq() > first.seq()) else {
            return Verdict::violated("no new token was obtained after the 401").with([*first]);
        };
        match authorized_calls(run).find(|c| c.seq() > renewed.seq()) {
            Some(ok) => Verdict::pass(format!(
                "renewed by {} after the 401 and carried on",
                renewed.str("grant").unwrap_or("?")
            ))
            .with([*first, renewed, ok]),
            None => Verdict::violated("got a new token after the 401 but made no successful call with it")
                .with([*first, renewed]),
        }
    }
}
