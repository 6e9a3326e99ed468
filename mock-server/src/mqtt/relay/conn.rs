//! What both directions of one relayed connection share: who the client is and the protocol
//! it speaks, the one writer to the client (the engine's packets and the gate's own answers
//! take turns on it), the one writer to the engine (the client's packets and the gate's
//! acknowledgements of messages it withheld), the SUBACK codes of denied filters, kept from
//! the SUBSCRIBE (client to engine) until the engine's SUBACK comes back (engine to client),
//! and the QoS 2 messages the gate withheld, whose PUBREL it completes itself.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::mqtt::engine::EngineWriter;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::connect::Client;
use super::end::End;
use super::flow::{Flow, ServerWindow};
use crate::contract::Session;
use crate::mqtt::codec::{self, DisconnectReasonCode, Packet, SubscribeReasonCode, Version};
use crate::mqtt::transport::Writer;

/// What both directions of one connection share.
pub(super) struct Conn {
    pub(super) version: Version,
    pub(super) transport: &'static str,
    pub(super) client_id: String,
    pub(super) principal: String,
    pub(super) session: Arc<dyn Session>,
    /// The largest packet the client accepts ([MQTT-3.1.2-24]); `usize::MAX` when it set none.
    pub(super) max_packet: usize,
    /// Its receive window, when it set one.
    pub(super) flow: Option<Flow>,
    /// The server's receive window for its publishes (MQTT 5 clients).
    pub(super) server_window: Option<ServerWindow>,
    writer: tokio::sync::Mutex<Writer>,
    engine: tokio::sync::Mutex<EngineWriter>,
    /// SUBSCRIBE packet id → the SUBACK codes of denied filters (`None` where the engine answers).
    pub(super) pending: Mutex<HashMap<u16, Vec<Option<SubscribeReasonCode>>>>,
    /// Engine packet ids of QoS 2 messages withheld from the client: the gate sent their PUBREC
    /// and answers their PUBREL (at most the engine's in-flight window at a time).
    pub(super) withheld_qos2: Mutex<HashSet<u16>>,
}

impl Conn {
    pub(super) fn new(client: Client, transport: &'static str, writer: Writer, engine: EngineWriter) -> Conn {
        let Client { version, client_id, principal, session, max_packet, receive_maximum } = client;
        Conn {
            version,
            transport,
            client_id,
            principal,
            session,
            max_packet: max_packet.unwrap_or(usize::MAX),
            flow: Flow::new(receive_maximum),
            server_window: (version == Version::V5).then(ServerWindow::default),
            writer: tokio::sync::Mutex::new(writer),
            engine: tokio::sync::Mutex::new(engine),
            pending: Mutex::new(HashMap::new()),
            withheld_qos2: Mutex::new(HashSet::new()),
        }
    }

    pub(super) async fn to_engine(&self, bytes: &[u8]) -> Result<(), End> {
        self.engine.lock().await.write_all(bytes).await.map_err(|_| End::quiet("the engine closed the connection"))
    }

    /// Ends the connection when the session's credential no longer works.
    pub(super) fn still_authorized(&self) -> Result<(), End> {
        match self.session.revoked() {
            None => Ok(()),
            Some(why) => Err(End::telling(why, DisconnectReasonCode::NotAuthorized)),
        }
    }

    pub(super) async fn to_client(&self, bytes: Bytes) -> Result<(), End> {
        self.writer
            .lock()
            .await
            .write(bytes)
            .await
            .map_err(|e| End::quiet(format!("the client connection failed: {e}")))
    }

    /// A packet the gate rewrote, encoded again.
    pub(super) fn reencode(&self, packet: Packet, what: &str) -> Result<Bytes, End> {
        codec::encode(self.version, packet).map_err(|e| {
            End::telling(format!("{what} could not be re-encoded: {e}"), DisconnectReasonCode::MalformedPacket)
        })
    }

    /// Tells a 5 client why the connection ends, when `disconnect` names a reason, then closes
    /// it; a second for each.
    pub(super) async fn close(&self, disconnect: Option<DisconnectReasonCode>) {
        let mut writer = self.writer.lock().await;
        if let Some(code) = disconnect {
            if let Some(bytes) = codec::disconnect(self.version, code) {
                let _ = tokio::time::timeout(Duration::from_secs(1), writer.write(bytes)).await;
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), writer.close()).await;
    }
}
