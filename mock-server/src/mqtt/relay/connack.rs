//! The engine's side of CONNECT, and its CONNACK.
//!
//! The gate opens its own connection to the engine (to its 3.1.1 or 5 server, in process) and sends the CONNECT
//! on, without the credentials (the engine does no authentication), and with keep-alive 0
//! replaced by the largest one (rumqttd refuses 0); in a run, the client id and the will topic
//! get the run's prefix; a clean session's client id is one of the engine's pool
//! ([`EngineIds`](crate::mqtt::engine_ids)). The engine's CONNACK goes back to the client as is. An engine that
//! cannot be reached in time refuses the client as the server being unavailable (0x03; 0x88
//! on 5); a CONNACK in which the engine refuses is journaled with the engine's code. Once
//! through, the connection gives back its pending slot and is journaled as connected.

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::io::DuplexStream;

use super::connect::{Client, Hello, Rejected};
use super::flow::SERVER_RECEIVE_MAXIMUM;
use super::frames::read_stream_frame;
use super::gate::Gate;
use super::held::Held;
use crate::journal::EventKind;
use crate::mqtt::codec::{self, CodecError, ConnectReturnCode, Packet, Version};
use crate::mqtt::engine::NO_KEEP_ALIVE;
use crate::mqtt::engine_ids::SessionUse;
use crate::mqtt::transport::Writer;
use rumqttd::protocol::ConnectProperties;

/// How long the engine may take to connect and answer.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends the CONNECT on to the engine and the engine's CONNACK back to the client. Returns the
/// engine connection and what the engine sent after its CONNACK.
pub(super) async fn pass_on(
    gate: &Gate,
    transport: &'static str,
    client: &Client,
    hello: Hello,
    writer: &mut Writer,
    held: &mut Held,
) -> Result<(DuplexStream, BytesMut), Rejected> {
    let version = client.version;
    let forwarded = forwarded(gate, version, hello, held);
    let mut buf = BytesMut::new();
    let (engine, (connack, header_len)) =
        match tokio::time::timeout(ENGINE_TIMEOUT, open(gate, version, forwarded, &mut buf)).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(unavailable(client, e.to_string())),
            Err(_) => return Err(unavailable(client, "timed out".to_owned())),
        };
    let code = codec::connack_code(&connack, header_len).unwrap_or(0xff);
    let connack = match version {
        // The limits the gate holds a 5 client to: its Receive Maximum (relay/flow.rs) and
        // the largest packet it takes (MQTT 5 §3.2.2.3.6).
        Version::V5 if code == 0 => {
            let [high, low] = SERVER_RECEIVE_MAXIMUM.to_be_bytes();
            let mut limits = vec![0x21, high, low, 0x27];
            limits.extend_from_slice(&u32::try_from(gate.max_packet).unwrap_or(u32::MAX).to_be_bytes());
            codec::connack_with_property(&connack, header_len, &limits).unwrap_or_else(|| connack.freeze())
        }
        _ => connack.freeze(),
    };
    if writer.write(connack).await.is_err() {
        return Err(Rejected::Left { client_id: client.client_id.clone() });
    }
    if code != 0 {
        return Err(Rejected::Refused {
            connack: None,
            version: Some(version),
            client_id: Some(client.client_id.clone()),
            code,
            reason: "the engine refused the CONNECT (e.g. empty client id without clean session)".to_owned(),
        });
    }
    held.authenticated();
    connected(gate, transport, client);
    Ok((engine, buf))
}

