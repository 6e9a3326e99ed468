//! PUBLISH from the client, and the PUBREL of QoS 2.
//!
//! The topic is read (on 5, an empty topic with a topic alias is the alias's; a topic with an
//! alias sets it, up to 4096 aliases per connection), faults are applied, and the topic is
//! authorized through the session. An accepted publish is handed to the provider (current
//! values, history), journaled, and relayed: as its raw bytes, or in a run's space re-encoded
//! with the run's prefix. A denied publish is journaled and dropped, and at QoS 1 or 2
//! acknowledged by the gate (PUBACK/PUBREC with 0x87 on 5; 3.1.1 has no reason codes, so the
//! message is silently dropped, as mosquitto does) so the client does not resend it. On 5 the
//! PUBREC's 0x87 ends a QoS 2 exchange; on 3.1.1 the client goes on with PUBREL, which the
//! gate answers with PUBCOMP itself (the engine never saw the PUBLISH).

use std::collections::{HashMap, HashSet};

use bytes::{Bytes, BytesMut};
use rumqttd::protocol::PublishProperties;

use super::authorize;
use super::conn::Conn;
use super::end::End;
use super::fault::fault;
use super::gate::Gate;
use crate::journal::EventKind;
use crate::mqtt::codec::{self, DisconnectReasonCode, Packet, Publish, Version};

/// Topic aliases remembered per connection (rumqttd offers 4096).
const MAX_ALIASES: usize = 4096;

/// What PUBLISH handling remembers on one connection.
#[derive(Default)]
pub(super) struct Publishing {
    /// Topic alias → topic (5).
    aliases: HashMap<u16, String>,
    /// Packet ids of denied 3.1.1 QoS 2 publishes, whose PUBREL the gate answers.
    denied_qos2: HashSet<u16>,
}

/// A PUBLISH as the gate reads it.
struct Incoming {
    frame: BytesMut,
    publish: Publish,
    properties: Option<PublishProperties>,
    /// With its alias resolved.
    topic: String,
    qos: u8,
    pkid: u16,
}

impl Publishing {
    /// One PUBLISH: relayed into `out`, or denied and answered.
    pub(super) async fn publish(
        &mut self,
        gate: &Gate,
        conn: &Conn,
        frame: BytesMut,
        header_len: usize,
        out: &mut BytesMut,
    ) -> Result<(), End> {
        let Ok(Packet::Publish(publish, properties)) = codec::decode(conn.version, &frame) else {
            return Err(End::telling("malformed PUBLISH", DisconnectReasonCode::MalformedPacket));
        };
        let (qos, pkid) = codec::publish_qos_pkid(&frame, header_len).unwrap_or((0, 0));
        let Ok(topic) = String::from_utf8(publish.topic.to_vec()) else {
            return Err(End::telling("PUBLISH topic is not UTF-8", DisconnectReasonCode::TopicNameInvalid));
        };
        let topic = self.unalias(topic, properties.as_ref())?;
        if let Some(end) = fault(gate, conn, "PUBLISH", &topic) {
            return Err(end);
        }
        let incoming = Incoming { frame, publish, properties, topic, qos, pkid };
        match authorize::may_publish(&*conn.session, &incoming.topic) {
            Ok(()) => accept(gate, conn, incoming, out),
            Err(reason) => self.deny(gate, conn, incoming, reason).await,
        }
    }

    /// The topic a PUBLISH is for, its topic alias resolved or remembered.
    fn unalias(&mut self, topic: String, properties: Option<&PublishProperties>) -> Result<String, End> {
        let Some(alias) = properties.and_then(|p| p.topic_alias) else {
            return Ok(topic);
        };
        if topic.is_empty() {
            return match self.aliases.get(&alias) {
                Some(known) => Ok(known.clone()),
                None => {
                    Err(End::telling(format!("unknown topic alias {alias}"), DisconnectReasonCode::TopicAliasInvalid))
                }
            };
        }
        if self.aliases.len() < MAX_ALIASES || self.aliases.contains_key(&alias) {
            self.aliases.insert(alias, topic.clone());
        }
        Ok(topic)
    }

    /// A denied PUBLISH: journaled, dropped, and acknowledged at QoS 1 or 2.
    async fn deny(&mut self, gate: &Gate, conn: &Conn, incoming: Incoming, reason: String) -> Result<(), End> {
        gate.record(EventKind::MqttDenied {
            client_id: conn.client_id.clone(),
            principal: conn.principal.clone(),
            action: "publish".into(),
            topic: incoming.topic,
            reason,
        });
        let (version, pkid) = (conn.version, incoming.pkid);
        let answer = match incoming.qos {
            1 => codec::puback_denied(version, pkid),
            2 => {
                if version == Version::V311 && self.denied_qos2.len() < usize::from(u16::MAX) {
                    self.denied_qos2.insert(pkid);
                }
                codec::pubrec_denied(version, pkid)
            }
            _ => return Ok(()),
        };
        if let Some(window) = &conn.server_window {
            window.answered(&answer, 2);
        }
        conn.to_client(answer).await
    }

    /// A PUBREL: the gate answers those of its denied 3.1.1 QoS 2 publishes with PUBCOMP; the
    /// others go on to the engine.
    pub(super) async fn pubrel(
        &mut self,
        conn: &Conn,
        frame: BytesMut,
        header_len: usize,
        out: &mut BytesMut,
    ) -> Result<(), End> {
        match codec::leading_pkid(&frame, header_len) {
            Some(pkid) if self.denied_qos2.remove(&pkid) => conn.to_client(codec::pubcomp(conn.version, pkid)).await,
            _ => {
                out.unsplit(frame);
                Ok(())
            }
        }
    }
}

/// An allowed PUBLISH: handed to the provider, journaled, and relayed into `out`.
fn accept(gate: &Gate, conn: &Conn, incoming: Incoming, out: &mut BytesMut) -> Result<(), End> {
    let Incoming { frame, mut publish, properties, topic, qos, .. } = incoming;
    let received = conn.session.received(&topic, &publish.payload);
    gate.record(EventKind::MqttPublished {
        client_id: conn.client_id.clone(),
        principal: conn.principal.clone(),
        topic,
        qos,
        bytes: publish.payload.len(),
        stored: received.stored,
        invalid: received.invalid,
    });
    if gate.space.is_default() {
        out.unsplit(frame);
    } else {
        publish.topic = Bytes::from(gate.space.inward(&topic_of(&publish)));
        out.extend_from_slice(&conn.reencode(Packet::Publish(publish, properties), "PUBLISH")?);
    }
    Ok(())
}

/// A PUBLISH packet's topic field, as sent (empty behind a topic alias).
pub(super) fn topic_of(publish: &Publish) -> String {
    String::from_utf8_lossy(&publish.topic).into_owned()
}
