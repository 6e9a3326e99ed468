//! Engine to client: the engine's packets are relayed as they are, in batches of whatever
//! arrived, but for these:
//!
//! - A PUBLISH is judged before it leaves the gate: its topic must be of the connection's
//!   namespace ([`Space::outward`]) and one its session may receive
//!   ([`Session::may_receive`](crate::contract::Session::may_receive)), whatever filter matched
//!   it in the engine. In a run's space it loses the run's prefix (re-encoded). A message
//!   withheld is acknowledged to the engine by the gate (PUBACK at QoS 1, PUBREC at QoS 2,
//!   then PUBCOMP for the engine's PUBREL), so the engine's in-flight window never fills with
//!   messages the client will not see. A message larger than the Maximum Packet Size an MQTT 5
//!   client declared is withheld the same way, as [MQTT-3.1.2-25] asks. Before each PUBLISH
//!   the session's credential is asked whether it still works.
//! - A QoS 1 or 2 message beyond the Receive Maximum an MQTT 5 client declared waits in the
//!   gate until the client completes an earlier one ([`Flow`]).
//! - A SUBACK that answers a SUBSCRIBE with denied filters gets the gate's codes merged in
//!   ([`merged_suback`]).
//!
//! The engine's packets are framed up to MQTT's own ceiling, not the client's limit: they are
//! not the client's to bound.

use crate::mqtt::engine::EngineReader;
use crate::mqtt::read_room::ReadRoom;
use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;

use super::conn::Conn;
use super::end::End;
use super::flow::Flow;
use super::frames::MQTT_MAX_PACKET;
use super::gate::Gate;
use super::subscribe::merged_suback;
use crate::mqtt::codec::{self, Packet, Version};

/// Engine to client.
pub(super) async fn downstream(gate: &Gate, conn: &Conn, mut engine: EngineReader, mut buf: BytesMut) -> End {
    let mut room = ReadRoom::default();
    loop {
        let mut batch = Batch::default();
        let ended = relayed(gate, conn, &mut buf, &mut batch).err();
        if !batch.to_engine.is_empty() {
            if let Err(end) = conn.to_engine(&batch.to_engine).await {
                return end;
            }
        }
        if !batch.to_client.is_empty() {
            if let Err(end) = conn.to_client(batch.to_client.freeze()).await {
                return end;
            }
        }
        if let Some(end) = ended {
            return end;
        }
        let free = room.make(&mut buf);
        match engine.read_buf(&mut buf).await {
            Ok(0) => {
                return End::quiet("the engine closed the connection (DISCONNECT, keep-alive or session taken over)")
            }
            Ok(read) => room.read(read, free),
            Err(e) => return End::quiet(format!("the engine connection failed: {e}")),
        }
    }
}

/// What one read of the engine's packets makes: bytes for the client, and the gate's own
/// acknowledgements for the engine.
#[derive(Default)]
struct Batch {
    to_client: BytesMut,
    to_engine: BytesMut,
}

impl Batch {
    /// A QoS 1 or 2 message, sent now if the client's window has room (held otherwise).
    fn admitted(&mut self, flow: &Flow, publish: Bytes) {
        if let Some(publish) = flow.admit(publish) {
            self.to_client.extend_from_slice(&publish);
        }
    }
}

