//! `opinum.password-grant-both-scopes`: the client logs in with the resource owner password
//! grant and asks for both `datahub-api` and `push-data`, as Opinum's own connectors do.

use super::journal::opinum;
use crate::contract::{Check, EventView, Params, Run, Verdict};

pub struct PasswordGrantBothScopes;

const SCOPES: [&str; 2] = ["datahub-api", "push-data"];

impl Check for PasswordGrantBothScopes {
    fn name(&self) -> &'static str {
        "opinum.password-grant-both-scopes"
    }
    fn summary(&self) -> &'static str {
        "Gets its tokens by the password grant (POST, form) with both scopes datahub-api and push-data"
    }
    fn clause(&self) -> &'static str {
        "RFC 6749 §4.3.2; docs/providers/opinum.md#token-request and #scopes; Opinum's connection page (https://docs.opinum.com/restapi/integration/connection.html): grant_type=password, scope 'datahub-api push-data'"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        if let Some(bad) = run.token_requests().find(|e| e.method() != "POST") {
            return Verdict::violated(format!("token requested with {} instead of POST", bad.method())).with([bad]);
        }
        let issued: Vec<_> = opinum(run, "token.issued").collect();
        let Some(first) = issued.first() else {
            let rejected: Vec<_> = opinum(run, "token.rejected").collect();
            let why = rejected
                .first()
                .and_then(|e| e.str("reason"))
                .unwrap_or("no token request reached the identity server");
            return Verdict::violated(format!("no token was issued: {why}")).with(rejected);
        };
        if first.str("grant") != Some("password") {
            return Verdict::violated(format!("the first token came by grant {:?}, not password", first.str("grant")))
                .with([*first]);
        }
        let scopes = |e: &EventView| -> Vec<String> {
            e.0["scopes"].as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
        };
        if let Some(short) = issued
            .iter()
            .find(|e| e.str("grant") == Some("password") && !SCOPES.iter().all(|s| scopes(e).iter().any(|g| g == s)))
        {
            return Verdict::violated(format!(
                "a password grant asked for [{}]; both {} are needed",
                scopes(short).join(" "),
                SCOPES.join(" and ")
            ))
            .with([*short]);
        }
        Verdict::pass(format!("{} token(s), by the password grant with {}", issued.len(), SCOPES.join(" and ")))
            .with([*first])
    }
}
