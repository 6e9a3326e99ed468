//! `kalibrate.token-by-client-credentials`: the client gets its token from Azure AD with the
//! client-credentials grant, POSTing a form, and it is issued.

use crate::contract::{Check, Params, Run, Verdict};

pub struct TokenByClientCredentials;

impl Check for TokenByClientCredentials {
    fn name(&self) -> &'static str {
        "kalibrate.token-by-client-credentials"
    }
    fn summary(&self) -> &'static str {
        "Obtains an access token with grant_type=client_credentials by POST to the tenant's token endpoint"
    }
    fn clause(&self) -> &'static str {
        "RFC 6749 §4.4.2; docs/providers/kalibrate.md#token-request (POST /{tenant}/oauth2/v2.0/token, form-encoded; Kalibrate, https://dev.data.thekalibratecloud.com/portal/docs/exampleauth)"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let requests: Vec<_> = run.token_requests().collect();
        if let Some(bad) = requests.iter().find(|e| e.method() != "POST") {
            return Verdict::violated(format!("token requested with {} instead of POST", bad.method())).with([*bad]);
        }
        let issued: Vec<_> = run.of_kind("token.issued").collect();
        match issued.first() {
            Some(first) if first.str("grant") == Some("client_credentials") => {
                Verdict::pass(format!("{} token(s) issued by client credentials", issued.len())).with([*first])
            }
            Some(first) => Verdict::violated(format!("token issued by grant {:?}", first.str("grant"))).with([*first]),
            None => {
                let rejected: Vec<_> = run.of_kind("token.rejected").collect();
                let why = rejected
                    .first()
                    .and_then(|e| e.str("reason"))
                    .unwrap_or("no token request reached the token endpoint");
                Verdict::violated(format!("no token was issued: {why}")).with(rejected)
            }
        }
    }
}
