//! MQTT on the wire, through rumqttd's own protocol codec (`rumqttd::protocol::{v4, v5}`).
//!
//! Framing: every MQTT packet starts with a fixed header, one byte of type and flags and a
//! remaining length of 1 to 4 bytes (7 bits each, high bit = more), so the size of a packet is
//! known before its body arrives and larger ones can be refused before they are buffered
//! (rumqttd's `check`). The CONNECT's variable header names the protocol (`MQTT`, or `MQIsdp`
//! for 3.1) and its level (4 = 3.1.1, 5 = 5.0), which picks the codec for the connection.
//!
//! Decoding is whitelisted per packet type: rumqttd's readers hit `unreachable!()` on packet
//! types a broker never receives (a v5 CONNACK with a body, for one), so only the types the gate
//! needs are decoded (CONNECT, PUBLISH, SUBSCRIBE from clients; SUBACK from the engine), and a
//! panic inside the codec is caught and reported as a malformed packet all the same. Everything
//! else is relayed as the raw bytes it arrived as. Small fields the codec keeps private (a
//! PUBLISH's packet id) are read from the raw frame, with every offset checked.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::{Bytes, BytesMut};
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::v5::V5;
use rumqttd::protocol::Protocol;
pub use rumqttd::protocol::{
    ConnAck, ConnectReturnCode, Disconnect, DisconnectReasonCode, Error as CodecError, Filter, Packet, PubAck,
    PubAckReason, PubComp, PubCompReason, PubRec, PubRecReason, Publish, SubAck, Subscribe, SubscribeReasonCode,
};

/// Packet types (the high nibble of the first byte).
pub const CONNECT: u8 = 1;
pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const PUBACK: u8 = 4;
pub const PUBREC: u8 = 5;
pub const PUBREL: u8 = 6;
pub const PUBCOMP: u8 = 7;
pub const SUBSCRIBE: u8 = 8;
pub const SUBACK: u8 = 9;
pub const UNSUBSCRIBE: u8 = 10;
pub const UNSUBACK: u8 = 11;
pub const PINGREQ: u8 = 12;
pub const PINGRESP: u8 = 13;
pub const DISCONNECT: u8 = 14;
pub const AUTH: u8 = 15;

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V311,
    V5,
}

impl Version {
    pub fn name(self) -> &'static str {
        match self {
            Version::V311 => "3.1.1",
            Version::V5 => "5",
        }
    }
}

/// A framing failure: the connection cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a packet of {0} bytes is over the {1}-byte limit")]
    TooLarge(usize, usize),
    #[error("the remaining length is malformed")]
    Malformed,
}

/// Where the first complete packet of a buffer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Fixed header plus remaining length: the whole packet.
    pub len: usize,
    /// Length of the fixed header (2 to 5 bytes).
    pub header_len: usize,
}

/// The first complete packet in `buf`: `Ok(None)` while more bytes are needed. Packets whose
/// total size would pass `max` are refused as soon as their length is known.
pub fn frame(buf: &[u8], max: usize) -> Result<Option<Frame>, FrameError> {
    match rumqttd::protocol::v4::check(buf.iter(), max.saturating_sub(5)) {
        Ok(header) => Ok(Some(Frame { len: header.frame_length(), header_len: header.fixed_header_len })),
        Err(CodecError::InsufficientBytes(_)) => Ok(None),
        Err(CodecError::PayloadSizeLimitExceeded(remaining)) => Err(FrameError::TooLarge(remaining, max)),
        Err(_) => Err(FrameError::Malformed),
    }
}

/// The packet type of a frame.
pub fn packet_type(frame: &[u8]) -> u8 {
    frame.first().map_or(0, |b| b >> 4)
}

/// What a CONNECT's variable header says about the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectProtocol {
    Supported(Version),
    /// Name and level we do not serve (e.g. `MQIsdp` 3 for MQTT 3.1).
    Unsupported(String, u8),
}

