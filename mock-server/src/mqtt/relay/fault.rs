//! Fault rules on MQTT: a test makes the broker misbehave as it makes the HTTP services
//! misbehave, with rules for service `mqtt`. A client's PUBLISH is what they match, before it
//! is authorized, so a test can drop a client in the middle of its traffic.

use super::conn::Conn;
use super::end::End;
use super::gate::{Gate, SERVICE};
use crate::namespace::FaultPoint;

/// A fault rule with `service = "mqtt"` matching this packet (`method` PUBLISH, route `/` +
/// topic): it fires (`Namespace::fire_fault` journals it and takes its clock step), and `drop_connection` closes the connection at once
/// without relaying the packet, as a broker dropping its client does. Other actions (status,
/// delay, truncation) mean nothing to MQTT and are ignored.
pub(super) fn fault(gate: &Gate, conn: &Conn, method: &str, topic: &str) -> Option<End> {
    let route = format!("/{topic}");
    let at = FaultPoint { provider: gate.authority.provider(), service: SERVICE, method, route: &route, shown: topic };
    let fault = gate.ns.fire_fault(at)?;
    tracing::debug!(client_id = %conn.client_id, rule = %fault.rule_id, "MQTT fault on {method} {topic}");
    fault
        .action
        .drop_connection
        .then(|| End::quiet(format!("dropped by fault rule {} (on {method} {topic})", fault.rule_id)))
}
