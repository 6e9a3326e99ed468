//! `knoema.signature-utc-hour`: the key is the hour in UTC, whatever the machine's time zone.

use super::journal::{signature_cause, signature_denials, signed_calls, HOUR_CAUSES};
use crate::contract::{Check, Params, Run, Verdict};

pub struct SignatureUtcHour;

impl Check for SignatureUtcHour {
    fn name(&self) -> &'static str {
        "knoema.signature-utc-hour"
    }
    fn summary(&self) -> &'static str {
        "Signs with the current UTC hour, not local time: no signature refused for being made for another hour"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/knoema.md#signed-header; Knoema's authentication page (http://data.gov.om/xyrsavg/authentication), 'Basic authentication' C# example: DateTime.UtcNow.ToString(\"dd-MM-yy-HH\"); the Python, C# and R clients all sign with UTC"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let wrong: Vec<_> =
            signature_denials(run).filter(|e| signature_cause(e).is_some_and(|c| HOUR_CAUSES.contains(&c))).collect();
        if let Some(first) = wrong.first() {
            return Verdict::violated(format!(
                "{} signature(s) made for the wrong hour: {}",
                wrong.len(),
                first.str("reason").unwrap_or_default()
            ))
            .with(wrong);
        }
        match signed_calls(run).count() {
            0 => Verdict::not_applicable("no signature was accepted or refused for its hour"),
            n => Verdict::pass(format!("{n} signed call(s), all for the current or previous UTC hour")),
        }
    }
}
