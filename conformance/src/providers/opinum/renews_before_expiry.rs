//! `opinum.renews-before-expiry`: the client renews its token (refresh_token grant, or a new
//! login as Opinum's Python connectors do) before `expires_in` runs out, so no call is ever made
//! with an expired token.

use super::journal::{expired_denials, opinum};
use crate::contract::{Check, Params, Run, Verdict};

pub struct RenewsBeforeExpiry;

impl Check for RenewsBeforeExpiry {
    fn name(&self) -> &'static str {
        "opinum.renews-before-expiry"
    }
    fn summary(&self) -> &'static str {
        "Refreshes or logs in again before its token expires: no call is refused for an expired token"
    }
    fn clause(&self) -> &'static str {
        "RFC 6749 §5.1 (expires_in) and §6 (refreshing); opinum-api-connector re-logs in every 3 minutes, the .NET sample refreshes"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let denied: Vec<_> = expired_denials(run).collect();
        if let Some(first) = denied.first() {
            return Verdict::violated(format!(
                "{} call(s) refused: {} — the client waited for the token to die instead of renewing it",
                denied.len(),
                first.str("reason").unwrap_or_default()
            ))
            .with(denied);
        }
        let issued: Vec<_> = opinum(run, "token.issued").collect();
        if issued.len() < 2 {
            return Verdict::not_applicable(format!("{} token(s): the run did not outlive a token", issued.len()));
        }
        let grants: Vec<&str> = issued.iter().skip(1).filter_map(|e| e.str("grant")).collect();
        Verdict::pass(format!(
            "renewed {} time(s) ({}), no call with an expired token",
            grants.len(),
            grants.join(", ")
        ))
        .with(issued.into_iter().skip(1).take(2))
    }
}
