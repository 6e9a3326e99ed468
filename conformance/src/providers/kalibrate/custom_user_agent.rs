//! `kalibrate.custom-user-agent`: the client sets its own User-Agent on data API calls; the
//! gateway rejects python-requests' default.

use crate::contract::{Check, Params, Run, Verdict};

pub struct CustomUserAgent;

impl Check for CustomUserAgent {
    fn name(&self) -> &'static str {
        "kalibrate.custom-user-agent"
    }
    fn summary(&self) -> &'static str {
        "Every data API call carries a User-Agent of the client's own, not python-requests' default"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/kalibrate.md#user-agent-rule; Kalibrate (https://dev.data.thekalibratecloud.com/portal/docs/exampleauth): 'Our API Gateway ... will reject any python requests that have the default user agent set'"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let data = run.profile.api_service;
        let calls: Vec<_> = run.exchanges().filter(|e| e.service() == data).collect();
        let bad: Vec<_> = calls
            .iter()
            .copied()
            .filter(|e| {
                e.user_agent()
                    .is_none_or(|ua| ua.trim().is_empty() || ua.to_ascii_lowercase().starts_with("python-requests/"))
            })
            .collect();
        if let Some(first) = bad.first() {
            return Verdict::violated(format!(
                "{} of {} data API call(s) sent User-Agent {:?}",
                bad.len(),
                calls.len(),
                first.user_agent().unwrap_or("<none>")
            ))
            .with(bad);
        }
        if calls.is_empty() {
            return Verdict::not_applicable("no data API call was made");
        }
        Verdict::pass(format!("{} data API call(s), all with a custom User-Agent", calls.len()))
    }
}
