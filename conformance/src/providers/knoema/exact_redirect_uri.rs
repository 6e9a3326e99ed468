//! `knoema.exact-redirect-uri`: the client sends the registered redirect URI exactly, in the
//! authorization request and again in the token request.

use super::journal::knoema;
use crate::contract::{Check, Params, Run, Verdict};

pub struct ExactRedirectUri;

impl Check for ExactRedirectUri {
    fn name(&self) -> &'static str {
        "knoema.exact-redirect-uri"
    }
    fn summary(&self) -> &'static str {
        "Uses the registered redirect_uri character for character, and the same one in the token request"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/knoema.md#redirect-uri; Knoema (http://data.gov.om/xyrsavg/authentication): 'if redirect_uri is specified in app settings it should match the redirect_uri that passed in oauth request'; RFC 6749 §3.1.2.3 and §4.1.3 (the token request repeats the same redirect_uri)"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let bad: Vec<_> = knoema(run, "token.rejected")
            .filter(|e| e.str("reason").is_some_and(|r| r.contains("redirect_uri")))
            .collect();
        if let Some(first) = bad.first() {
            return Verdict::violated(format!("refused: {}", first.str("reason").unwrap_or_default())).with(bad);
        }
        let asked = run
            .exchanges()
            .any(|e| e.provider() == "knoema" && e.path().trim_end_matches('/').ends_with("/oauth/authorize"));
        if !asked {
            return Verdict::not_applicable("no authorization request was made");
        }
        Verdict::pass("the redirect URI matched the registered one wherever it was sent")
    }
}