/// The CONNECT as the engine gets it: without the client's credentials, with a keep-alive it
/// accepts, the space's names, and no Topic Alias Maximum: rumqttd gives one alias to every
/// topic a filter matches (the client would read each message after the first under the first
/// one's topic), and the gate judges each delivery by its topic name.
fn forwarded(gate: &Gate, version: Version, hello: Hello, held: &mut Held) -> Result<Bytes, CodecError> {
    let Hello { mut connect, mut properties, mut will, will_properties } = hello;
    if let Some(properties) = properties.as_mut() {
        properties.topic_alias_max = None;
    }
    let kept = match version {
        Version::V311 => !connect.clean_session,
        Version::V5 => {
            // Always stated, so the engine applies 5's rule: kept while the interval is above 0.
            let properties = properties.get_or_insert_with(no_connect_properties);
            let expiry = properties.session_expiry_interval.unwrap_or(0);
            properties.session_expiry_interval = Some(expiry);
            expiry > 0
        }
    };
    if connect.keep_alive == 0 {
        connect.keep_alive = NO_KEEP_ALIVE;
    }
    // An empty id on 5 stays empty: the engine assigns one and tells the client in its CONNACK.
    let clean_start = connect.clean_session && !(connect.client_id.is_empty() && version == Version::V5);
    let session = SessionUse { clean_start, kept };
    let lease = gate.engine_ids.lease(&gate.space.client_id(&connect.client_id), session);
    connect.client_id = held.engine_id(lease).to_owned();
    if let Some(will) = will.as_mut() {
        will.topic = Bytes::from(gate.space.inward(&String::from_utf8_lossy(&will.topic)));
    }
    codec::encode(version, Packet::Connect(connect, properties, will, will_properties, None))
}

/// Tries at opening the engine connection of a client id that reconnects at once: rumqttd
/// reuses a connection's slot as soon as it is freed, and the end of the previous connection
/// under the same id, still on its way through the router, can close the new one before its
/// CONNACK. The engine is asked again then.
const ENGINE_TRIES: usize = 3;

/// Connects to the engine, sends it the CONNECT and reads its CONNACK.
async fn open(
    gate: &Gate,
    version: Version,
    forwarded: Result<Bytes, CodecError>,
    buf: &mut BytesMut,
) -> io::Result<(DuplexStream, (BytesMut, usize))> {
    let forwarded = forwarded.map_err(io::Error::other)?;
    let mut tries = 1;
    loop {
        let mut engine = gate.engine.connect(version);
        engine.write_all(&forwarded).await?;
        match read_stream_frame(&mut engine, buf).await {
            Ok(connack) => return Ok((engine, connack)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && tries < ENGINE_TRIES => {
                tracing::debug!("the engine closed a new connection before its CONNACK; asking again");
                tries += 1;
                buf.clear();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The client's CONNACK when the engine cannot be reached: server unavailable.
fn unavailable(client: &Client, why: String) -> Rejected {
    tracing::warn!("MQTT engine unavailable: {why}");
    let v5 = client.version == Version::V5;
    let code = if v5 { ConnectReturnCode::ServerUnavailable } else { ConnectReturnCode::ServiceUnavailable };
    Rejected::Refused {
        connack: Some(codec::connack(client.version, code)),
        version: Some(client.version),
        client_id: Some(client.client_id.clone()),
        code: if v5 { 0x88 } else { 0x03 },
        reason: format!("the engine is unavailable: {why}"),
    }
}

fn connected(gate: &Gate, transport: &'static str, client: &Client) {
    let Client { version, client_id, principal, .. } = client;
    tracing::info!(transport, client_id = %client_id, principal = %principal, protocol = version.name(), "MQTT connected");
    gate.record(EventKind::MqttConnected {
        transport: transport.to_owned(),
        protocol: version.name().to_owned(),
        client_id: client_id.clone(),
        principal: principal.clone(),
    });
}

/// A 5 CONNECT's properties when it sent none.
fn no_connect_properties() -> ConnectProperties {
    ConnectProperties {
        session_expiry_interval: None,
        receive_maximum: None,
        max_packet_size: None,
        topic_alias_max: None,
        request_response_info: None,
        request_problem_info: None,
        user_properties: Vec::new(),
        authentication_method: None,
        authentication_data: None,
    }
}
