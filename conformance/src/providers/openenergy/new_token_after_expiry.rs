//! `openenergy.new-token-after-expiry`: tokens are short-lived; once `expires_in` has run out
//! the client gets a new one before calling again, instead of presenting the dead token.

use super::journal::oe;
use crate::contract::{Check, Params, Run, Verdict};

pub struct NewTokenAfterExpiry;

impl Check for NewTokenAfterExpiry {
    fn name(&self) -> &'static str {
        "openenergy.new-token-after-expiry"
    }
    fn summary(&self) -> &'static str {
        "Requests a new token once its token's expires_in has passed: no call is refused for an expired token"
    }
    fn clause(&self) -> &'static str {
        "RFC 6749 §5.1 (expires_in); OE security profile: short-lived access tokens; FAPISession renews when now >= expiry"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let expired: Vec<_> =
            oe(run, "api.denied").filter(|e| e.str("reason").is_some_and(|r| r.starts_with("token expired"))).collect();
        if let Some(first) = expired.first() {
            return Verdict::violated(format!(
                "{} call(s) with an expired token: {}",
                expired.len(),
                first.str("reason").unwrap_or_default()
            ))
            .with(expired);
        }
        let issued: Vec<_> = oe(run, "token.issued").collect();
        if issued.len() < 2 {
            return Verdict::not_applicable(format!("{} token(s): the run did not outlive a token", issued.len()));
        }
        Verdict::pass(format!("{} tokens, none used after it expired", issued.len()))
            .with(issued.into_iter().skip(1).take(2))
    }
}
