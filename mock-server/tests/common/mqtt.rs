//! A small MQTT client for the integration tests and the benchmark, over plain TCP, TLS (trusting
//! only a given CA) or WebSocket (subprotocol `mqtt`). It speaks through rumqttd's codec (as the
//! gate does) and reads the small packets the gate answers (CONNACK, SUBACK, PUBACK, PUBREC)
//! byte by byte, so tests can assert exact return and reason codes.
//!
//! Included with `#[path = "common/mqtt.rs"]` where needed.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use mock_server::mqtt::codec::{self, Version};
use rumqttd::protocol::{
    Connect, ConnectProperties, Filter, LastWill, Login, Packet, PubRel, PubRelReason, Publish, QoS, RetainForwardRule,
    Subscribe,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

enum Stream {
    Plain(Box<dyn Io>),
    Ws(Box<WebSocketStream<TcpStream>>),
}

pub struct Client {
    stream: Stream,
    buf: BytesMut,
    pub version: Version,
    next_pkid: u16,
    /// Frames read while waiting for something else.
    stash: VecDeque<Bytes>,
}

/// `host:port` of an `mqtt://`, `mqtts://` or `ws://` URL.
pub fn authority(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

pub fn tls_connector(ca_pem: &str) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let config = rustls::ClientConfig::builder_with_provider(mock_server::tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

impl Client {
    fn new(stream: Stream, version: Version) -> Client {
        Client { stream, buf: BytesMut::with_capacity(8192), version, next_pkid: 0, stash: VecDeque::new() }
    }

    pub async fn tcp(url: &str, version: Version) -> io::Result<Client> {
        let s = TcpStream::connect(authority(url)).await?;
        s.set_nodelay(true)?;
        Ok(Client::new(Stream::Plain(Box::new(s)), version))
    }

    pub async fn tls(url: &str, ca_pem: &str, version: Version) -> io::Result<Client> {
        Client::tls_as(url, "127.0.0.1", ca_pem, version).await
    }

    /// Over TLS to the address in `url`, checking the server certificate for `server_name`
    /// (also sent as SNI): how a client reaches the server by another name.
    pub async fn tls_as(url: &str, server_name: &str, ca_pem: &str, version: Version) -> io::Result<Client> {
        let s = TcpStream::connect(authority(url)).await?;
        s.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::try_from(server_name).map_err(io::Error::other)?.to_owned();
        let tls = tls_connector(ca_pem).connect(name, s).await?;
        Ok(Client::new(Stream::Plain(Box::new(tls)), version))
    }

    pub async fn ws(url: &str, version: Version) -> io::Result<Client> {
        let s = TcpStream::connect(authority(url)).await?;
        s.set_nodelay(true)?;
        let mut request = url.into_client_request().map_err(io::Error::other)?;
        request.headers_mut().insert("sec-websocket-protocol", "mqtt".parse().unwrap());
        let (ws, response) = tokio_tungstenite::client_async(request, s).await.map_err(io::Error::other)?;
        assert_eq!(response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()), Some("mqtt"));
        Ok(Client::new(Stream::Ws(Box::new(ws)), version))
    }

    pub fn next_pkid(&mut self) -> u16 {
        self.next_pkid = self.next_pkid % 65535 + 1;
        self.next_pkid
    }

    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.stream {
            Stream::Plain(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Stream::Ws(ws) => ws.send(Message::Binary(Bytes::copy_from_slice(bytes))).await.map_err(io::Error::other),
        }
    }

    async fn fill(&mut self) -> io::Result<usize> {
        match &mut self.stream {
            Stream::Plain(s) => {
                self.buf.reserve(8192);
                s.read_buf(&mut self.buf).await
            }
            Stream::Ws(ws) => loop {
                match ws.next().await {
                    None | Some(Ok(Message::Close(_))) => return Ok(0),
                    Some(Ok(Message::Binary(b))) => {
                        self.buf.extend_from_slice(&b);
                        return Ok(b.len());
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(io::Error::other(e)),
                }
            },
        }
    }

    /// The next packet from the server: `Ok(None)` when nothing came within `wait`; an error
    /// of kind `UnexpectedEof` when the server closed the connection.
    pub async fn read_frame(&mut self, wait: Duration) -> io::Result<Option<Bytes>> {
        if let Some(f) = self.stash.pop_front() {
            return Ok(Some(f));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(f) = codec::frame(&self.buf, 300 << 20).map_err(io::Error::other)? {
                return Ok(Some(self.buf.split_to(f.len).freeze()));
            }
            match tokio::time::timeout_at(deadline, self.fill()).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"))
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
            }
        }
    }

    /// Reads until a packet of `kind` arrives (others are kept for later).
    pub async fn expect(&mut self, kind: u8, wait: Duration) -> io::Result<Bytes> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut kept = Vec::new();
        let result = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read_frame(left).await {
                Ok(Some(f)) if codec::packet_type(&f) == kind => break Ok(f),
                Ok(Some(f)) => kept.push(f),
                Ok(None) => {
                    break Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no packet of type {kind} within {wait:?}"),
                    ))
                }
                Err(e) => break Err(e),
            }
        };
        for f in kept.into_iter().rev() {
            self.stash.push_front(f);
        }
        result
    }

    /// Sends CONNECT and returns the CONNACK code (0 accepted).
    pub async fn connect(&mut self, client_id: &str, password: Option<&str>) -> io::Result<u8> {
        self.connect_with(client_id, password, None, 30).await
    }

    pub async fn connect_with(
        &mut self,
        client_id: &str,
        password: Option<&str>,
        will: Option<(&str, &str)>,
        keep_alive: u16,
    ) -> io::Result<u8> {
        let connect = Connect { keep_alive, client_id: client_id.into(), clean_session: true };
        let login = password.map(|p| Login { username: "apikey".into(), password: p.into() });
        let will = will.map(|(topic, message)| LastWill {
            topic: Bytes::from(topic.to_owned()),
            message: Bytes::from(message.to_owned()),
            qos: QoS::AtMostOnce,
            retain: false,
        });
        let properties = (self.version == Version::V5).then(|| ConnectProperties {
            session_expiry_interval: None,
            receive_maximum: None,
            max_packet_size: None,
            topic_alias_max: None,
            request_response_info: None,
            request_problem_info: None,
            user_properties: vec![],
            authentication_method: None,
            authentication_data: None,
        });
        let bytes = codec::encode(self.version, Packet::Connect(connect, properties, will, None, login))
            .map_err(io::Error::other)?;
        self.write(&bytes).await?;
        let frame = self.expect(codec::CONNACK, Duration::from_secs(10)).await?;
        let header = codec::frame(&frame, 1 << 20).unwrap().unwrap().header_len;
        Ok(codec::connack_code(&frame, header).unwrap_or(0xff))
    }

    /// SUBSCRIBE and the SUBACK's codes, one per filter.
    pub async fn subscribe(&mut self, filters: &[&str], qos: u8) -> io::Result<Vec<u8>> {
        let pkid = self.next_pkid();
        let filters = filters
            .iter()
            .map(|f| Filter {
                path: (*f).to_owned(),
                qos: rumqttd::protocol::qos(qos).unwrap(),
                nolocal: false,
                preserve_retain: false,
                retain_forward_rule: RetainForwardRule::Never,
            })
            .collect();
        let props = None;
        let bytes = codec::encode(self.version, Packet::Subscribe(Subscribe { pkid, filters }, props))
            .map_err(io::Error::other)?;
        self.write(&bytes).await?;
        let frame = self.expect(codec::SUBACK, Duration::from_secs(10)).await?;
        Ok(suback_codes(&frame, self.version))
    }

    /// The bytes of a PUBLISH.
    pub fn publish_bytes(&mut self, topic: &str, payload: &[u8], qos: u8) -> Bytes {
        let pkid = if qos > 0 { self.next_pkid() } else { 0 };
        publish_frame(self.version, topic, payload, qos, pkid)
    }

    /// PUBLISH; at QoS 1 returns the PUBACK reason (0 on 3.1.1), at QoS 2 the PUBREC reason
    /// (and completes the exchange).
    pub async fn publish(&mut self, topic: &str, payload: &[u8], qos: u8) -> io::Result<Option<u8>> {
        let bytes = self.publish_bytes(topic, payload, qos);
        self.write(&bytes).await?;
        match qos {
            0 => Ok(None),
            1 => {
                let ack = self.expect(4, Duration::from_secs(10)).await?;
                Ok(Some(ack_reason(&ack)))
            }
            _ => {
                let rec = self.expect(5, Duration::from_secs(10)).await?;
                let reason = ack_reason(&rec);
                if reason < 0x80 {
                    let pkid = u16::from_be_bytes([rec[2], rec[3]]);
                    let rel = codec::encode(
                        self.version,
                        Packet::PubRel(PubRel { pkid, reason: PubRelReason::Success }, None),
                    )
                    .map_err(io::Error::other)?;
                    self.write(&rel).await?;
                    self.expect(7, Duration::from_secs(10)).await?;
                }
                Ok(Some(reason))
            }
        }
    }

    /// The next PUBLISH received within `wait`: `(topic, payload)`. Acknowledges QoS 1.
    pub async fn next_publish(&mut self, wait: Duration) -> io::Result<Option<(String, Bytes)>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(frame) = self.read_frame(left).await? else { return Ok(None) };
            if codec::packet_type(&frame) != codec::PUBLISH {
                continue;
            }
            let Ok(Packet::Publish(p, _)) = codec::decode(self.version, &frame) else { continue };
            let header = codec::frame(&frame, usize::MAX >> 1).unwrap().unwrap().header_len;
            if let Some((1, pkid)) = codec::publish_qos_pkid(&frame, header) {
                let ack = codec::encode(
                    self.version,
                    Packet::PubAck(
                        rumqttd::protocol::PubAck { pkid, reason: rumqttd::protocol::PubAckReason::Success },
                        None,
                    ),
                )
                .unwrap();
                self.write(&ack).await?;
            }
            return Ok(Some((String::from_utf8_lossy(&p.topic).into_owned(), p.payload)));
        }
    }

    /// Counts PUBLISH packets until `target` arrived or none came for `idle`, acknowledging
    /// QoS 1 ones in batches (for load: no decoding beyond the fixed header).
    pub async fn drain(&mut self, target: usize, idle: Duration) -> io::Result<(usize, std::time::Instant)> {
        let mut count = 0;
        let mut last = std::time::Instant::now();
        let mut acks = BytesMut::new();
        while count < target {
            let Some(frame) = self.read_frame(idle).await? else { break };
            if codec::packet_type(&frame) != codec::PUBLISH {
                continue;
            }
            count += 1;
            last = std::time::Instant::now();
            let header = codec::frame(&frame, usize::MAX >> 1).unwrap().unwrap().header_len;
            if let Some((1, pkid)) = codec::publish_qos_pkid(&frame, header) {
                acks.extend_from_slice(&[0x40, 0x02]);
                acks.extend_from_slice(&pkid.to_be_bytes());
            }
            if !acks.is_empty() && (self.buf.is_empty() || acks.len() >= 4096) {
                self.write(&acks.split()).await?;
            }
        }
        if !acks.is_empty() {
            self.write(&acks).await?;
        }
        Ok((count, last))
    }

    /// Waits for the server to close the connection; `true` if it did within `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read_frame(left).await {
                Err(_) => return true,
                Ok(None) => return false,
                Ok(Some(_)) => continue,
            }
        }
    }

    pub async fn disconnect(mut self) {
        let _ = self.write(&[0xe0, 0x00]).await;
    }
}

