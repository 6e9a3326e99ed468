//! `openenergy.no-calls-after-refusal`: when the authorization server refuses the client (a
//! revoked, unregistered or expired certificate: 401 invalid_client), the client stops: no
//! resource call without a token, and it reports the failure (with `common.client-outcome`).

use super::journal::{oe, resource_calls};
use crate::contract::{Check, Params, Run, Verdict};

pub struct NoCallsAfterRefusal;

impl Check for NoCallsAfterRefusal {
    fn name(&self) -> &'static str {
        "openenergy.no-calls-after-refusal"
    }
    fn summary(&self) -> &'static str {
        "Once its token request is refused, makes no resource call (it has no token to make one with)"
    }
    fn clause(&self) -> &'static str {
        "RFC 6749 §5.2 (invalid_client is final); RFC 8705 §2: without an accepted certificate there is no token, so no access"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let Some(refused) = oe(run, "token.rejected").next() else {
            return Verdict::not_applicable("no token request was refused");
        };
        if oe(run, "token.issued").next().is_some() {
            return Verdict::not_applicable("a token was issued after all");
        }
        let after: Vec<_> = resource_calls(run).filter(|e| e.seq() > refused.seq()).collect();
        if let Some(first) = after.first() {
            return Verdict::violated(format!(
                "{} resource call(s) after the refusal ({}), first {} {} answered {}",
                after.len(),
                refused.str("reason").unwrap_or_default(),
                first.method(),
                first.path(),
                first.status()
            ))
            .with(std::iter::once(refused).chain(after));
        }
        Verdict::pass(format!("stopped after the refusal: {}", refused.str("reason").unwrap_or_default()))
            .with([refused])
    }
}
