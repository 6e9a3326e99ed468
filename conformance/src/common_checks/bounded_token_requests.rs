//! `common.bounded-retries`: the client does not hammer the token endpoint: errors that retrying
//! cannot fix (a wrong secret) are not retried in a loop.

use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct BoundedTokenRequests;

impl Check for BoundedTokenRequests {
    fn name(&self) -> &'static str {
        "common.bounded-retries"
    }
    fn summary(&self) -> &'static str {
        "Sends at most `max` requests to the token endpoint in the whole run: no retry storm"
    }
    fn clause(&self) -> &'static str {
        "RFC 6749 §5.2: invalid_client and invalid_grant are not transient; retrying them cannot succeed"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "max", default: 3, help: "most token requests allowed" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let max = params.get("max") as usize;
        let requests: Vec<_> = run.token_requests().collect();
        if requests.len() > max {
            let statuses: Vec<String> = requests.iter().map(|e| e.status().to_string()).collect();
            return Verdict::violated(format!(
                "{} token requests (statuses {}); at most {max} allowed",
                requests.len(),
                statuses.join(", ")
            ))
            .with(requests.iter().rev().take(3).copied());
        }
        Verdict::pass(format!("{} token request(s), at most {max} allowed", requests.len()))
    }
}