/// The whole packets in `buf`, sorted into `batch`; `Err` ends the connection (what `batch`
/// holds by then still goes out).
fn relayed(gate: &Gate, conn: &Conn, buf: &mut BytesMut, batch: &mut Batch) -> Result<(), End> {
    loop {
        let f = match codec::frame(buf, MQTT_MAX_PACKET) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(e) => return Err(End::quiet(format!("the engine sent a bad packet: {e}"))),
        };
        let frame = buf.split_to(f.len);
        match codec::packet_type(&frame) {
            codec::PUBLISH => {
                conn.still_authorized()?;
                let windowed = conn.flow.as_ref().filter(|_| codec::publish_qos(&frame) > 0);
                match (delivery(gate, conn, &frame, f.header_len), windowed) {
                    (Delivery::Withheld, _) => withhold(conn, &frame, f.header_len, &mut batch.to_engine),
                    (Delivery::AsIs, None) => batch.to_client.unsplit(frame),
                    (Delivery::Renamed(bytes), None) => batch.to_client.extend_from_slice(&bytes),
                    (Delivery::AsIs, Some(flow)) => batch.admitted(flow, frame.freeze()),
                    (Delivery::Renamed(bytes), Some(flow)) => batch.admitted(flow, bytes),
                }
            }
            codec::PUBREL => match completed_by_gate(conn, &frame, f.header_len) {
                Some(pkid) => batch.to_engine.extend_from_slice(&codec::success_ack(codec::PUBCOMP, pkid)),
                None => batch.to_client.unsplit(frame),
            },
            codec::SUBACK => match merged_suback(conn, &frame, f.header_len) {
                Some(bytes) => batch.to_client.extend_from_slice(&bytes),
                None => batch.to_client.unsplit(frame),
            },
            kind => {
                if let (codec::PUBACK | codec::PUBREC | codec::PUBCOMP, Some(window)) = (kind, &conn.server_window) {
                    window.answered(&frame, f.header_len);
                }
                batch.to_client.unsplit(frame)
            }
        }
    }
}

/// What becomes of one engine PUBLISH.
enum Delivery {
    /// Relayed as its raw bytes (the default namespace).
    AsIs,
    /// Relayed under the topic the client knows (a run's space).
    Renamed(Bytes),
    /// Not for this connection.
    Withheld,
}

fn delivery(gate: &Gate, conn: &Conn, frame: &[u8], header_len: usize) -> Delivery {
    let Some(topic) = codec::publish_topic(frame, header_len).and_then(|t| std::str::from_utf8(t).ok()) else {
        tracing::debug!("an engine PUBLISH did not decode; withheld");
        return Delivery::Withheld;
    };
    let Some(outward) = gate.space.outward(topic) else {
        tracing::debug!(%topic, "an engine PUBLISH outside the connection's namespace; withheld");
        return Delivery::Withheld;
    };
    if !conn.session.may_receive(outward) {
        tracing::debug!(topic = %outward, client_id = %conn.client_id, "a PUBLISH the session may not receive; withheld");
        return Delivery::Withheld;
    }
    let delivery = if gate.space.is_default() {
        Delivery::AsIs
    } else {
        match renamed(conn.version, frame, outward) {
            Some(bytes) => Delivery::Renamed(bytes),
            None => return Delivery::Withheld,
        }
    };
    let size = if let Delivery::Renamed(bytes) = &delivery { bytes.len() } else { frame.len() };
    if size > conn.max_packet {
        tracing::debug!(topic = %outward, size, max = conn.max_packet, "a PUBLISH over the client's Maximum Packet Size; withheld");
        return Delivery::Withheld;
    }
    delivery
}

/// An engine PUBLISH under the topic `outward` (the run's prefix gone); `None` when it does
/// not decode.
fn renamed(version: Version, frame: &[u8], outward: &str) -> Option<Bytes> {
    let Ok(Packet::Publish(mut publish, properties)) = codec::decode(version, frame) else {
        tracing::debug!("an engine PUBLISH did not decode; withheld");
        return None;
    };
    publish.topic = Bytes::from(outward.to_owned());
    codec::encode(version, Packet::Publish(publish, properties)).ok()
}

/// The gate's acknowledgement of a withheld message, as the client would have sent it.
fn withhold(conn: &Conn, frame: &[u8], header_len: usize, to_engine: &mut BytesMut) {
    match codec::publish_qos_pkid(frame, header_len) {
        Some((1, pkid)) => to_engine.extend_from_slice(&codec::success_ack(codec::PUBACK, pkid)),
        Some((2, pkid)) => {
            conn.withheld_qos2.lock().unwrap_or_else(|e| e.into_inner()).insert(pkid);
            to_engine.extend_from_slice(&codec::success_ack(codec::PUBREC, pkid));
        }
        _ => {}
    }
}

/// The packet id of an engine PUBREL that ends a withheld QoS 2 message (the gate completes
/// it); `None` for one the client's.
fn completed_by_gate(conn: &Conn, frame: &[u8], header_len: usize) -> Option<u16> {
    let pkid = codec::leading_pkid(frame, header_len)?;
    let removed = conn.withheld_qos2.lock().unwrap_or_else(|e| e.into_inner()).remove(&pkid);
    removed.then_some(pkid)
}
