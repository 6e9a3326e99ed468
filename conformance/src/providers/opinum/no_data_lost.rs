//! `opinum.no-data-lost`: no pushed point went to a structure that does not exist. Opinum
//! answers such a push with success and drops the points; the mock records each loss
//! (`push.unmapped`), so the suite reports the data a real deployment would silently lose.

use super::journal::opinum;
use crate::contract::{Check, Params, Run, Verdict};

pub struct NoDataLost;

impl Check for NoDataLost {
    fn name(&self) -> &'static str {
        "opinum.no-data-lost"
    }
    fn summary(&self) -> &'static str {
        "Pushes no point to a missing source or variable (Opinum would answer 200 and lose it)"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/opinum.md#lost-data; Opinum (https://docs.opinum.com/restapi/integration/connection.html): 'Every data sent before the creation of Opinum Data Hub cannot be mapped and will be lost'"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let lost: Vec<_> = opinum(run, "push.unmapped").collect();
        if let Some(first) = lost.first() {
            let points: u64 = lost.iter().map(|e| e.0["points"].as_u64().unwrap_or_default()).sum();
            return Verdict::violated(format!(
                "{points} point(s) would have been lost: {} ({})",
                first.str("target").unwrap_or_default(),
                first.str("reason").unwrap_or_default()
            ))
            .with(lost);
        }
        Verdict::pass("every pushed point reached an existing variable")
    }
}
