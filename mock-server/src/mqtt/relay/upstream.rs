//! Client to engine. The client's bytes are framed (a packet over the gate's maximum size, or
//! one whose length is malformed, ends the connection), and each packet goes where its type
//! says: PUBLISH and PUBREL to [`publish`](super::publish), SUBSCRIBE and UNSUBSCRIBE to
//! [`subscribe`](super::subscribe). A packet a client may not send ends the connection, on 5
//! with a DISCONNECT saying why. Everything else (PUBACK, PUBREC, PUBCOMP, PINGREQ, DISCONNECT)
//! is relayed untouched, as raw bytes (a completion also lets out a message the client's
//! receive window held, [`flow`](super::flow)). What one read's packets relay goes to the engine in one
//! write; the gate's own answers (acknowledgements of denied publishes, SUBACKs) go straight
//! to the client. Before a PUBLISH, SUBSCRIBE, UNSUBSCRIBE or PINGREQ the session's credential
//! is asked whether it still works: a revoked one ends the connection (0x87 on 5), at the
//! latest at the next keep-alive.

use bytes::BytesMut;

use super::conn::Conn;
use super::end::End;
use super::flow::SERVER_RECEIVE_MAXIMUM;
use super::gate::Gate;
use super::publish::Publishing;
use super::subscribe::{subscribe, unsubscribe};
use crate::mqtt::codec::{self, DisconnectReasonCode};
use crate::mqtt::transport::Reader;

/// Client to engine.
pub(super) async fn upstream(gate: &Gate, conn: &Conn, reader: &mut Reader, mut buf: BytesMut) -> End {
    let mut publishing = Publishing::default();
    loop {
        let mut out = BytesMut::new();
        let ended = client_packets(gate, conn, &mut publishing, &mut buf, &mut out).await.err();
        if !out.is_empty() {
            if let Err(end) = conn.to_engine(&out).await {
                return end;
            }
        }
        if let Some(end) = ended {
            return end;
        }
        match reader.read(&mut buf).await {
            Ok(0) => return End::quiet("the client closed the connection"),
            Ok(_) => {}
            Err(e) => return End::quiet(format!("the client connection failed: {e}")),
        }
    }
}

/// The whole packets in `buf`, one after the other; `Err` ends the connection (what `out`
/// holds by then still goes to the engine).
async fn client_packets(
    gate: &Gate,
    conn: &Conn,
    publishing: &mut Publishing,
    buf: &mut BytesMut,
    out: &mut BytesMut,
) -> Result<(), End> {
    while let Some(f) = codec::frame(buf, gate.max_packet).map_err(End::frame)? {
        let frame = buf.split_to(f.len);
        client_packet(gate, conn, publishing, frame, f.header_len, out).await?;
    }
    Ok(())
}

/// One packet from the client: authorized, then relayed into `out`, answered, or refused.
async fn client_packet(
    gate: &Gate,
    conn: &Conn,
    publishing: &mut Publishing,
    frame: BytesMut,
    header_len: usize,
    out: &mut BytesMut,
) -> Result<(), End> {
    let kind = codec::packet_type(&frame);
    if matches!(kind, codec::PUBLISH | codec::SUBSCRIBE | codec::UNSUBSCRIBE | codec::PINGREQ) {
        conn.still_authorized()?;
    }
    if kind == codec::PUBLISH && codec::publish_qos(&frame) > 0 {
        within_server_window(conn)?;
    }
    match kind {
        codec::PUBLISH => publishing.publish(gate, conn, frame, header_len, out).await,
        codec::PUBREL => publishing.pubrel(conn, frame, header_len, out).await,
        codec::SUBSCRIBE => subscribe(gate, conn, frame, out).await,
        codec::UNSUBSCRIBE => unsubscribe(gate, conn, frame, out),
        _ => match refusal(kind) {
            Some(end) => Err(end),
            None => {
                let next = conn.flow.as_ref().and_then(|flow| flow.completed(&frame, header_len));
                out.unsplit(frame);
                match next {
                    Some(held) => conn.to_client(held).await,
                    None => Ok(()),
                }
            }
        },
    }
}

/// A QoS 1 or 2 PUBLISH counted against the Receive Maximum the gate announced (MQTT 5); one
/// beyond it ends the connection with 0x93.
fn within_server_window(conn: &Conn) -> Result<(), End> {
    match &conn.server_window {
        Some(window) if !window.received() => {
            let why =
                format!("more unanswered QoS 1 and 2 publishes than the Receive Maximum ({SERVER_RECEIVE_MAXIMUM})");
            Err(End::telling(why, DisconnectReasonCode::ReceiveMaximumExceeded))
        }
        _ => Ok(()),
    }
}

/// How a packet a client may not send ends its connection; `None` for the ones it may.
fn refusal(kind: u8) -> Option<End> {
    let end = match kind {
        codec::CONNECT => End::telling("a second CONNECT", DisconnectReasonCode::ProtocolError),
        codec::AUTH => {
            End::telling("AUTH (enhanced authentication) is not supported", DisconnectReasonCode::ProtocolError)
        }
        codec::CONNACK | codec::SUBACK | codec::UNSUBACK | codec::PINGRESP => {
            End::telling(format!("a client may not send packet type {kind}"), DisconnectReasonCode::ProtocolError)
        }
        0 => End::telling("packet type 0 is reserved", DisconnectReasonCode::MalformedPacket),
        _ => return None,
    };
    Some(end)
}
