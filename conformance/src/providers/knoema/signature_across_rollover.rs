//! `knoema.signature-across-rollover`: when the server's UTC hour turns over between two calls,
//! the client's next signatures are still accepted: it signs every request for the hour it is
//! made in, and never replays a header made for an hour that is now gone.

use super::journal::{knoema, signature_denials, signed_calls};
use crate::contract::{Check, Params, Run, Verdict};

pub struct SignatureAcrossRollover;

impl Check for SignatureAcrossRollover {
    fn name(&self) -> &'static str {
        "knoema.signature-across-rollover"
    }
    fn summary(&self) -> &'static str {
        "After the server's UTC hour turns over (a clock step mid-run), every signed request is still accepted"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/knoema.md#hour-window: only the current and the previous UTC hour are accepted; Knoema's authentication page (http://data.gov.om/xyrsavg/authentication), 'Basic authentication' (the key is the current UTC date and hour, so the hash changes every hour)"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let Some(step) =
            knoema(run, "fault.applied").find(|e| e.str("action").is_some_and(|a| a.contains("advance clock")))
        else {
            return Verdict::not_applicable("the clock did not step during the run");
        };
        let refused: Vec<_> = signature_denials(run).filter(|e| e.seq() > step.seq()).collect();
        if let Some(first) = refused.first() {
            return Verdict::violated(format!(
                "{} signed request(s) refused after the hour turned: {}",
                refused.len(),
                first.str("reason").unwrap_or_default()
            ))
            .with(std::iter::once(step).chain(refused.iter().copied()));
        }
        match signed_calls(run).filter(|e| e.seq() > step.seq()).count() {
            0 => Verdict::violated("no signed request was accepted after the hour turned").with([step]),
            n => Verdict::pass(format!("{n} signed call(s) accepted after the hour turned")).with([step]),
        }
    }
}
