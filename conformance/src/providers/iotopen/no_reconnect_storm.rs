//! `iotopen.no-reconnect-storm`: a refused CONNACK (wrong, expired or revoked key) is final:
//! the client reports it instead of reconnecting in a loop.

use super::journal::iotopen;
use crate::contract::{Check, ParamSpec, Params, Run, Verdict};

pub struct NoReconnectStorm;

impl Check for NoReconnectStorm {
    fn name(&self) -> &'static str {
        "iotopen.no-reconnect-storm"
    }
    fn summary(&self) -> &'static str {
        "After a refused CONNACK (not authorized) makes at most `max` CONNECT attempts in the whole run"
    }
    fn clause(&self) -> &'static str {
        "MQTT 3.1.1 §3.2.2.3 (a non-zero return code: the server closes the connection; 0x04/0x05 are not transient) and MQTT 5 §4.13; docs/providers/iotopen.md#connecting (bad credentials → CONNACK not authorized)"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec { name: "max", default: 2, help: "CONNECT attempts allowed once refused" }]
    }
    fn evaluate(&self, run: &Run, params: &Params) -> Verdict {
        let refused: Vec<_> = iotopen(run, "mqtt.refused").collect();
        if refused.is_empty() {
            return Verdict::not_applicable("no CONNECT was refused");
        }
        let max = params.get("max") as usize;
        let attempts = refused.len() + iotopen(run, "mqtt.connected").filter(|c| c.seq() > refused[0].seq()).count();
        if attempts > max {
            let span = refused.last().map(|l| (l.at() - refused[0].at()).num_milliseconds()).unwrap_or_default();
            return Verdict::violated(format!(
                "{attempts} CONNECT attempts in {:.1} s after a refusal ({}): a reconnect storm",
                span as f64 / 1000.0,
                refused[0].str("reason").unwrap_or_default()
            ))
            .with(refused.iter().take(3).copied());
        }
        Verdict::pass(format!("{attempts} CONNECT attempt(s); the refusal was taken as final"))
            .with(refused.first().copied())
    }
}
