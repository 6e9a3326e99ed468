//! The public MQTT listeners: plain TCP, TLS (our dev CA's server certificate) and WebSocket
//! (`ws://HOST:PORT/mqtt`, subprotocol `mqtt`, as MQTT clients ask for it).
//!
//! Each accepted socket must get a slot among the server's open connections
//! ([`MqttOptions::max_connections`]), or it is closed at once, and takes a place among its
//! namespace's connections still in their handshake or before CONNECT
//! ([`MqttOptions::max_pending`]; when they are all taken, the oldest is closed: `pending.rs`),
//! so a flood of sockets that never finish a handshake or never send CONNECT cannot keep anyone
//! out. The TLS or WebSocket handshake and the CONNECT then share one deadline
//! ([`MqttOptions::handshake_timeout`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::options::MqttOptions;
use super::pending::Pending;
use super::relay::{self, Gate, Held};
use super::shutdown::stopped;
use super::transport::{Kind, Transport};
use crate::endpoints::{display_addr, MqttEndpoints};

/// The WebSocket path MQTT clients use (paho's default; IoT Open's `wss://lynx.iotopen.se/mqtt`).
pub const WS_PATH: &str = "/mqtt";

pub struct Bound {
    tcp: TcpListener,
    tls: TcpListener,
    ws: TcpListener,
}

impl Bound {
    pub async fn bind(options: &MqttOptions) -> Result<Bound> {
        Ok(Bound {
            tcp: bind(options.tcp, "MQTT").await?,
            tls: bind(options.tls, "MQTT TLS").await?,
            ws: bind(options.ws, "MQTT WebSocket").await?,
        })
    }

    pub fn endpoints(&self) -> Result<MqttEndpoints> {
        let shown = |l: &TcpListener| -> Result<SocketAddr> { Ok(display_addr(l.local_addr()?)) };
        Ok(MqttEndpoints {
            tcp: format!("mqtt://{}", shown(&self.tcp)?),
            tls: format!("mqtts://{}", shown(&self.tls)?),
            ws: format!("ws://{}{WS_PATH}", shown(&self.ws)?),
        })
    }

    /// Accept loops for the three listeners. `limits` may be shared with other namespaces'
    /// listeners: they all count against the one engine.
    pub fn spawn(
        self,
        gate: Arc<Gate>,
        tls: Arc<ServerConfig>,
        limits: Limits,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        let acceptor = TlsAcceptor::from(tls);
        [(self.tcp, Kind::Tcp), (self.tls, Kind::Tls), (self.ws, Kind::Ws)]
            .into_iter()
            .map(|(listener, kind)| {
                let (gate, limits, acceptor, shutdown) =
                    (gate.clone(), limits.clone(), acceptor.clone(), shutdown.clone());
                tokio::spawn(accept_loop(listener, kind, gate, limits, acceptor, shutdown))
            })
            .collect()
    }
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot bind the {what} listener to {addr}: is another broker running there? Pick another address, or port 0 for any free one")
    })
}

/// The bounds of [`MqttOptions`]: open connections, counted across the server, and the
/// waiting ones, per namespace.
#[derive(Clone)]
pub struct Limits {
    open: Arc<Semaphore>,
    pending: Pending,
    handshake: Duration,
    max_packet: usize,
}

impl Limits {
    pub fn new(options: &MqttOptions) -> Limits {
        Limits {
            open: Arc::new(Semaphore::new(options.max_connections.max(1))),
            pending: Pending::new(options.max_pending),
            handshake: options.handshake_timeout,
            max_packet: options.max_packet_bytes,
        }
    }

    /// The same bounds for another namespace: the same open connections, waiting ones of its own.
    pub fn for_namespace(&self) -> Limits {
        Limits { pending: self.pending.fresh(), ..self.clone() }
    }
}

async fn accept_loop(
    listener: TcpListener,
    kind: Kind,
    gate: Arc<Gate>,
    limits: Limits,
    acceptor: TlsAcceptor,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(listener = kind.name(), "MQTT accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let Ok(open) = limits.open.clone().try_acquire_owned() else {
            tracing::debug!(listener = kind.name(), %remote, "MQTT connection refused: too many connections");
            drop(stream);
            continue;
        };
        let pending = limits.pending.admit();
        let eviction = pending.eviction();
        let held = Held::new(open, pending);
        let _ = stream.set_nodelay(true);
        let (gate, limits, acceptor, shutdown) = (gate.clone(), limits.clone(), acceptor.clone(), shutdown.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = connection(stream, kind, &gate, &limits, &acceptor, held, shutdown) => {}
                _ = eviction.notified() => gate.handshake_failed(
                    kind,
                    "closed before CONNECT: newer connections needed its place among those waiting",
                ),
            }
        });
    }
}

/// One accepted connection: its handshake, then the relay (which gives the waiting place back
/// once CONNECT is through).
async fn connection(
    stream: TcpStream,
    kind: Kind,
    gate: &Gate,
    limits: &Limits,
    acceptor: &TlsAcceptor,
    held: Held,
    shutdown: watch::Receiver<bool>,
) {
    let deadline = Instant::now() + limits.handshake;
    let transport = match tokio::time::timeout_at(deadline, handshake(stream, kind, acceptor, limits.max_packet)).await
    {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            gate.handshake_failed(kind, &format!("{} handshake failed: {e}", kind.name()));
            return;
        }
        Err(_) => {
            gate.handshake_failed(
                kind,
                &format!("{} handshake not finished within {:?}", kind.name(), limits.handshake),
            );
            return;
        }
    };
    relay::serve(gate, transport, kind, deadline, held, shutdown).await;
}

async fn handshake(
    stream: TcpStream,
    kind: Kind,
    acceptor: &TlsAcceptor,
    max_packet: usize,
) -> Result<Transport, String> {
    match kind {
        Kind::Tcp => Ok(Transport::Tcp(stream)),
        Kind::Tls => acceptor.accept(stream).await.map(|s| Transport::Tls(Box::new(s))).map_err(|e| e.to_string()),
        Kind::Ws => {
            let config =
                WebSocketConfig::default().max_message_size(Some(max_packet * 2)).max_frame_size(Some(max_packet * 2));
            tokio_tungstenite::accept_hdr_async_with_config(stream, ws_callback, Some(config))
                .await
                .map(|s| Transport::Ws(Box::new(s)))
                .map_err(|e| e.to_string())
        }
    }
}

/// Serves `/mqtt` only, and answers the MQTT subprotocol the client offers (`mqtt`, or the
/// older `mqttv3.1`), as MQTT over WebSocket requires.
#[allow(clippy::result_large_err)]
fn ws_callback(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    if request.uri().path() != WS_PATH {
        let mut refusal = ErrorResponse::new(Some(format!("MQTT over WebSocket is served at {WS_PATH}")));
        *refusal.status_mut() = StatusCode::NOT_FOUND;
        return Err(refusal);
    }
    let offered = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|p| p.eq_ignore_ascii_case("mqtt") || p.eq_ignore_ascii_case("mqttv3.1"))
        .map(str::to_owned);
    if let Some(protocol) = offered {
        if let Ok(value) = HeaderValue::from_str(&protocol) {
            response.headers_mut().insert("sec-websocket-protocol", value);
        }
    }
    Ok(response)
}
