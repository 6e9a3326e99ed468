//! `knoema.implicit-token-used`: the client flow completes: the token handed over in the
//! redirect's fragment is read from there and opens the data API.

use super::journal::{calls_with_token, knoema};
use crate::contract::{Check, Params, Run, Verdict};

pub struct ImplicitTokenUsed;

impl Check for ImplicitTokenUsed {
    fn name(&self) -> &'static str {
        "knoema.implicit-token-used"
    }
    fn summary(&self) -> &'static str {
        "Reads the access token from the redirect URI's fragment (#access_token=..&expires_in=..) and calls the data API with it"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/knoema.md#client-flow; Knoema's authentication page (http://data.gov.om/xyrsavg/authentication), 'Client-flow authentication' (YOUR_URI#access_token=USER_ACCESS_TOKEN&expires_in=...); RFC 6749 §4.2.2 (parameters in the fragment component)"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let issued: Vec<_> = knoema(run, "token.issued").filter(|e| e.str("grant") == Some("implicit")).collect();
        let Some(token) = issued.first() else {
            return Verdict::violated("no token was issued by the client flow").with(knoema(run, "token.rejected"));
        };
        let id = token.str("token_id").unwrap_or_default();
        match calls_with_token(run, id).next() {
            Some(call) => Verdict::pass("token taken from the fragment and used on the data API").with([*token, call]),
            None => {
                let denied: Vec<_> = knoema(run, "api.denied").collect();
                Verdict::violated("the token from the fragment never opened the data API")
                    .with(std::iter::once(*token).chain(denied))
            }
        }
    }
}
