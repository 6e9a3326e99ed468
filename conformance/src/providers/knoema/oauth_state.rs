//! `knoema.oauth-state`: every authorization request carries an unguessable `state`, new for
//! each request, which binds the answer to the browser session that asked.

use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct OauthState;

impl Check for OauthState {
    fn name(&self) -> &'static str {
        "knoema.oauth-state"
    }
    fn summary(&self) -> &'static str {
        "Sends a fresh, unguessable `state` (at least `min_length` characters) with every authorization request"
    }
    fn clause(&self) -> &'static str {
        "RFC 6749 §10.12 (CSRF: the client MUST implement protection, e.g. with state) and §4.1.1/§4.2.1; RFC 9700 §4.7.1"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "min_length", default: 16, help: "shortest acceptable state" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let requests: Vec<_> = run
            .exchanges()
            .filter(|e| {
                e.provider() == "knoema"
                    && e.method() == "GET"
                    && e.path().trim_end_matches('/').ends_with("/oauth/authorize")
            })
            .collect();
        if requests.is_empty() {
            return Verdict::not_applicable("no authorization request was made");
        }
        let min = params.get("min_length") as usize;
        let mut seen = std::collections::BTreeSet::new();
        for r in &requests {
            let state = r.0["query"]["state"].as_str().unwrap_or_default();
            if state.is_empty() {
                return Verdict::violated(
                    "an authorization request without state: the answer cannot be tied to the session that asked",
                )
                .with([*r]);
            }
            if state.chars().count() < min {
                return Verdict::violated(format!(
                    "state of {} character(s): guessable (at least {min})",
                    state.chars().count()
                ))
                .with([*r]);
            }
            if !seen.insert(state) {
                return Verdict::violated("the same state was sent twice: it must be new for each request").with([*r]);
            }
        }
        Verdict::pass(format!("{} authorization request(s), each with a fresh state", requests.len()))
    }
}
