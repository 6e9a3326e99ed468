//! `iotopen.mqtt-connect-with-key`: the client connects to the broker with its API key as the
//! password (any user name), and the broker accepts it the first time.

use super::journal::iotopen;
use crate::contract::{Check, Params, Run, Verdict};

pub struct MqttConnectWithKey;

impl Check for MqttConnectWithKey {
    fn name(&self) -> &'static str {
        "iotopen.mqtt-connect-with-key"
    }
    fn summary(&self) -> &'static str {
        "Connects to the MQTT broker with the API key as password and is accepted, with no refused CONNECT"
    }
    fn clause(&self) -> &'static str {
        "docs/providers/iotopen.md#connecting: authentication on the password only, an API key or a token, any user name (IoT Open MQTT API Specification 2.0, https://lynx.iotopen.se/api-doc/mqtt/: 'API-Key as password and random username'); an API key 'largely corresponds to a Token' (https://iotopen.se/api-for-att-tillgangliggora-data/)"
    }
    fn evaluate(&self, run: &Run, _: &Params) -> Verdict {
        let refused: Vec<_> = iotopen(run, "mqtt.refused").collect();
        if let Some(first) = refused.first() {
            return Verdict::violated(format!(
                "{} CONNECT(s) refused: CONNACK {} ({})",
                refused.len(),
                first.0["code"],
                first.str("reason").unwrap_or_default()
            ))
            .with(refused);
        }
        let connected: Vec<_> = iotopen(run, "mqtt.connected").collect();
        match connected.first() {
            None => Verdict::violated("the client never connected to the broker"),
            Some(c) if !c.str("principal").is_some_and(|p| p.contains(" key ")) => {
                Verdict::violated(format!("connected as {}, not with an API key", c.str("principal").unwrap_or("?")))
                    .with([*c])
            }
            Some(c) => Verdict::pass(format!("connected with {}", c.str("principal").unwrap_or_default())).with([*c]),
        }
    }
}