/// Reads the protocol name and level of a CONNECT frame; `None` when the frame is too short
/// or not a CONNECT.
pub fn connect_protocol(frame: &[u8], header_len: usize) -> Option<ConnectProtocol> {
    if packet_type(frame) != CONNECT {
        return None;
    }
    let body = frame.get(header_len..)?;
    let name_len = u16::from_be_bytes([*body.first()?, *body.get(1)?]) as usize;
    let name = body.get(2..2 + name_len)?;
    let level = *body.get(2 + name_len)?;
    let name = String::from_utf8_lossy(name).into_owned();
    Some(match (name.as_str(), level) {
        ("MQTT", 4) => ConnectProtocol::Supported(Version::V311),
        ("MQTT", 5) => ConnectProtocol::Supported(Version::V5),
        _ => ConnectProtocol::Unsupported(name, level),
    })
}

/// Decodes one whole frame with rumqttd's codec. Only the packet types the gate inspects are
/// decoded; asking for another is an error, as is a panic inside the codec.
pub fn decode(version: Version, frame: &[u8]) -> Result<Packet, CodecError> {
    match packet_type(frame) {
        CONNECT | PUBLISH | SUBSCRIBE | SUBACK | UNSUBSCRIBE => {}
        other => return Err(CodecError::InvalidPacketType(other)),
    }
    let mut buf = BytesMut::from(frame);
    let max = frame.len() + 1;
    let result = catch_unwind(AssertUnwindSafe(|| match version {
        Version::V311 => V4.read_mut(&mut buf, max),
        Version::V5 => V5.read_mut(&mut buf, max),
    }));
    result.unwrap_or(Err(CodecError::MalformedPacket))
}

/// Encodes a packet; 3.1.1 packets must carry no properties (rumqttd's v4 writer only knows
/// property-less packets), so they are dropped here.
pub fn encode(version: Version, packet: Packet) -> Result<Bytes, CodecError> {
    let packet = match version {
        Version::V5 => packet,
        Version::V311 => strip_properties(packet),
    };
    let mut buf = BytesMut::new();
    let result = catch_unwind(AssertUnwindSafe(|| match version {
        Version::V311 => V4.write(packet, &mut buf),
        Version::V5 => V5.write(packet, &mut buf),
    }));
    result.unwrap_or(Err(CodecError::MalformedPacket))?;
    Ok(buf.freeze())
}

fn strip_properties(packet: Packet) -> Packet {
    match packet {
        Packet::Connect(c, _, will, _, login) => Packet::Connect(c, None, will, None, login),
        Packet::ConnAck(a, _) => Packet::ConnAck(a, None),
        Packet::Publish(p, _) => Packet::Publish(p, None),
        Packet::PubAck(p, _) => Packet::PubAck(p, None),
        Packet::Subscribe(s, _) => Packet::Subscribe(s, None),
        Packet::SubAck(s, _) => Packet::SubAck(s, None),
        Packet::PubRec(p, _) => Packet::PubRec(p, None),
        Packet::PubRel(p, _) => Packet::PubRel(p, None),
        Packet::PubComp(p, _) => Packet::PubComp(p, None),
        Packet::Unsubscribe(u, _) => Packet::Unsubscribe(u, None),
        Packet::UnsubAck(u, _) => Packet::UnsubAck(u, None),
        Packet::Disconnect(d, _) => Packet::Disconnect(d, None),
        other => other,
    }
}

/// The QoS of a PUBLISH frame, from its first byte (0 for an empty frame).
pub fn publish_qos(frame: &[u8]) -> u8 {
    frame.first().map_or(0, |first| (first >> 1) & 0b11)
}

/// QoS and packet id of a PUBLISH frame (the codec keeps them private): `(qos, pkid)`, pkid 0
/// at QoS 0. `None` when the frame is cut short.
pub fn publish_qos_pkid(frame: &[u8], header_len: usize) -> Option<(u8, u16)> {
    let qos = publish_qos(frame);
    if qos == 0 {
        return Some((0, 0));
    }
    let body = frame.get(header_len..)?;
    let topic_len = u16::from_be_bytes([*body.first()?, *body.get(1)?]) as usize;
    let at = 2 + topic_len;
    Some((qos, u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?])))
}

/// The topic name of a PUBLISH frame, as its bytes (empty when a 5 topic alias stands for it).
/// `None` when the frame is cut short.
pub fn publish_topic(frame: &[u8], header_len: usize) -> Option<&[u8]> {
    let body = frame.get(header_len..)?;
    let topic_len = u16::from_be_bytes([*body.first()?, *body.get(1)?]) as usize;
    body.get(2..2 + topic_len)
}

