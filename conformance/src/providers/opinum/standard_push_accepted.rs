//! `opinum.standard-push-accepted`: the client pushes its points in the standard format
//! (`POST push/api/data`, a JSON array of series) and they are stored in an existing variable.

use super::journal::opinum;
use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct StandardPushAccepted;

impl Check for StandardPushAccepted {
    fn name(&self) -> &'static str {
        "opinum.standard-push-accepted"
    }
    fn summary(&self) -> &'static str {
        "Pushes in the standard format to POST push/api/data and at least `min_points` points are stored"
    }
    fn clause(&self) -> &'static str {
        "docs.opinum.com 'Standard push format': POST /api/data, [{sourceSerialNumber|variableId..., mappingConfig, data: [{date, value}]}]"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "min_points", default: 1, help: "points that must be stored" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let pushes: Vec<_> = run
            .exchanges()
            .filter(|e| e.provider() == "opinum" && e.service() == "push" && e.method() == "POST")
            .collect();
        if let Some(other) = pushes.iter().find(|e| {
            e.path().trim_end_matches('/') != "/api/data" && !e.path().trim_end_matches('/').ends_with("/push/api/data")
        }) {
            return Verdict::violated(format!("pushed to {} instead of the standard format's /api/data", other.path()))
                .with([*other]);
        }
        let written: Vec<_> = opinum(run, "data.written").filter(|e| e.service() == "push").collect();
        let points: u64 = written.iter().map(|e| e.0["count"].as_u64().unwrap_or_default()).sum();
        let min = params.get("min_points") as u64;
        if points < min {
            let refused: Vec<_> = pushes.iter().copied().filter(|e| e.status() != 200).collect();
            let denied: Vec<_> = opinum(run, "api.denied").filter(|e| e.service() == "push").collect();
            let why =
                denied.first().and_then(|e| e.str("reason")).map(|r| format!(" (denied: {r})")).unwrap_or_default();
            return Verdict::violated(format!(
                "{points} point(s) stored by {} push(es), {min} required{why}",
                pushes.len()
            ))
            .with(refused.into_iter().chain(denied).take(4));
        }
        Verdict::pass(format!("{points} point(s) stored by {} standard push(es)", pushes.len()))
            .with(written.first().copied())
    }
}
