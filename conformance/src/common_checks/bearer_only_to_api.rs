//! `common.bearer-only-to-api`: an access token is presented only to the API it was issued for:
//! not to the token endpoint, not to another host, never in a URL.

use crate::contract::{Check, Params, Run, Verdict};

pub struct BearerOnlyToApi;

impl Check for BearerOnlyToApi {
    fn name(&self) -> &'static str {
        "common.bearer-only-to-api"
    }
    fn summary(&self) -> &'static str {
        "Bearer tokens go only to the API's own host, in the Authorization header"
    }
    fn clause(&self) -> &'static str {
        "RFC 6750 §5.2 (token disclosure) and §5.3: send tokens only to the resource server, never in page URLs"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let api_host = run.exchanges().find(|e| run.profile.is_api(e.service())).map(|e| e.host().to_owned());
        let stray: Vec<_> = run
            .exchanges()
            .filter(|e| {
                let bearer = e.auth_scheme().is_some_and(|s| s.eq_ignore_ascii_case("bearer"));
                let in_url = e.query_keys().iter().any(|k| k.eq_ignore_ascii_case("access_token"));
                let elsewhere = !run.profile.is_api(e.service()) || api_host.as_deref().is_some_and(|h| h != e.host());
                in_url || (bearer && elsewhere)
            })
            .collect();
        if let Some(first) = stray.first() {
            return Verdict::violated(format!(
                "a token was presented to {} {} on host {} (service '{}.{}'), not to the API",
                first.method(),
                first.path(),
                first.host(),
                first.provider(),
                first.service()
            ))
            .with(stray);
        }
        Verdict::pass("tokens were presented only to the API")
    }
}