/// A successful PUBACK, PUBREC or PUBCOMP (`kind`) for `pkid`: the same four bytes on 3.1.1
/// and 5, where a success without properties may leave its reason code out (MQTT 5, 3.4.2.1).
pub fn success_ack(kind: u8, pkid: u16) -> [u8; 4] {
    let [high, low] = pkid.to_be_bytes();
    let fixed = if kind == PUBREL { 0x62 } else { kind << 4 };
    [fixed, 0x02, high, low]
}

/// The packet id that starts the variable header (PUBREL, PUBACK, SUBACK...).
pub fn leading_pkid(frame: &[u8], header_len: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*frame.get(header_len)?, *frame.get(header_len + 1)?]))
}

/// The return (3.1.1) or reason (5) code of a CONNACK frame: the second byte of its variable
/// header in both versions. Read raw: rumqttd's v5 reader cannot decode a CONNACK.
pub fn connack_code(frame: &[u8], header_len: usize) -> Option<u8> {
    frame.get(header_len + 1).copied()
}

/// An MQTT 5 CONNACK frame with `property` (identifier and value, encoded) put first among its
/// properties; `None` when the frame is cut short.
pub fn connack_with_property(frame: &[u8], header_len: usize, property: &[u8]) -> Option<Bytes> {
    let body = frame.get(header_len..)?;
    let (flags_and_code, rest) = (body.get(..2)?, body.get(2..)?);
    let (length, used) = read_variable_int(rest)?;
    let properties = rest.get(used..used + length)?;
    let mut variable = flags_and_code.to_vec();
    write_variable_int(&mut variable, properties.len() + property.len());
    variable.extend_from_slice(property);
    variable.extend_from_slice(properties);
    let mut out = vec![*frame.first()?];
    write_variable_int(&mut out, variable.len());
    out.extend_from_slice(&variable);
    Some(Bytes::from(out))
}

/// An MQTT variable byte integer and how many bytes it took.
fn read_variable_int(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, byte) in bytes.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn write_variable_int(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value % 128) as u8;
        value /= 128;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A CONNACK refusing (or accepting) the connection.
pub fn connack(version: Version, code: ConnectReturnCode) -> Bytes {
    let packet = Packet::ConnAck(ConnAck { session_present: false, code }, None);
    encode(version, packet).unwrap_or_default()
}

/// The CONNACK for a protocol we do not serve, in the 3.1.1 form every version can read:
/// 0x20 0x02, no session, 0x01 "unacceptable protocol version".
pub fn connack_unsupported_protocol() -> Bytes {
    Bytes::from_static(&[0x20, 0x02, 0x00, 0x01])
}

/// The acknowledgement of a denied QoS 1 publish: a PUBACK, with 0x87 on 5 (3.1.1 has no
/// reason codes; the message is silently dropped, as mosquitto does).
pub fn puback_denied(version: Version, pkid: u16) -> Bytes {
    let reason = match version {
        Version::V5 => PubAckReason::NotAuthorized,
        Version::V311 => PubAckReason::Success,
    };
    encode(version, Packet::PubAck(PubAck { pkid, reason }, None)).unwrap_or_default()
}

/// The PUBREC of a denied QoS 2 publish (0x87 on 5, which ends the exchange there).
pub fn pubrec_denied(version: Version, pkid: u16) -> Bytes {
    let reason = match version {
        Version::V5 => PubRecReason::NotAuthorized,
        Version::V311 => PubRecReason::Success,
    };
    encode(version, Packet::PubRec(PubRec { pkid, reason }, None)).unwrap_or_default()
}

/// The PUBCOMP that ends a denied 3.1.1 QoS 2 exchange.
pub fn pubcomp(version: Version, pkid: u16) -> Bytes {
    encode(version, Packet::PubComp(PubComp { pkid, reason: PubCompReason::Success }, None)).unwrap_or_default()
}

/// The SUBACK code of a denied filter: 0x80 (3.1.1 "failure"), 0x87 (5 "not authorized").
pub fn denied_code(version: Version) -> SubscribeReasonCode {
    match version {
        Version::V311 => SubscribeReasonCode::Failure,
        Version::V5 => SubscribeReasonCode::NotAuthorized,
    }
}

