//! `openenergy.token-only-over-mtls`: a certificate-bound token is presented only in the
//! Authorization header of calls over the mTLS listener: never in a query string, never to an
//! endpoint that cannot check the certificate it is bound to.

use crate::contract::{Check, Params, Run, Verdict};

pub struct TokenOnlyOverMtls;

impl Check for TokenOnlyOverMtls {
    fn name(&self) -> &'static str {
        "openenergy.token-only-over-mtls"
    }
    fn summary(&self) -> &'static str {
        "Sends its bearer token only in the Authorization header over mTLS: never in a URL, never to a non-mTLS endpoint"
    }
    fn clause(&self) -> &'static str {
        "RFC 8705 §3 (bound tokens are checked against the TLS client certificate); RFC 6750 §2.3 and §5.3; OE: tokens in the query string are refused"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let stray: Vec<_> = run
            .exchanges()
            .filter(|e| {
                let bearer = e.auth_scheme().is_some_and(|s| s.eq_ignore_ascii_case("bearer"));
                let in_url = e.query_keys().iter().any(|k| k.eq_ignore_ascii_case("access_token"));
                in_url || (bearer && e.str("listener") != Some("mtls"))
            })
            .collect();
        if let Some(first) = stray.first() {
            let how = if first.query_keys().iter().any(|k| k.eq_ignore_ascii_case("access_token")) {
                "in the query string"
            } else {
                "without mTLS"
            };
            return Verdict::violated(format!(
                "a token was sent {how}: {} {} on the {} listener",
                first.method(),
                first.path(),
                first.str("listener").unwrap_or("?")
            ))
            .with(stray);
        }
        Verdict::pass("tokens went only in the Authorization header, over mTLS")
    }
}
