//! `kalibrate.reacquires-after-expiry`: when the data API answers 401 because the token expired,
//! the client gets a new token and carries on, instead of retrying the dead token.

use super::journal::authorized_calls;
use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct ReacquiresAfterExpiry;

impl Check for ReacquiresAfterExpiry {
    fn name(&self) -> &'static str {
        "kalibrate.reacquires-after-expiry"
    }
    fn summary(&self) -> &'static str {
        "After a 401 for an expired token, requests a new token and succeeds; at most `max_rejected` 401s"
    }
    fn clause(&self) -> &'static str {
        "RFC 6750 §3.1 (invalid_token: the client may request a new access token); docs/providers/kalibrate.md#lifetime-and-renewal: tokens cannot be refreshed, request a new one"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "max_rejected", default: 2, help: "401s tolerated in the run" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let denied: Vec<_> = run.of_kind("api.denied").collect();
        let rejected: Vec<_> =
            run.exchanges().filter(|e| e.service() == run.profile.api_service && e.status() == 401).collect();
        let Some(first) = rejected.first() else {
            return Verdict::not_applicable("the API never answered 401");
        };
        let max = params.get("max_rejected") as usize;
        if rejected.len() > max {
            return Verdict::violated(format!(
                "{} requests rejected with 401; the client kept using a dead token",
                rejected.len()
            ))
            .with(rejected.iter().take(3).copied().chain(denied.first().copied()));
        }
        let renewed = run.of_kind("token.issued").find(|t| t.seq() > first.seq());
        let Some(renewed) = renewed else {
            return Verdict::violated("no new token was requested after the 401").with([*first]);
        };
        match authorized_calls(run).find(|c| c.seq() > renewed.seq()) {
            Some(ok) => Verdict::pass("requested a new token after the 401 and carried on").with([*first, renewed, ok]),
            None => Verdict::violated("got a new token after the 401 but made no successful call with it")
                .with([*first, renewed]),
        }
    }
}