pub fn suback(version: Version, pkid: u16, return_codes: Vec<SubscribeReasonCode>) -> Bytes {
    encode(version, Packet::SubAck(SubAck { pkid, return_codes }, None)).unwrap_or_default()
}

/// A v5 DISCONNECT telling the client why the server closes (3.1.1 has none: just close).
pub fn disconnect(version: Version, reason_code: DisconnectReasonCode) -> Option<Bytes> {
    match version {
        Version::V5 => encode(version, Packet::Disconnect(Disconnect { reason_code }, None)).ok(),
        Version::V311 => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rumqttd::protocol::{Connect, Login, QoS};

    fn connect_frame(version: Version, password: Option<&str>) -> Bytes {
        let connect = rumqttd::protocol::Connect { keep_alive: 30, client_id: "c1".into(), clean_session: true };
        let login = password.map(|p| Login { username: "apikey".into(), password: p.into() });
        encode(version, Packet::Connect(connect, None, None, None, login)).unwrap()
    }

    #[test]
    fn frames_and_versions() {
        for version in [Version::V311, Version::V5] {
            let bytes = connect_frame(version, Some("secret"));
            let f = frame(&bytes, 1024).unwrap().unwrap();
            assert_eq!(f.len, bytes.len());
            assert_eq!(connect_protocol(&bytes, f.header_len), Some(ConnectProtocol::Supported(version)));
            match decode(version, &bytes).unwrap() {
                Packet::Connect(Connect { client_id, .. }, _, _, _, Some(login)) => {
                    assert_eq!(client_id, "c1");
                    assert_eq!(login.password, "secret");
                }
                other => panic!("{other:?}"),
            }
            // One byte short: wait for more.
            assert_eq!(frame(&bytes[..bytes.len() - 1], 1024), Ok(None));
        }
    }

    #[test]
    fn mqtt_3_1_is_named_unsupported() {
        // 0x10 len, "MQIsdp", level 3
        let mut raw = vec![0x10, 0x00, 0x00, 0x06];
        raw.extend_from_slice(b"MQIsdp");
        raw.push(3);
        raw[1] = (raw.len() - 2) as u8;
        assert_eq!(connect_protocol(&raw, 2), Some(ConnectProtocol::Unsupported("MQIsdp".into(), 3)));
    }

    #[test]
    fn oversized_packets_are_refused_from_their_header() {
        // PUBLISH announcing 10 MB, only the header sent.
        let header = [0x30, 0x80, 0xad, 0xe2, 0x04];
        assert!(matches!(frame(&header, 1 << 20), Err(FrameError::TooLarge(..))));
        // Five continuation bytes: malformed.
        assert_eq!(frame(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], 1 << 30), Err(FrameError::Malformed));
    }

    #[test]
    fn publish_packet_ids_are_read_raw() {
        let publish = rumqttd::protocol::Publish::new("a/b", "x", false);
        let bytes = encode(Version::V311, Packet::Publish(publish, None)).unwrap();
        let f = frame(&bytes, 1024).unwrap().unwrap();
        assert_eq!(publish_qos_pkid(&bytes, f.header_len), Some((0, 0)));
        // QoS 1, pkid 0x0102: 0x32, len, topic "a/b", 0x01 0x02, payload
        let raw = [0x32, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x01, 0x02, b'x'];
        assert_eq!(publish_qos_pkid(&raw, 2), Some((1, 0x0102)));
        match decode(Version::V311, &raw).unwrap() {
            Packet::Publish(p, _) => assert_eq!(&p.topic[..], b"a/b"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn topics_and_success_acks_are_raw() {
        let raw = [0x32, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x01, 0x02, b'x'];
        assert_eq!(publish_topic(&raw, 2), Some(&b"a/b"[..]));
        assert_eq!(publish_topic(&raw[..5], 2), None, "cut short");
        let acks = [
            (PUBACK, Packet::PubAck(PubAck { pkid: 0x0102, reason: PubAckReason::Success }, None)),
            (PUBREC, Packet::PubRec(PubRec { pkid: 0x0102, reason: PubRecReason::Success }, None)),
            (PUBCOMP, Packet::PubComp(PubComp { pkid: 0x0102, reason: PubCompReason::Success }, None)),
        ];
        for (kind, packet) in acks {
            let raw = success_ack(kind, 0x0102);
            assert_eq!(&raw[..], &encode(Version::V311, packet.clone()).unwrap()[..]);
            // 5 reads the short form as a success too.
            let read = V5.read_mut(&mut BytesMut::from(&raw[..]), 16).unwrap();
            assert_eq!(read, packet);
        }
    }

    #[test]
    fn a_property_is_added_to_a_connack() {
        // 5 CONNACK: no session, success, properties: topic alias maximum 10.
        let connack = [0x20, 0x06, 0x00, 0x00, 0x03, 0x22, 0x00, 0x0A];
        let with = connack_with_property(&connack, 2, &[0x21, 0x00, 0x64]).unwrap();
        assert_eq!(&with[..], &[0x20, 0x09, 0x00, 0x00, 0x06, 0x21, 0x00, 0x64, 0x22, 0x00, 0x0A]);
        assert_eq!(connack_with_property(&connack[..5], 2, &[0x21, 0x00, 0x64]), None, "cut short");
        let mut long = Vec::new();
        write_variable_int(&mut long, 300);
        assert_eq!(read_variable_int(&long), Some((300, 2)));
    }

    #[test]
    fn denials_encode_per_version() {
        assert_eq!(&connack(Version::V311, ConnectReturnCode::NotAuthorized)[..], &[0x20, 0x02, 0x00, 0x05]);
        assert_eq!(&connack(Version::V311, ConnectReturnCode::BadUserNamePassword)[..], &[0x20, 0x02, 0x00, 0x04]);
        let v5 = connack(Version::V5, ConnectReturnCode::NotAuthorized);
        assert_eq!(connack_code(&v5, 2), Some(0x87));
        assert_eq!(&suback(Version::V311, 7, vec![denied_code(Version::V311)])[..], &[0x90, 0x03, 0x00, 0x07, 0x80]);
        let v5 = suback(Version::V5, 7, vec![SubscribeReasonCode::Success(QoS::AtLeastOnce), denied_code(Version::V5)]);
        assert_eq!(&v5[v5.len() - 2..], &[0x01, 0x87]);
        let ack = puback_denied(Version::V5, 9);
        assert_eq!(ack[0], 0x40);
        assert!(ack.ends_with(&[0x87]) || ack.contains(&0x87), "{ack:?}");
        assert_eq!(&puback_denied(Version::V311, 9)[..], &[0x40, 0x02, 0x00, 0x09]);
        assert!(disconnect(Version::V311, DisconnectReasonCode::PacketTooLarge).is_none());
        assert_eq!(disconnect(Version::V5, DisconnectReasonCode::PacketTooLarge).unwrap()[2], 0x95);
    }

    proptest! {
        #[test]
        fn raw_topics_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), header_len in 0usize..8) {
            let _ = publish_topic(&bytes, header_len);
            let _ = connack_with_property(&bytes, header_len, &[0x21, 0, 1]);
        }

        #[test]
        fn framing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), max in 0usize..100_000) {
            if let Ok(Some(f)) = frame(&bytes, max) {
                prop_assert!(f.len <= bytes.len());
                prop_assert!(f.header_len >= 2 && f.header_len <= 5);
                let frame_bytes = &bytes[..f.len];
                let _ = connect_protocol(frame_bytes, f.header_len);
                let _ = publish_qos_pkid(frame_bytes, f.header_len);
                let _ = leading_pkid(frame_bytes, f.header_len);
                let _ = connack_code(frame_bytes, f.header_len);
            }
        }

        #[test]
        fn decoding_any_frame_never_panics(kind in 0u8..16, flags in 0u8..16, body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut raw = vec![(kind << 4) | flags];
            let mut len = body.len();
            loop {
                let mut byte = (len % 128) as u8;
                len /= 128;
                if len > 0 { byte |= 0x80; }
                raw.push(byte);
                if len == 0 { break; }
            }
            raw.extend_from_slice(&body);
            for version in [Version::V311, Version::V5] {
                let _ = decode(version, &raw);
            }
        }

        #[test]
        fn connect_round_trips(password in "[ -~]{0,40}", v5 in any::<bool>()) {
            let version = if v5 { Version::V5 } else { Version::V311 };
            let bytes = connect_frame(version, Some(&password));
            match decode(version, &bytes) {
                Ok(Packet::Connect(_, _, _, _, Some(login))) => prop_assert_eq!(login.password, password),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
