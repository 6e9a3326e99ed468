//! One client connection through the gate.
//!
//! 1. CONNECT, within the handshake deadline: the protocol level picks the codec (3.1.1 or 5;
//!    anything else gets CONNACK 0x01 "unacceptable protocol version"); the password goes to
//!    the provider's [`Authority`]; a refusal is answered with a CONNACK carrying the refusal
//!    code, then the connection is closed; a will is authorized like a publish.
//! 2. The gate opens its own connection to the engine (3.1.1 or 5 port) and sends the CONNECT
//!    on, without the credentials (the engine does no authentication), and with keep-alive 0
//!    replaced by the largest one (rumqttd refuses 0). The engine's CONNACK goes back as is.
//! 3. Both directions, concurrently. Client to engine: PUBLISH topics (5: topic aliases
//!    resolved) and SUBSCRIBE filters are authorized; denied filters are removed from the
//!    SUBSCRIBE before it goes on and their failure codes are merged into the engine's SUBACK
//!    (or the gate answers the SUBACK itself when none is left); a denied PUBLISH is dropped
//!    and acknowledged by the gate (and, for 3.1.1 QoS 2, the PUBREL that follows is answered
//!    with PUBCOMP). Everything else is relayed untouched, as raw bytes. Engine to client:
//!    relayed untouched but for those merged SUBACKs.
//!
//! In a run's namespace ([`Space`]), what the engine routes by is renamed on the way: client
//! id, will topic, PUBLISH topics and SUBSCRIBE/UNSUBSCRIBE filters get the run's prefix going
//! in, and PUBLISH topics lose it coming out (then those packets are re-encoded, not relayed
//! as raw bytes). The default namespace relays as described above.
//!
//! A malformed or oversized packet ends that connection only (on 5 with a DISCONNECT saying
//! why: 0x81 malformed, 0x95 packet too large, 0x82 protocol error).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::Instant;

use super::codec::{
    self, ConnectProtocol, ConnectReturnCode, DisconnectReasonCode, FrameError, Packet, SubscribeReasonCode, Version,
};
use super::engine::{EngineAddrs, NO_KEEP_ALIVE};
use super::space::Space;
use super::transport::{Kind, Reader, Transport, Writer};
use super::{topics, Authority, Credentials, MqttOptions, Refusal, Session};
use crate::journal::EventKind;
use crate::state::Core;

/// The service name MQTT events are journaled under.
pub const SERVICE: &str = "mqtt";
/// How long the engine may take to connect and answer.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(5);
/// MQTT's own ceiling on a packet (the engine's packets are not ours to bound).
const MQTT_MAX_PACKET: usize = 268_435_460;
/// Why a topic the engine cannot route is refused (see [`topics::engine_safe`]).
const UNSAFE: &str = "topics starting with a non-ASCII character are not routed";
/// Topic aliases remembered per connection (rumqttd offers 4096).
const MAX_ALIASES: usize = 4096;

pub struct Gate {
    core: Arc<Core>,
    authority: Arc<dyn Authority>,
    space: Space,
    v311: SocketAddr,
    v5: SocketAddr,
    max_packet: usize,
}

/// The slots a connection holds; the pending one is released once CONNECT is through.
pub struct Held {
    _open: OwnedSemaphorePermit,
    pending: Option<OwnedSemaphorePermit>,
}

impl Held {
    /// A connection's open slot and its pending one (in its handshake, before CONNECT).
    pub fn new(open: OwnedSemaphorePermit, pending: OwnedSemaphorePermit) -> Held {
        Held { _open: open, pending: Some(pending) }
    }

    pub fn authenticated(&mut self) {
        self.pending = None;
    }
}

/// Why a connection ended, and what to tell a 5 client first.
struct End {
    reason: String,
    disconnect: Option<DisconnectReasonCode>,
}

impl End {
    fn quiet(reason: impl Into<String>) -> End {
        End { reason: reason.into(), disconnect: None }
    }

    fn telling(reason: impl Into<String>, code: DisconnectReasonCode) -> End {
        End { reason: reason.into(), disconnect: Some(code) }
    }

    fn frame(e: FrameError) -> End {
        let code = match e {
            FrameError::TooLarge(..) => DisconnectReasonCode::PacketTooLarge,
            FrameError::Malformed => DisconnectReasonCode::MalformedPacket,
        };
        End::telling(e.to_string(), code)
    }
}

