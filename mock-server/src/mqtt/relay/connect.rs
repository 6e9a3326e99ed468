//! CONNECT, the first packet a client sends, read within the handshake deadline.
//!
//! Its variable header names the protocol and its level, which pick the codec (3.1.1 or 5);
//! anything else gets CONNACK 0x01 "unacceptable protocol version", in the 3.1.1 form every
//! version can read. The password goes to the provider's [`Authority`]; a refusal is answered
//! with a CONNACK carrying the refusal code (3.1.1: 0x04 bad user name or password, 0x05 not
//! authorized; 5: 0x86, 0x87), then the connection is closed, where rumqttd alone would just
//! drop the socket. A will is authorized like a publish: a denied one refuses the CONNECT as
//! not authorized.
//!
//! A connection that ends before it is relayed ([`Rejected`]) is journaled once: as refused,
//! with the code the client read, or as disconnected when it got no answer.
//!
//! [`Authority`]: crate::mqtt::Authority

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rumqttd::protocol::{Connect, ConnectProperties, LastWill, LastWillProperties, Login};
use tokio::time::Instant;

use super::authorize;
use super::frames::{read_frame, ReadFail};
use super::gate::Gate;
use crate::contract::{Credentials, Refusal, Session};
use crate::journal::EventKind;
use crate::mqtt::codec::{self, ConnectProtocol, ConnectReturnCode, Packet, Version};
use crate::mqtt::transport::{Reader, Writer};

/// Who a connection is, once its CONNECT is accepted.
pub(super) struct Client {
    pub(super) version: Version,
    /// As the client sent it (the engine knows it with a run's prefix).
    pub(super) client_id: String,
    pub(super) principal: String,
    pub(super) session: Arc<dyn Session>,
    /// The largest packet the client accepts (its MQTT 5 Maximum Packet Size), if it set one.
    pub(super) max_packet: Option<usize>,
    /// Its MQTT 5 Receive Maximum, if it set one.
    pub(super) receive_maximum: Option<u16>,
}

/// The CONNECT as it goes on to the engine: its login stays here.
pub(super) struct Hello {
    pub(super) connect: Connect,
    pub(super) properties: Option<ConnectProperties>,
    pub(super) will: Option<LastWill>,
    pub(super) will_properties: Option<LastWillProperties>,
}

/// Why a connection ends before it is relayed.
pub(super) enum Rejected {
    /// Closed without an answer; journaled as a disconnection.
    Dropped(String),
    /// Answered with `connack` (`None`: the engine's, already sent), then closed; journaled as
    /// a refusal with `code`, the byte the client read.
    Refused { connack: Option<Bytes>, version: Option<Version>, client_id: Option<String>, code: u8, reason: String },
    /// The client went away before its CONNACK.
    Left { client_id: String },
}

impl Rejected {
    /// Tells the client, closes the connection and journals why.
    pub(super) async fn close(self, gate: &Gate, transport: &str, writer: &mut Writer) {
        match self {
            Rejected::Dropped(reason) => {
                writer.close().await;
                gate.disconnected(transport, None, &reason);
            }
            Rejected::Refused { connack, version, client_id, code, reason } => {
                // Journaled first: a client that reads the CONNACK may look at the journal at once.
                gate.refused(transport, version, client_id.as_deref(), code, &reason);
                if let Some(connack) = connack {
                    let _ = writer.write(connack).await;
                }
                writer.close().await;
            }
            Rejected::Left { client_id } => {
                gate.disconnected(transport, Some(&client_id), "the client left before CONNACK")
            }
        }
    }
}

/// Reads the CONNECT and judges it: who the client is, and what goes on to the engine.
pub(super) async fn accept(
    gate: &Gate,
    transport: &'static str,
    reader: &mut Reader,
    buf: &mut BytesMut,
    deadline: Instant,
) -> Result<(Client, Hello), Rejected> {
    let (first, header_len) = first_packet(gate, reader, buf, deadline).await?;
    let version = protocol(&first, header_len)?;
    let Ok(Packet::Connect(connect, properties, will, will_properties, login)) = codec::decode(version, &first) else {
        return Err(Rejected::Dropped(format!("malformed MQTT {} CONNECT", version.name())));
    };
    let client_id = connect.client_id.clone();
    if gate.space.is_foreign_client_id(&client_id) {
        return Err(Rejected::Refused {
            connack: Some(codec::connack(version, ConnectReturnCode::ClientIdentifierNotValid)),
            version: Some(version),
            client_id: Some(client_id),
            code: if version == Version::V5 { 0x85 } else { 0x02 },
            reason: "a client id of a run's form (`__run:`) is not taken in the default namespace".to_owned(),
        });
    }
    let session = authenticate(gate, transport, version, &client_id, login.as_ref())?;
    let max_packet = properties.as_ref().and_then(|p| p.max_packet_size).map(|max| max as usize);
    let receive_maximum = properties.as_ref().and_then(|p| p.receive_maximum);
    let principal = session.principal().to_owned();
    let client = Client { version, client_id, principal, session, max_packet, receive_maximum };
    if let Some(will) = &will {
        judge_will(gate, &client, will)?;
    }
    Ok((client, Hello { connect, properties, will, will_properties }))
}

