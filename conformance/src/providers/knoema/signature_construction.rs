//! `knoema.signature-construction`: the hash is HMAC-SHA1 keyed by the hour, over the app secret,
//! in standard base64, with `:1.2` at the end: no refusal for anything but the hour.

use super::journal::{signature_cause, signature_denials, signed_calls, HOUR_CAUSES};
use crate::contract::{Check, Params, Run, Verdict};

pub struct SignatureConstruction;

impl Check for SignatureConstruction {
    fn name(&self) -> &'static str {
        "knoema.signature-construction"
    }
    fn summary(&self) -> &'static str {
        "Builds the hash as base64(HMAC-SHA1(key = \"dd-MM-yy-HH\", message = app secret)) with `:1.2`: never refused for key/message order, format, algorithm, encoding or secret"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/knoema.md#signed-header and #test-vector (b/6yWnLv5KieYNXaGNCYAjGxxhI=); Knoema's authentication page (http://data.gov.om/xyrsavg/authentication), 'Basic authentication': HMACSHA1 keyed with the date as \"dd-MM-yy-HH\", over the app secret, in base64, then \":1.2\" (its C# example)"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let bad: Vec<_> =
            signature_denials(run).filter(|e| !signature_cause(e).is_some_and(|c| HOUR_CAUSES.contains(&c))).collect();
        if let Some(first) = bad.first() {
            return Verdict::violated(format!(
                "{} request(s) refused: {}",
                bad.len(),
                first.str("reason").unwrap_or("403 without a reason")
            ))
            .with(bad);
        }
        if signed_calls(run).next().is_none() && signature_denials(run).next().is_none() {
            return Verdict::not_applicable("no signed request was made");
        }
        Verdict::pass("every signature was built the way Knoema checks it")
    }
}
