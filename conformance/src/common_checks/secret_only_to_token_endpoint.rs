//! `common.secret-only-to-token-endpoint`: the client secret travels only in the token request's
//! body or its HTTP Basic header: never in a URL, never in a header to another endpoint.

use crate::contract::{Check, Params, Run, Verdict};

pub struct SecretOnlyToTokenEndpoint;

impl Check for SecretOnlyToTokenEndpoint {
    fn name(&self) -> &'static str {
        "common.secret-only-to-token-endpoint"
    }
    fn summary(&self) -> &'static str {
        "The client secret is sent only to the token endpoint, in the body or the Authorization header"
    }
    fn clause(&self) -> &'static str {
        "RFC 6749 §2.3.1: client credentials MUST NOT be included in the request URI; RFC 6819 §5.2.3.1"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let is_token = run.profile.is_token_request;
        let leaks: Vec<_> = run
            .exchanges()
            .filter(|e| e.secret_in().iter().any(|place| !(is_token(e) && *place == "header:authorization")))
            .collect();
        if let Some(first) = leaks.first() {
            return Verdict::violated(format!(
                "the client secret was sent in {} of {} {} ({} request(s) in all)",
                first.secret_in().join(", "),
                first.method(),
                first.path(),
                leaks.len()
            ))
            .with(leaks);
        }
        Verdict::pass("the secret appeared in no URL and no header outside the token request")
    }
}