/// What both directions of one connection share.
struct Conn {
    version: Version,
    transport: &'static str,
    client_id: String,
    principal: String,
    session: Arc<dyn Session>,
    writer: tokio::sync::Mutex<Writer>,
    /// SUBSCRIBE packet id → the SUBACK codes of denied filters (`None` where the engine answers).
    pending: Mutex<HashMap<u16, Vec<Option<SubscribeReasonCode>>>>,
}

enum ReadFail {
    Closed,
    Io(std::io::Error),
    Frame(FrameError),
}

impl Gate {
    pub fn new(
        core: Arc<Core>,
        authority: Arc<dyn Authority>,
        space: Space,
        engine: &EngineAddrs,
        options: &MqttOptions,
    ) -> Gate {
        Gate { core, authority, space, v311: engine.v311, v5: engine.v5, max_packet: options.max_packet_bytes }
    }

    fn record(&self, kind: EventKind) {
        self.core.journal.record(self.core.clock.now(), self.authority.provider(), SERVICE, kind);
    }

    fn disconnected(&self, transport: &str, client_id: Option<&str>, reason: &str) {
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

    fn refused(&self, transport: &str, version: Option<Version>, client_id: Option<&str>, code: u8, reason: &str) {
        tracing::info!(transport, client_id, code, "MQTT CONNECT refused: {reason}");
        self.record(EventKind::MqttRefused {
            transport: transport.to_owned(),
            protocol: version.map(|v| v.name().to_owned()),
            client_id: client_id.map(str::to_owned),
            code,
            reason: reason.to_owned(),
        });
    }

    /// Serves one connection until either side closes it or the server stops.
    pub async fn serve(
        self: Arc<Self>,
        transport: Transport,
        kind: Kind,
        deadline: Instant,
        mut held: Held,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let name = kind.name();
        let (mut reader, mut writer) = transport.split();
        let mut inbuf = BytesMut::with_capacity(4096);
        let (first, header_len) =
            match tokio::time::timeout_at(deadline, read_frame(&mut reader, &mut inbuf, self.max_packet)).await {
                Ok(Ok(frame)) => frame,
                Ok(Err(fail)) => {
                    let reason = match fail {
                        ReadFail::Closed => "closed before CONNECT".to_owned(),
                        ReadFail::Io(e) => format!("read failed before CONNECT: {e}"),
                        ReadFail::Frame(e) => format!("{e} (before CONNECT)"),
                    };
                    writer.close().await;
                    return self.disconnected(name, None, &reason);
                }
                Err(_) => {
                    writer.close().await;
                    return self.disconnected(name, None, "no CONNECT before the handshake deadline");
                }
            };
        if codec::packet_type(&first) != codec::CONNECT {
            writer.close().await;
            return self.disconnected(
                name,
                None,
                &format!("the first packet is not CONNECT (type {})", codec::packet_type(&first)),
            );
        }
        let version = match codec::connect_protocol(&first, header_len) {
            Some(ConnectProtocol::Supported(v)) => v,
            Some(ConnectProtocol::Unsupported(protocol, level)) => {
                let _ = writer.write(codec::connack_unsupported_protocol()).await;
                writer.close().await;
                let reason = format!("protocol '{protocol}' level {level} is not served (MQTT 3.1.1 and 5 are)");
                return self.refused(name, None, None, 0x01, &reason);
            }
            None => {
                writer.close().await;
                return self.disconnected(name, None, "malformed CONNECT");
            }
        };
        let Ok(Packet::Connect(mut connect, properties, will, will_properties, login)) = codec::decode(version, &first)
        else {
            writer.close().await;
            return self.disconnected(name, None, &format!("malformed MQTT {} CONNECT", version.name()));
        };
        let client_id = connect.client_id.clone();
        let credentials = Credentials {
            client_id: &client_id,
            username: login.as_ref().map(|l| l.username.as_str()),
            password: login.as_ref().map(|l| l.password.as_str()),
            transport: name,
        };
        let judged = match credentials.password {
            None => {
                Err(Refusal::BadCredentials("the CONNECT carries no password (an API key or token is required)".into()))
            }
            Some(_) => self.authority.authenticate(&credentials),
        };
        let refuse = |refusal: &Refusal| match (refusal, version) {
            (Refusal::BadCredentials(r), _) => {
                (ConnectReturnCode::BadUserNamePassword, if version == Version::V5 { 0x86 } else { 0x04 }, r.clone())
            }
            (Refusal::NotAuthorized(r), _) => {
                (ConnectReturnCode::NotAuthorized, if version == Version::V5 { 0x87 } else { 0x05 }, r.clone())
            }
        };
        let session = match judged {
            Ok(s) => s,
            Err(refusal) => {
                let (code, byte, reason) = refuse(&refusal);
                let _ = writer.write(codec::connack(version, code)).await;
                writer.close().await;
                return self.refused(name, Some(version), Some(&client_id), byte, &reason);
            }
        };
        let principal = session.principal().to_owned();
        if let Some(will) = &will {
            let topic = String::from_utf8_lossy(&will.topic).into_owned();
            let judged = if topics::engine_safe(&topic) { session.may_publish(&topic) } else { Err(UNSAFE.to_owned()) };
            if let Err(reason) = judged {
                self.record(EventKind::MqttDenied {
                    client_id: client_id.clone(),
                    principal: principal.clone(),
                    action: "will".into(),
                    topic,
                    reason: reason.clone(),
                });
                let (code, byte, _) = refuse(&Refusal::NotAuthorized(String::new()));
                let _ = writer.write(codec::connack(version, code)).await;
                writer.close().await;
                return self.refused(
                    name,
                    Some(version),
                    Some(&client_id),
                    byte,
                    &format!("will topic denied: {reason}"),
                );
            }
        }

        // The engine.
        let engine_addr = if version == Version::V5 { self.v5 } else { self.v311 };
        if connect.keep_alive == 0 {
            connect.keep_alive = NO_KEEP_ALIVE;
        }
        connect.client_id = self.space.client_id(&connect.client_id);
        let mut will = will;
        if let Some(will) = will.as_mut() {
            will.topic = Bytes::from(self.space.inward(&String::from_utf8_lossy(&will.topic)));
        }
        let forwarded = codec::encode(version, Packet::Connect(connect, properties, will, will_properties, None));
        let mut engine_buf = BytesMut::with_capacity(4096);
        let engine = async {
            let mut engine = TcpStream::connect(engine_addr).await?;
            let _ = engine.set_nodelay(true);
            engine.write_all(&forwarded.map_err(std::io::Error::other)?).await?;
            let connack = read_stream_frame(&mut engine, &mut engine_buf).await?;
            Ok::<_, std::io::Error>((engine, connack))
        };
        let (engine, (connack, connack_header)) = match tokio::time::timeout(ENGINE_TIMEOUT, engine).await {
            Ok(Ok(pair)) => pair,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_owned(),
                };
                let code = if version == Version::V5 {
                    ConnectReturnCode::ServerUnavailable
                } else {
                    ConnectReturnCode::ServiceUnavailable
                };
                let _ = writer.write(codec::connack(version, code)).await;
                writer.close().await;
                tracing::warn!("MQTT engine unavailable: {why}");
                return self.refused(
                    name,
                    Some(version),
                    Some(&client_id),
                    if version == Version::V5 { 0x88 } else { 0x03 },
                    &format!("the engine is unavailable: {why}"),
                );
            }
        };
        let engine_code = codec::connack_code(&connack, connack_header).unwrap_or(0xff);
        if writer.write(connack.freeze()).await.is_err() {
            return self.disconnected(name, Some(&client_id), "the client left before CONNACK");
        }
        if engine_code != 0 {
            writer.close().await;
            return self.refused(
                name,
                Some(version),
                Some(&client_id),
                engine_code,
                "the engine refused the CONNECT (e.g. empty client id without clean session)",
            );
        }
        held.authenticated();
        tracing::info!(transport = name, client_id = %client_id, principal = %principal, protocol = version.name(), "MQTT connected");
        self.record(EventKind::MqttConnected {
            transport: name.to_owned(),
            protocol: version.name().to_owned(),
            client_id: client_id.clone(),
            principal: principal.clone(),
        });

