//! `knoema.code-exchanged`: the server flow completes: the code is exchanged at the token
//! endpoint and the access token then opens the data API.

use super::journal::{calls_with_token, knoema};
use crate::contract::{Check, Params, Run, Verdict};

pub struct CodeExchanged;

impl Check for CodeExchanged {
    fn name(&self) -> &'static str {
        "knoema.code-exchanged"
    }
    fn summary(&self) -> &'static str {
        "Exchanges the authorization code for a token (grant_type=authorization_code) and calls the data API with it"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/knoema.md#server-flow and #token-endpoint; Knoema's authentication page (http://data.gov.om/xyrsavg/authentication), 'Server-flow authentication' (GET /oauth/token?grant_type=authorization_code&client_id&client_secret&code&redirect_uri); RFC 6749 §4.1.3, RFC 6750 §2"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let issued: Vec<_> =
            knoema(run, "token.issued").filter(|e| e.str("grant") == Some("authorization_code")).collect();
        let Some(token) = issued.first() else {
            let rejected: Vec<_> = knoema(run, "token.rejected").collect();
            let why = rejected.first().and_then(|e| e.str("reason")).unwrap_or("no code reached the token endpoint");
            return Verdict::violated(format!("no token was issued for a code: {why}")).with(rejected);
        };
        let id = token.str("token_id").unwrap_or_default();
        match calls_with_token(run, id).next() {
            Some(call) => Verdict::pass("code exchanged, token used on the data API").with([*token, call]),
            None => Verdict::violated("a token was issued for the code but never opened the data API").with([*token]),
        }
    }
}
