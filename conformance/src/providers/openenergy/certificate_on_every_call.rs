//! `openenergy.certificate-on-every-call`: the client presents its certificate in the TLS
//! handshake of the token request and of every resource call: it authenticates the client
//! (`tls_client_auth`) and the token is bound to it.

use crate::contract::{Check, Params, Run, Verdict};

pub struct CertificateOnEveryCall;

impl Check for CertificateOnEveryCall {
    fn name(&self) -> &'static str {
        "openenergy.certificate-on-every-call"
    }
    fn summary(&self) -> &'static str {
        "Presents its client certificate on the token request and on every resource call"
    }
    fn clause(&self) -> &'static str {
        "RFC 8705 §2 (tls_client_auth) and §3 (certificate-bound tokens: the resource server checks the presented certificate); OE security profile"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let calls: Vec<_> = run
            .exchanges()
            .filter(|e| {
                e.provider() == "openenergy" && (run.profile.is_api(e.service()) || (run.profile.is_token_request)(e))
            })
            .collect();
        let bare: Vec<_> = calls.iter().copied().filter(|e| e.str("client_cert").is_none()).collect();
        if let Some(first) = bare.first() {
            return Verdict::violated(format!(
                "{} of {} call(s) without a client certificate, first {} {} on the {} listener",
                bare.len(),
                calls.len(),
                first.method(),
                first.path(),
                first.str("listener").unwrap_or("?")
            ))
            .with(bare);
        }
        if calls.is_empty() {
            return Verdict::not_applicable("no call reached the authorization or resource server");
        }
        Verdict::pass(format!("a client certificate on all {} call(s)", calls.len()))
    }
}