        let conn = Conn {
            version,
            transport: name,
            client_id,
            principal,
            session,
            writer: tokio::sync::Mutex::new(writer),
            pending: Mutex::new(HashMap::new()),
        };
        let (engine_read, engine_write) = engine.into_split();
        let end = tokio::select! {
            end = self.upstream(&conn, reader, inbuf, engine_write) => end,
            end = self.downstream(&conn, engine_read, engine_buf) => end,
            _ = super::stopped(&mut shutdown) => End::telling("the server is shutting down", DisconnectReasonCode::ServerShuttingDown),
        };
        let mut writer = conn.writer.lock().await;
        if let Some(code) = end.disconnect {
            if let Some(bytes) = codec::disconnect(conn.version, code) {
                let _ = tokio::time::timeout(Duration::from_secs(1), writer.write(bytes)).await;
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), writer.close()).await;
        self.disconnected(conn.transport, Some(&conn.client_id), &end.reason);
    }

    /// Client to engine.
    async fn upstream(&self, conn: &Conn, mut reader: Reader, mut buf: BytesMut, mut engine: OwnedWriteHalf) -> End {
        let mut aliases: HashMap<u16, String> = HashMap::new();
        let mut denied_qos2: HashSet<u16> = HashSet::new();
        loop {
            let mut out = BytesMut::new();
            let ended = loop {
                match codec::frame(&buf, self.max_packet) {
                    Ok(Some(f)) => {
                        let frame = buf.split_to(f.len);
                        match self
                            .client_packet(conn, frame, f.header_len, &mut out, &mut aliases, &mut denied_qos2)
                            .await
                        {
                            Ok(()) => {}
                            Err(end) => break Some(end),
                        }
                    }
                    Ok(None) => break None,
                    Err(e) => break Some(End::frame(e)),
                }
            };
            if !out.is_empty() && engine.write_all(&out).await.is_err() {
                return End::quiet("the engine closed the connection");
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

    /// One packet from the client: authorized, then relayed into `out`, answered, or refused.
    async fn client_packet(
        &self,
        conn: &Conn,
        frame: BytesMut,
        header_len: usize,
        out: &mut BytesMut,
        aliases: &mut HashMap<u16, String>,
        denied_qos2: &mut HashSet<u16>,
    ) -> Result<(), End> {
        let version = conn.version;
        match codec::packet_type(&frame) {
            codec::PUBLISH => {
                let Ok(Packet::Publish(publish, properties)) = codec::decode(version, &frame) else {
                    return Err(End::telling("malformed PUBLISH", DisconnectReasonCode::MalformedPacket));
                };
                let (qos, pkid) = codec::publish_qos_pkid(&frame, header_len).unwrap_or((0, 0));
                let Ok(mut topic) = String::from_utf8(publish.topic.to_vec()) else {
                    return Err(End::telling("PUBLISH topic is not UTF-8", DisconnectReasonCode::TopicNameInvalid));
                };
                if let Some(alias) = properties.as_ref().and_then(|p| p.topic_alias) {
                    if topic.is_empty() {
                        match aliases.get(&alias) {
                            Some(known) => topic = known.clone(),
                            None => {
                                return Err(End::telling(
                                    format!("unknown topic alias {alias}"),
                                    DisconnectReasonCode::TopicAliasInvalid,
                                ))
                            }
                        }
                    } else if aliases.len() < MAX_ALIASES || aliases.contains_key(&alias) {
                        aliases.insert(alias, topic.clone());
                    }
                }
                if let Some(end) = self.fault(conn, "PUBLISH", &topic) {
                    return Err(end);
                }
                let judged =
                    if topics::engine_safe(&topic) { conn.session.may_publish(&topic) } else { Err(UNSAFE.to_owned()) };
                match judged {
                    Ok(()) => {
                        let received = conn.session.received(&topic, &publish.payload);
                        self.record(EventKind::MqttPublished {
                            client_id: conn.client_id.clone(),
                            principal: conn.principal.clone(),
                            topic: topic.clone(),
                            qos,
                            bytes: publish.payload.len(),
                            stored: received.stored,
                            invalid: received.invalid,
                        });
                        if self.space.is_default() {
                            out.unsplit(frame);
                        } else {
                            let mut publish = publish;
                            publish.topic = Bytes::from(self.space.inward(&topic_of(&publish)));
                            out.extend_from_slice(&reencode(version, Packet::Publish(publish, properties), "PUBLISH")?);
                        }
                    }
                    Err(reason) => {
                        self.record(EventKind::MqttDenied {
                            client_id: conn.client_id.clone(),
                            principal: conn.principal.clone(),
                            action: "publish".into(),
                            topic,
                            reason,
                        });
                        let answer = match qos {
                            1 => Some(codec::puback_denied(version, pkid)),
                            2 => {
                                if version == Version::V311 && denied_qos2.len() < usize::from(u16::MAX) {
                                    denied_qos2.insert(pkid);
                                }
                                Some(codec::pubrec_denied(version, pkid))
                            }
                            _ => None,
                        };
                        if let Some(bytes) = answer {
                            self.to_client(conn, bytes).await?;
                        }
                    }
                }
            }
            codec::PUBREL => match codec::leading_pkid(&frame, header_len) {
                Some(pkid) if denied_qos2.remove(&pkid) => self.to_client(conn, codec::pubcomp(version, pkid)).await?,
                _ => out.unsplit(frame),
            },
            codec::SUBSCRIBE => {
                let Ok(Packet::Subscribe(mut subscribe, properties)) = codec::decode(version, &frame) else {
                    return Err(End::telling("malformed SUBSCRIBE", DisconnectReasonCode::MalformedPacket));
                };
                let mut codes = Vec::with_capacity(subscribe.filters.len());
                let mut allowed = Vec::with_capacity(subscribe.filters.len());
                for filter in subscribe.filters.drain(..) {
                    let judged = if topics::engine_safe(topics::unshared(&filter.path)) {
                        conn.session.may_subscribe(&filter.path)
                    } else {
                        Err(UNSAFE.to_owned())
                    };
                    match judged {
                        Ok(()) => {
                            self.record(EventKind::MqttSubscribed {
                                client_id: conn.client_id.clone(),
                                principal: conn.principal.clone(),
                                filter: filter.path.clone(),
                                qos: filter.qos as u8,
                            });
                            codes.push(None);
                            allowed.push(filter);
                        }
                        Err(reason) => {
                            self.record(EventKind::MqttDenied {
                                client_id: conn.client_id.clone(),
                                principal: conn.principal.clone(),
                                action: "subscribe".into(),
                                topic: filter.path.clone(),
                                reason,
                            });
                            codes.push(Some(codec::denied_code(version)));
                        }
                    }
                }
                if allowed.is_empty() {
                    let codes = codes.into_iter().flatten().collect();
                    self.to_client(conn, codec::suback(version, subscribe.pkid, codes)).await?;
                } else if codes.iter().all(Option::is_none) && self.space.is_default() {
                    out.unsplit(frame);
                } else {
                    if codes.iter().any(Option::is_some) {
                        conn.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(subscribe.pkid, codes);
                    }
                    for filter in &mut allowed {
                        filter.path = self.space.inward(&filter.path);
                    }
                    subscribe.filters = allowed;
                    out.extend_from_slice(&reencode(version, Packet::Subscribe(subscribe, properties), "SUBSCRIBE")?);
                }
            }
            codec::UNSUBSCRIBE if !self.space.is_default() => {
                let Ok(Packet::Unsubscribe(mut unsubscribe, properties)) = codec::decode(version, &frame) else {
                    return Err(End::telling("malformed UNSUBSCRIBE", DisconnectReasonCode::MalformedPacket));
                };
                unsubscribe.filters = unsubscribe.filters.iter().map(|f| self.space.inward(f)).collect();
                out.extend_from_slice(&reencode(version, Packet::Unsubscribe(unsubscribe, properties), "UNSUBSCRIBE")?);
            }
            codec::CONNECT => return Err(End::telling("a second CONNECT", DisconnectReasonCode::ProtocolError)),
            codec::AUTH => {
                return Err(End::telling(
                    "AUTH (enhanced authentication) is not supported",
                    DisconnectReasonCode::ProtocolError,
                ))
            }
            codec::CONNACK | codec::SUBACK | 11 | 13 => {
                return Err(End::telling(
                    format!("a client may not send packet type {}", codec::packet_type(&frame)),
                    DisconnectReasonCode::ProtocolError,
                ))
            }
            0 => return Err(End::telling("packet type 0 is reserved", DisconnectReasonCode::MalformedPacket)),
            _ => out.unsplit(frame),
        }
        Ok(())
    }

    /// A fault rule with `service = "mqtt"` matching this packet (`method` PUBLISH, route `/` +
    /// topic): its clock step is taken, and `drop_connection` closes the connection at once
    /// without relaying the packet, as a broker dropping its client does. Other actions (status,
    /// delay, truncation) mean nothing to MQTT and are ignored.
    fn fault(&self, conn: &Conn, method: &str, topic: &str) -> Option<End> {
        let fault = self.core.faults.take_mqtt(self.authority.provider(), method, topic)?;
        self.record(EventKind::FaultApplied {
            rule_id: fault.rule_id.clone(),
            method: method.to_owned(),
            path: topic.to_owned(),
            action: fault.action.describe(),
        });
        if let Some(seconds) = fault.action.advance_clock_seconds {
            if let Err(e) = self.core.clock.advance(chrono::Duration::seconds(seconds)) {
                tracing::warn!(rule = %fault.rule_id, "clock step not taken: {e}");
            }
        }
        tracing::debug!(client_id = %conn.client_id, rule = %fault.rule_id, "MQTT fault on {method} {topic}");
        fault
            .action
            .drop_connection
            .then(|| End::quiet(format!("dropped by fault rule {} (on {method} {topic})", fault.rule_id)))
    }

    async fn to_client(&self, conn: &Conn, bytes: Bytes) -> Result<(), End> {
        conn.writer
            .lock()
            .await
            .write(bytes)
            .await
            .map_err(|e| End::quiet(format!("the client connection failed: {e}")))
    }

    /// Engine to client: relayed as is, but for SUBACKs that need the gate's denials merged in.
    async fn downstream(&self, conn: &Conn, mut engine: OwnedReadHalf, mut buf: BytesMut) -> End {
        loop {
            let mut out = BytesMut::new();
            loop {
                match codec::frame(&buf, MQTT_MAX_PACKET) {
                    Ok(Some(f)) => {
                        let frame = buf.split_to(f.len);
                        if codec::packet_type(&frame) == codec::PUBLISH && !self.space.is_default() {
                            if let Some(bytes) = self.delivered(conn.version, &frame) {
                                out.extend_from_slice(&bytes);
                            }
                            continue;
                        }
                        if codec::packet_type(&frame) == codec::SUBACK {
                            let template = codec::leading_pkid(&frame, f.header_len)
                                .and_then(|pkid| conn.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&pkid));
                            if let Some(template) = template {
                                out.extend_from_slice(&merge_suback(conn.version, &frame, template));
                                continue;
                            }
                        }
                        out.unsplit(frame);
                    }
                    Ok(None) => break,
                    Err(e) => return End::quiet(format!("the engine sent a bad packet: {e}")),
                }
            }
            if !out.is_empty() {
                if let Err(e) = conn.writer.lock().await.write(out.freeze()).await {
                    return End::quiet(format!("the client connection failed: {e}"));
                }
            }
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(8192);
            }
            match engine.read_buf(&mut buf).await {
                Ok(0) => {
                    return End::quiet(
                        "the engine closed the connection (DISCONNECT, keep-alive or session taken over)",
                    )
                }
                Ok(_) => {}
                Err(e) => return End::quiet(format!("the engine connection failed: {e}")),
            }
        }
    }
}

