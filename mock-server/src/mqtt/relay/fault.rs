//! Fault rules on MQTT: a test makes the broker misbehave as it makes the HTTP services
//! misbehave, with rules for service `mqtt`. A client's PUBLISH is what they match, before it
//! is authorized, so a test can drop a client in the middle of its traffic.

use super::conn::Conn;
use super::end::End;
use super::gate::Gate;
use crate::journal::EventKind;

/// A fault rule with `service = "mqtt"` matching this packet (`method` PUBLISH, route `/` +
/// topic): its clock step is taken, and `drop_connection` closes the connection at once
/// without relaying the packet, as a broker dropping its client does. Other actions (status,
/// delay, truncation) mean nothing to MQTT and are ignored.
pub(super) fn fault(gate: &Gate, conn: &Conn, method: &str, topic: &str) -> Option<End> {
    let fault = gate.core.faults.take_mqtt(gate.authority.provider(), method, topic)?;
    gate.record(EventKind::FaultApplied {
        rule_id: fault.rule_id.clone(),
        method: method.to_owned(),
        path: topic.to_owned(),
        action: fault.action.describe(),
    });
    if let Some(seconds) = fault.action.advance_clock_seconds {
        if let Err(e) = gate.core.clock.advance(chrono::Duration::seconds(seconds)) {
            tracing::warn!(rule = %fault.rule_id, "clock step not taken: {e}");
        }
    }
    tracing::debug!(client_id = %conn.client_id, rule = %fault.rule_id, "MQTT fault on {method} {topic}");
    fault
        .action
        .drop_connection
        .then(|| End::quiet(format!("dropped by fault rule {} (on {method} {topic})", fault.rule_id)))
}
