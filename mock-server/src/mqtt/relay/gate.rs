//! The gate of one namespace: every namespace (the default one, and each run) has one in front
//! of the shared engine. It asks the namespace's [`Authority`] who may connect, journals into
//! the namespace's journal (service `mqtt`), and renames into the namespace's [`Space`] in the
//! engine. Each connection it serves is one call of [`serve`](super::serve).

use std::sync::Arc;

use crate::contract::Authority;
use crate::journal::{EventKind, Origin};
use crate::mqtt::codec::Version;
use crate::mqtt::engine::EngineLinks;
use crate::mqtt::engine_ids::EngineIds;
use crate::mqtt::options::MqttOptions;
use crate::mqtt::space::Space;
use crate::mqtt::transport::Kind;
use crate::namespace::Namespace;

/// The service name MQTT events are journaled under.
pub const SERVICE: &str = "mqtt";

pub struct Gate {
    pub(super) ns: Arc<Namespace>,
    pub(super) authority: Arc<dyn Authority>,
    pub(super) space: Space,
    /// The engine's 3.1.1 and 5 servers.
    pub(super) engine: EngineLinks,
    /// The engine's client ids ([`EngineIds`]), shared by every gate in front of it.
    pub(super) engine_ids: Arc<EngineIds>,
    /// Largest packet a client may send ([`MqttOptions::max_packet_bytes`]).
    pub(super) max_packet: usize,
}

impl Gate {
    pub fn new(
        ns: Arc<Namespace>,
        authority: Arc<dyn Authority>,
        space: Space,
        engine: &EngineLinks,
        options: &MqttOptions,
    ) -> Gate {
        Gate {
            ns,
            authority,
            space,
            engine: engine.clone(),
            engine_ids: engine.ids.clone(),
            max_packet: options.max_packet_bytes,
        }
    }

    pub(super) fn record(&self, kind: EventKind) {
        self.ns.record(Origin::new(self.authority.provider(), SERVICE), kind);
    }

    pub(super) fn disconnected(&self, transport: &str, client_id: Option<&str>, reason: &str) {
        tracing::debug!(transport, client_id, "MQTT connection closed: {reason}");
        self.record(EventKind::MqttDisconnected {
            transport: transport.to_owned(),
            client_id: client_id.map(str::to_owned),
            reason: reason.to_owned(),
        });
    }

    pub fn handshake_failed(&self, kind: Kind, reason: &str) {
        self.disconnected(kind.name(), None, reason);
    }

    pub(super) fn refused(
        &self,
        transport: &str,
        version: Option<Version>,
        client_id: Option<&str>,
        code: u8,
        reason: &str,
    ) {
        tracing::info!(transport, client_id, code, "MQTT CONNECT refused: {reason}");
        self.record(EventKind::MqttRefused {
            transport: transport.to_owned(),
            protocol: version.map(|v| v.name().to_owned()),
            client_id: client_id.map(str::to_owned),
            code,
            reason: reason.to_owned(),
        });
    }
}
