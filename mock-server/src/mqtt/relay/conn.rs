//! What both directions of one relayed connection share: who the client is and the protocol
//! it speaks, the one writer to the client (the engine's packets and the gate's own answers
//! take turns on it), and the SUBACK codes of denied filters, kept from the SUBSCRIBE (client
//! to engine) until the engine's SUBACK comes back (engine to client).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::connect::Client;
use super::end::End;
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
    writer: tokio::sync::Mutex<Writer>,
    /// SUBSCRIBE packet id → the SUBACK codes of denied filters (`None` where the engine answers).
    pub(super) pending: Mutex<HashMap<u16, Vec<Option<SubscribeReasonCode>>>>,
}

impl Conn {
    pub(super) fn new(client: Client, transport: &'static str, writer: Writer) -> Conn {
        let Client { version, client_id, principal, session } = client;
        Conn {
            version,
            transport,
            client_id,
            principal,
            session,
            writer: tokio::sync::Mutex::new(writer),
            pending: Mutex::new(HashMap::new()),
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
