//! `openenergy.token-reused-until-expiry`: the token is bound to the client's certificate and
//! reused for every call while it lives, rather than one token request (and handshake) per call.

use super::journal::oe;
use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct TokenReusedUntilExpiry;

impl Check for TokenReusedUntilExpiry {
    fn name(&self) -> &'static str {
        "openenergy.token-reused-until-expiry"
    }
    fn summary(&self) -> &'static str {
        "Gets certificate-bound tokens and reuses one until it expires: at most `max_tokens` for the run"
    }
    fn clause(&self) -> &'static str {
        "RFC 8705 §3 (tokens bound to the certificate, cnf.x5t#S256); ib1-openenergy-support FAPISession: a new token only when now >= expiry"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "max_tokens", default: 1, help: "tokens the run may obtain" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let issued: Vec<_> = oe(run, "token.issued").collect();
        if let Some(unbound) = issued.iter().find(|e| e.str("bound_to").is_none()) {
            return Verdict::violated("a token was issued without a certificate binding").with([*unbound]);
        }
        let calls = oe(run, "api.authorized").count();
        if calls < 2 {
            return Verdict::not_applicable(format!("{calls} authorized call(s): nothing to reuse a token for"));
        }
        let max = params.get("max_tokens") as usize;
        if issued.len() > max {
            return Verdict::violated(format!(
                "{} tokens for {calls} calls; one bound token serves them until it expires",
                issued.len()
            ))
            .with(issued);
        }
        Verdict::pass(format!("{} bound token(s) for {calls} calls", issued.len())).with(issued.first().copied())
    }
}
