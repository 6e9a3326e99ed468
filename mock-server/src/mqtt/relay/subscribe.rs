//! SUBSCRIBE and UNSUBSCRIBE from the client, and the SUBACK that answers.
//!
//! Each filter of a SUBSCRIBE is authorized through the session and journaled. A denied filter
//! gets a SUBACK failure code (0x80; 0x87 on 5) while the allowed ones of the same SUBSCRIBE
//! still reach the engine: denied filters are removed from the SUBSCRIBE before it goes on,
//! and their codes, kept by packet id, are merged into the engine's SUBACK at their places (or
//! the gate answers the SUBACK itself when none is left).
//!
//! The default namespace relays a SUBSCRIBE with nothing denied, and every UNSUBSCRIBE, as raw
//! bytes. In a run's space the filters of both get the run's prefix, and they are re-encoded.

use bytes::{Bytes, BytesMut};

use super::authorize;
use super::conn::Conn;
use super::end::End;
use super::gate::Gate;
use crate::journal::EventKind;
use crate::mqtt::codec::{self, DisconnectReasonCode, Filter, Packet, SubscribeReasonCode, Version};

/// One SUBSCRIBE: its allowed filters relayed into `out`, or, with none allowed, answered.
pub(super) async fn subscribe(gate: &Gate, conn: &Conn, frame: BytesMut, out: &mut BytesMut) -> Result<(), End> {
    let Ok(Packet::Subscribe(mut subscribe, properties)) = codec::decode(conn.version, &frame) else {
        return Err(End::telling("malformed SUBSCRIBE", DisconnectReasonCode::MalformedPacket));
    };
    let (codes, mut allowed) = judge(gate, conn, std::mem::take(&mut subscribe.filters));
    if allowed.is_empty() {
        let codes = codes.into_iter().flatten().collect();
        return conn.to_client(codec::suback(conn.version, subscribe.pkid, codes)).await;
    }
    if codes.iter().all(Option::is_none) && gate.space.is_default() {
        out.unsplit(frame);
        return Ok(());
    }
    if codes.iter().any(Option::is_some) {
        conn.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(subscribe.pkid, codes);
    }
    for filter in &mut allowed {
        filter.path = gate.space.inward(&filter.path);
    }
    subscribe.filters = allowed;
    out.extend_from_slice(&conn.reencode(Packet::Subscribe(subscribe, properties), "SUBSCRIBE")?);
    Ok(())
}

/// Each filter judged and journaled, in order: the SUBACK code of each (`None` where the
/// engine answers), and the allowed filters.
fn judge(gate: &Gate, conn: &Conn, filters: Vec<Filter>) -> (Vec<Option<SubscribeReasonCode>>, Vec<Filter>) {
    let mut codes = Vec::with_capacity(filters.len());
    let mut allowed = Vec::with_capacity(filters.len());
    for filter in filters {
        match authorize::may_subscribe(&*conn.session, &filter.path) {
            Ok(()) => {
                gate.record(EventKind::MqttSubscribed {
                    client_id: conn.client_id.clone(),
                    principal: conn.principal.clone(),
                    filter: filter.path.clone(),
                    qos: filter.qos as u8,
                });
                codes.push(None);
                allowed.push(filter);
            }
            Err(reason) => {
                gate.record(EventKind::MqttDenied {
                    client_id: conn.client_id.clone(),
                    principal: conn.principal.clone(),
                    action: "subscribe".into(),
                    topic: filter.path,
                    reason,
                });
                codes.push(Some(codec::denied_code(conn.version)));
            }
        }
    }
    (codes, allowed)
}

/// One UNSUBSCRIBE, relayed into `out`.
pub(super) fn unsubscribe(gate: &Gate, conn: &Conn, frame: BytesMut, out: &mut BytesMut) -> Result<(), End> {
    if gate.space.is_default() {
        out.unsplit(frame);
        return Ok(());
    }
    let Ok(Packet::Unsubscribe(mut unsubscribe, properties)) = codec::decode(conn.version, &frame) else {
        return Err(End::telling("malformed UNSUBSCRIBE", DisconnectReasonCode::MalformedPacket));
    };
    unsubscribe.filters = unsubscribe.filters.iter().map(|f| gate.space.inward(f)).collect();
    out.extend_from_slice(&conn.reencode(Packet::Unsubscribe(unsubscribe, properties), "UNSUBSCRIBE")?);
    Ok(())
}

/// An engine SUBACK with the gate's denials merged in; `None` for a SUBACK that had none
/// (relayed as it is).
pub(super) fn merged_suback(conn: &Conn, frame: &[u8], header_len: usize) -> Option<Bytes> {
    let template = codec::leading_pkid(frame, header_len)
        .and_then(|pkid| conn.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&pkid))?;
    Some(merge_suback(conn.version, frame, template))
}

/// The engine's SUBACK for the allowed filters, with the gate's codes put back at the places of
/// the denied ones.
fn merge_suback(version: Version, frame: &[u8], template: Vec<Option<SubscribeReasonCode>>) -> Bytes {
    let Ok(Packet::SubAck(suback, _)) = codec::decode(version, frame) else {
        return Bytes::copy_from_slice(frame);
    };
    let mut granted = suback.return_codes.into_iter();
    let codes = template
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| granted.next().unwrap_or(SubscribeReasonCode::Unspecified)))
        .collect();
    codec::suback(version, suback.pkid, codes)
}