pub fn publish_frame(version: Version, topic: &str, payload: &[u8], qos: u8, pkid: u16) -> Bytes {
    let publish = Publish::new(topic.as_bytes().to_vec(), payload.to_vec(), false);
    let bytes = codec::encode(version, Packet::Publish(publish, None)).unwrap();
    if qos == 0 {
        return bytes;
    }
    // Publish::new is QoS 0 (its QoS is private): rebuild the frame with QoS and packet id.
    let header = codec::frame(&bytes, usize::MAX >> 1).unwrap().unwrap().header_len;
    let body = &bytes[header..];
    let topic_end = 2 + topic.len();
    let mut rest = Vec::with_capacity(body.len() + 2);
    rest.extend_from_slice(&body[..topic_end]);
    rest.extend_from_slice(&pkid.to_be_bytes());
    rest.extend_from_slice(&body[topic_end..]);
    let mut out = vec![0x30 | (qos << 1)];
    let mut len = rest.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(&rest);
    Bytes::from(out)
}

/// The return codes of a SUBACK frame (v5: after the properties).
pub fn suback_codes(frame: &[u8], version: Version) -> Vec<u8> {
    let header = codec::frame(frame, 1 << 20).unwrap().unwrap().header_len;
    let mut at = header + 2;
    if version == Version::V5 {
        let (len, used) = varint(&frame[at..]);
        at += used + len;
    }
    frame[at..].to_vec()
}

/// The reason code of a PUBACK/PUBREC frame (0 when absent, as on 3.1.1).
pub fn ack_reason(frame: &[u8]) -> u8 {
    frame.get(4).copied().unwrap_or(0)
}

fn varint(bytes: &[u8]) -> (usize, usize) {
    let mut value = 0usize;
    for (i, b) in bytes.iter().enumerate().take(4) {
        value |= ((b & 0x7f) as usize) << (7 * i);
        if b & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (value, 4)
}

/// A connected client, panicking on failure (tests only).
pub async fn connected(url: &str, ca_pem: &str, version: Version, client_id: &str, key: &str) -> Client {
    let mut c = if url.starts_with("mqtts://") {
        Client::tls(url, ca_pem, version).await
    } else if url.starts_with("ws://") {
        Client::ws(url, version).await
    } else {
        Client::tcp(url, version).await
    }
    .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    let code = c.connect(client_id, Some(key)).await.unwrap_or_else(|e| panic!("CONNECT to {url}: {e}"));
    assert_eq!(code, 0, "CONNACK code from {url}");
    c
}
