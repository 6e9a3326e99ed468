//! `iotopen.resubscribes-after-drop`: when the broker drops the connection, the client
//! reconnects and subscribes again to everything it had, before it carries on.

use super::journal::iotopen;
use crate::contract::{Check, Params, Run, Verdict};

pub struct ResubscribesAfterDrop;

impl Check for ResubscribesAfterDrop {
    fn name(&self) -> &'static str {
        "iotopen.resubscribes-after-drop"
    }
    fn summary(&self) -> &'static str {
        "After the broker drops the connection, reconnects and subscribes again to every filter it had"
    }
    fn clause(&self) -> &'static str {
        "MQTT 3.1.1 §3.1.2.4 and §4.1 (with a clean session the subscriptions end with the connection: the client must subscribe again); MQTT 5 §3.1.2.4"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let Some(drop) =
            iotopen(run, "mqtt.disconnected").find(|e| e.str("reason").is_some_and(|r| r.contains("fault rule")))
        else {
            return Verdict::not_applicable("the broker did not drop the client");
        };
        let before: std::collections::BTreeSet<&str> =
            iotopen(run, "mqtt.subscribed").filter(|e| e.seq() < drop.seq()).filter_map(|e| e.str("filter")).collect();
        let Some(again) = iotopen(run, "mqtt.connected").find(|e| e.seq() > drop.seq()) else {
            return Verdict::violated("the client did not reconnect after the broker dropped it").with([drop]);
        };
        let after: std::collections::BTreeSet<&str> =
            iotopen(run, "mqtt.subscribed").filter(|e| e.seq() > again.seq()).filter_map(|e| e.str("filter")).collect();
        let missing: Vec<&str> = before.difference(&after).copied().collect();
        if !missing.is_empty() {
            return Verdict::violated(format!("reconnected but did not subscribe again to {}", missing.join(", ")))
                .with([drop, again]);
        }
        Verdict::pass(format!("reconnected and subscribed again to {} filter(s)", before.len())).with([drop, again])
    }
}
