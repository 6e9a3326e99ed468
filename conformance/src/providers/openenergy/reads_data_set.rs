//! `openenergy.reads-data-set`: the client reads the data set with a valid, bound token and the
//! data provider lets it through, as many times as the action asked.

use super::journal::oe;
use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct ReadsDataSet;

impl Check for ReadsDataSet {
    fn name(&self) -> &'static str {
        "openenergy.reads-data-set"
    }
    fn summary(&self) -> &'static str {
        "Reads the data set with its bearer token over mTLS and is let through at least `min` times"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/openenergy.md#resource-checks: the data provider checks certificate, token, binding and scope (as ib1-openenergy-support's AccessTokenValidator does); RFC 6750 §2.1"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "min", default: 1, help: "authorized reads required" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let min = params.get("min") as usize;
        let reads: Vec<_> = oe(run, "api.authorized").filter(|e| e.service() == "data").collect();
        if reads.len() < min {
            let denied: Vec<_> = oe(run, "api.denied").collect();
            let rejected: Vec<_> = oe(run, "token.rejected").collect();
            let why = denied
                .first()
                .or(rejected.first())
                .and_then(|e| e.str("reason"))
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            return Verdict::violated(format!("{} authorized read(s), {min} required{why}", reads.len()))
                .with(denied.into_iter().chain(rejected));
        }
        Verdict::pass(format!("{} authorized read(s)", reads.len()))
    }
}