impl Gate {
    /// An engine PUBLISH for a run's client, its topic without the run's prefix; `None` (not
    /// delivered) when it is not of the run's space or does not decode.
    fn delivered(&self, version: Version, frame: &[u8]) -> Option<Bytes> {
        let Ok(Packet::Publish(mut publish, properties)) = codec::decode(version, frame) else {
            tracing::debug!("an engine PUBLISH did not decode; not delivered");
            return None;
        };
        let topic = topic_of(&publish);
        let Some(outward) = self.space.outward(&topic) else {
            tracing::debug!(%topic, "an engine PUBLISH outside the run's space; not delivered");
            return None;
        };
        publish.topic = Bytes::from(outward.to_owned());
        codec::encode(version, Packet::Publish(publish, properties)).ok()
    }
}

fn topic_of(publish: &codec::Publish) -> String {
    String::from_utf8_lossy(&publish.topic).into_owned()
}

/// A packet the gate rewrote, encoded again.
fn reencode(version: Version, packet: Packet, what: &str) -> Result<Bytes, End> {
    codec::encode(version, packet).map_err(|e| {
        End::telling(format!("{what} could not be re-encoded: {e}"), DisconnectReasonCode::MalformedPacket)
    })
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

/// Reads until `buf` holds a whole packet and returns it with its fixed-header length.
async fn read_frame(reader: &mut Reader, buf: &mut BytesMut, max: usize) -> Result<(BytesMut, usize), ReadFail> {
    loop {
        match codec::frame(buf, max) {
            Ok(Some(f)) => return Ok((buf.split_to(f.len), f.header_len)),
            Ok(None) => {}
            Err(e) => return Err(ReadFail::Frame(e)),
        }
        match reader.read(buf).await {
            Ok(0) => return Err(ReadFail::Closed),
            Ok(_) => {}
            Err(e) => return Err(ReadFail::Io(e)),
        }
    }
}

async fn read_stream_frame(stream: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<(BytesMut, usize)> {
    loop {
        match codec::frame(buf, MQTT_MAX_PACKET) {
            Ok(Some(f)) => return Ok((buf.split_to(f.len), f.header_len)),
            Ok(None) => {}
            Err(e) => return Err(std::io::Error::other(e)),
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the engine closed the connection"));
        }
    }
}
