//! `openenergy.sends-interaction-id`: every resource call carries `x-fapi-interaction-id`, the
//! correlation id the data provider echoes and both sides log.

use super::journal::resource_calls;
use crate::contract::{Check, EventView, Params, Run, Verdict};

pub struct SendsInteractionId;

const HEADER: &str = "x-fapi-interaction-id";

impl Check for SendsInteractionId {
    fn name(&self) -> &'static str {
        "openenergy.sends-interaction-id"
    }
    fn summary(&self) -> &'static str {
        "Sends an x-fapi-interaction-id header with every resource call"
    }
    fn clause(&self) -> &'static str {
        "FAPI 1.0 Baseline §6.2.2 (x-fapi-interaction-id); ib1-openenergy-support FAPISession sends a fresh UUID per request"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let calls: Vec<_> = resource_calls(run).collect();
        let has =
            |e: &&EventView| e.0["headers"].as_array().is_some_and(|h| h.iter().any(|n| n.as_str() == Some(HEADER)));
        let without: Vec<_> = calls.iter().copied().filter(|e| !has(e)).collect();
        if let Some(first) = without.first() {
            return Verdict::violated(format!(
                "{} of {} resource call(s) without {HEADER}, first {} {}",
                without.len(),
                calls.len(),
                first.method(),
                first.path()
            ))
            .with(without);
        }
        if calls.is_empty() {
            return Verdict::not_applicable("no resource call was made");
        }
        Verdict::pass(format!("{HEADER} on all {} resource call(s)", calls.len()))
    }
}
