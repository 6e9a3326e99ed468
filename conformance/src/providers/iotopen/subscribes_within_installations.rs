//! `iotopen.subscribes-within-installations`: the client subscribes only under the client ids
//! of the installations its key reaches; the broker never has to refuse a filter.

use super::journal::iotopen;
use crate::contract::{Check, Params, Run, Verdict};

pub struct SubscribesWithinInstallations;

impl Check for SubscribesWithinInstallations {
    fn name(&self) -> &'static str {
        "iotopen.subscribes-within-installations"
    }
    fn summary(&self) -> &'static str {
        "Subscribes only under {client_id}/# of its own installations: no SUBSCRIBE filter is refused"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/iotopen.md#subscribe-and-publish-rules; IoT Open (https://iotopen.se/api-for-att-tillgangliggora-data/): 'A token only gives access to the data the user has. This is regardless of whether the user listens or writes to MQTT or uses the REST API'; topics {client_id}/obj|evt|set/... (MQTT API Specification 2.0, https://lynx.iotopen.se/api-doc/mqtt/); MQTT 3.1.1 §3.9.3 (SUBACK 0x80)"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let denied: Vec<_> = iotopen(run, "mqtt.denied").filter(|e| e.str("action") == Some("subscribe")).collect();
        if let Some(first) = denied.first() {
            return Verdict::violated(format!(
                "{} filter(s) refused, e.g. '{}': {}",
                denied.len(),
                first.str("topic").unwrap_or_default(),
                first.str("reason").unwrap_or_default()
            ))
            .with(denied);
        }
        let granted: Vec<_> = iotopen(run, "mqtt.subscribed").collect();
        if granted.is_empty() {
            return Verdict::not_applicable("the client subscribed to nothing");
        }
        let filters: std::collections::BTreeSet<&str> = granted.iter().filter_map(|e| e.str("filter")).collect();
        Verdict::pass(format!("subscribed to {} only", filters.into_iter().collect::<Vec<_>>().join(", ")))
    }
}
