//! Engine to client: the engine's packets are relayed as they are, in batches of whatever
//! arrived, but for two. A SUBACK that answers a SUBSCRIBE with denied filters gets the gate's
//! codes merged in ([`merged_suback`]). In a run's space, a PUBLISH loses the run's prefix
//! (re-encoded); one outside the run's space is not delivered. The engine's packets are framed
//! up to MQTT's own ceiling, not the client's limit: they are not the client's to bound.

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;

use super::conn::Conn;
use super::end::End;
use super::frames::MQTT_MAX_PACKET;
use super::gate::Gate;
use super::publish::topic_of;
use super::subscribe::merged_suback;
use crate::mqtt::codec::{self, Packet, Version};
use crate::mqtt::space::Space;

/// Engine to client: relayed as is, but for SUBACKs that need the gate's denials merged in.
pub(super) async fn downstream(gate: &Gate, conn: &Conn, mut engine: OwnedReadHalf, mut buf: BytesMut) -> End {
    loop {
        let out = match relayed(gate, conn, &mut buf) {
            Ok(out) => out,
            Err(end) => return end,
        };
        if !out.is_empty() {
            if let Err(end) = conn.to_client(out.freeze()).await {
                return end;
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(8192);
        }
        match engine.read_buf(&mut buf).await {
            Ok(0) => {
                return End::quiet("the engine closed the connection (DISCONNECT, keep-alive or session taken over)")
            }
            Ok(_) => {}
            Err(e) => return End::quiet(format!("the engine connection failed: {e}")),
        }
    }
}

/// The whole packets in `buf`, as the client gets them.
fn relayed(gate: &Gate, conn: &Conn, buf: &mut BytesMut) -> Result<BytesMut, End> {
    let mut out = BytesMut::new();
    loop {
        match codec::frame(buf, MQTT_MAX_PACKET) {
            Ok(Some(f)) => {
                let frame = buf.split_to(f.len);
                match codec::packet_type(&frame) {
                    codec::PUBLISH if !gate.space.is_default() => {
                        if let Some(bytes) = delivered(&gate.space, conn.version, &frame) {
                            out.extend_from_slice(&bytes);
                        }
                    }
                    codec::SUBACK => match merged_suback(conn, &frame, f.header_len) {
                        Some(bytes) => out.extend_from_slice(&bytes),
                        None => out.unsplit(frame),
                    },
                    _ => out.unsplit(frame),
                }
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(End::quiet(format!("the engine sent a bad packet: {e}"))),
        }
    }
}

/// An engine PUBLISH for a run's client, its topic without the run's prefix; `None` (not
/// delivered) when it is not of the run's space or does not decode.
fn delivered(space: &Space, version: Version, frame: &[u8]) -> Option<Bytes> {
    let Ok(Packet::Publish(mut publish, properties)) = codec::decode(version, frame) else {
        tracing::debug!("an engine PUBLISH did not decode; not delivered");
        return None;
    };
    let topic = topic_of(&publish);
    let Some(outward) = space.outward(&topic) else {
        tracing::debug!(%topic, "an engine PUBLISH outside the run's space; not delivered");
        return None;
    };
    publish.topic = Bytes::from(outward.to_owned());
    codec::encode(version, Packet::Publish(publish, properties)).ok()
}
