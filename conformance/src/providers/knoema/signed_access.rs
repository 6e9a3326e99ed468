//! `knoema.signed-access`: the client reaches the private dataset with the signed header.

use super::journal::{signature_denials, signed_calls};
use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct SignedAccess;

impl Check for SignedAccess {
    fn name(&self) -> &'static str {
        "knoema.signed-access"
    }
    fn summary(&self) -> &'static str {
        "Reads the private dataset with the signed `Knoema {appId}:{hash}:1.2` header, accepted at least `min` times"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/knoema.md#signed-header; Knoema's authentication page (http://data.gov.om/xyrsavg/authentication), 'Basic authentication': Authorization: \"Knoema \" + appId + \":\" + base64(HMACSHA1(appSecret)) + \":1.2\""
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "min", default: 1, help: "signed calls that must be accepted" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let min = params.get("min") as usize;
        let calls: Vec<_> = signed_calls(run).collect();
        if calls.len() < min {
            let denied: Vec<_> = signature_denials(run).collect();
            let why =
                denied.first().and_then(|e| e.str("reason")).map(|r| format!(" (denied: {r})")).unwrap_or_default();
            return Verdict::violated(format!("{} signed call(s) accepted, {min} required{why}", calls.len()))
                .with(denied);
        }
        Verdict::pass(format!("{} signed call(s) accepted", calls.len())).with(calls.first().copied())
    }
}
