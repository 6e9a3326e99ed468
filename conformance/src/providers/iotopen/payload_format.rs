//! `iotopen.payload-format`: values are published as `{"timestamp": number, "value": number,
//! "msg": string?}` and nothing else, so the platform stores them.

use super::journal::iotopen;
use crate::contract::{Check, Params, Run, Verdict};

pub struct PayloadFormat;

impl Check for PayloadFormat {
    fn name(&self) -> &'static str {
        "iotopen.payload-format"
    }
    fn summary(&self) -> &'static str {
        "Publishes values as exactly {timestamp, value, msg?} (numbers, optional string): every one stored"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/iotopen.md#payload-format: payload {\"timestamp\": number, \"value\": number, \"msg\": string?}, no other properties (IoT Open MQTT API Specification 2.0, https://lynx.iotopen.se/api-doc/mqtt/)"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let published: Vec<_> = iotopen(run, "mqtt.published").collect();
        let invalid: Vec<_> = published.iter().copied().filter(|e| e.str("invalid").is_some()).collect();
        if let Some(first) = invalid.first() {
            return Verdict::violated(format!(
                "{} of {} publish(es) not stored, e.g. on {}: {}",
                invalid.len(),
                published.len(),
                first.str("topic").unwrap_or_default(),
                first.str("invalid").unwrap_or_default()
            ))
            .with(invalid);
        }
        let stored = published.iter().filter(|e| e.0["stored"].as_bool() == Some(true)).count();
        if stored == 0 {
            return Verdict::not_applicable("no value was published");
        }
        Verdict::pass(format!("{stored} value(s) published and stored"))
    }
}