/// The first packet, which must be a whole CONNECT before the deadline.
async fn first_packet(
    gate: &Gate,
    reader: &mut Reader,
    buf: &mut BytesMut,
    deadline: Instant,
) -> Result<(BytesMut, usize), Rejected> {
    let (first, header_len) = match tokio::time::timeout_at(deadline, read_frame(reader, buf, gate.max_packet)).await {
        Ok(Ok(frame)) => frame,
        Ok(Err(fail)) => {
            return Err(Rejected::Dropped(match fail {
                ReadFail::Closed => "closed before CONNECT".to_owned(),
                ReadFail::Io(e) => format!("read failed before CONNECT: {e}"),
                ReadFail::Frame(e) => format!("{e} (before CONNECT)"),
            }))
        }
        Err(_) => return Err(Rejected::Dropped("no CONNECT before the handshake deadline".to_owned())),
    };
    if codec::packet_type(&first) != codec::CONNECT {
        let reason = format!("the first packet is not CONNECT (type {})", codec::packet_type(&first));
        return Err(Rejected::Dropped(reason));
    }
    Ok((first, header_len))
}

/// The protocol version a CONNECT names, when it is one the gate serves.
fn protocol(first: &[u8], header_len: usize) -> Result<Version, Rejected> {
    match codec::connect_protocol(first, header_len) {
        Some(ConnectProtocol::Supported(v)) => Ok(v),
        Some(ConnectProtocol::Unsupported(protocol, level)) => Err(Rejected::Refused {
            connack: Some(codec::connack_unsupported_protocol()),
            version: None,
            client_id: None,
            code: 0x01,
            reason: format!("protocol '{protocol}' level {level} is not served (MQTT 3.1.1 and 5 are)"),
        }),
        None => Err(Rejected::Dropped("malformed CONNECT".to_owned())),
    }
}

/// The authority's judgement of the credentials; a CONNECT without a password is refused
/// without asking.
fn authenticate(
    gate: &Gate,
    transport: &'static str,
    version: Version,
    client_id: &str,
    login: Option<&Login>,
) -> Result<Arc<dyn Session>, Rejected> {
    let credentials = Credentials {
        client_id,
        username: login.map(|l| l.username.as_str()),
        password: login.map(|l| l.password.as_str()),
        transport,
    };
    let judged = match credentials.password {
        None => {
            Err(Refusal::BadCredentials("the CONNECT carries no password (an API key or token is required)".into()))
        }
        Some(_) => gate.authority.authenticate(&credentials),
    };
    judged.map_err(|refusal| refusing(version, client_id, refusal))
}

/// A will is judged as a publish to its topic; denied, it is journaled and refuses the CONNECT.
fn judge_will(gate: &Gate, client: &Client, will: &LastWill) -> Result<(), Rejected> {
    let topic = String::from_utf8_lossy(&will.topic).into_owned();
    let Err(reason) = authorize::may_publish(&*client.session, &topic) else {
        return Ok(());
    };
    gate.record(EventKind::MqttDenied {
        client_id: client.client_id.clone(),
        principal: client.principal.clone(),
        action: "will".into(),
        topic,
        reason: reason.clone(),
    });
    let refusal = Refusal::NotAuthorized(format!("will topic denied: {reason}"));
    Err(refusing(client.version, &client.client_id, refusal))
}

/// The CONNACK that refuses, and the code journaled: 3.1.1 0x04 or 0x05, 5 0x86 or 0x87.
fn refusing(version: Version, client_id: &str, refusal: Refusal) -> Rejected {
    let v5 = version == Version::V5;
    let (code, byte, reason) = match refusal {
        Refusal::BadCredentials(r) => (ConnectReturnCode::BadUserNamePassword, if v5 { 0x86 } else { 0x04 }, r),
        Refusal::NotAuthorized(r) => (ConnectReturnCode::NotAuthorized, if v5 { 0x87 } else { 0x05 }, r),
    };
    Rejected::Refused {
        connack: Some(codec::connack(version, code)),
        version: Some(version),
        client_id: Some(client_id.to_owned()),
        code: byte,
        reason,
    }
}
