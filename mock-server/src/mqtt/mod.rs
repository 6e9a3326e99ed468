//! The MQTT gate (shared/DESIGN.md, "MQTT"): rumqttd is the broker engine (routing, QoS,
//! retained messages, sessions) on internal loopback ports; this gate owns every public MQTT
//! listener (TCP, TLS, WebSocket at `/mqtt`) and reads each packet with rumqttd's own codec to:
//!
//! - authenticate CONNECT through the provider's [`Authority`], answering a refused CONNACK with
//!   the proper code (3.1.1: 0x04 bad user name or password, 0x05 not authorized; 5: 0x86,
//!   0x87) where rumqttd alone would just drop the socket;
//! - authorize every SUBSCRIBE filter and PUBLISH topic (and the will) through the provider's
//!   [`Session`]: a denied filter gets a SUBACK failure code (0x80; 0x87 on 5) while the allowed
//!   ones of the same SUBSCRIBE still reach the engine; a denied publish is dropped and, at QoS
//!   1 or 2, acknowledged (PUBACK/PUBREC with 0x87 on 5) so the client does not resend it;
//! - hand every accepted publish to the provider (current values, history) and record connect,
//!   subscribe, publish, denial and disconnect events in the journal;
//! - bound everything a client controls: TLS and WebSocket handshakes and the CONNECT share one
//!   deadline, packets have a maximum size, connections (and those not yet authenticated) a
//!   maximum count. Malformed input closes that one connection and nothing else.
//!
//! The files: [`codec`] (framing and rumqttd's codec), [`transport`] (TCP, TLS or WebSocket as
//! one byte stream), [`listeners`] (accept loops and handshakes), [`relay`] (one connection:
//! CONNECT, then both directions), [`engine`] (the embedded rumqttd and the server-side
//! publisher), [`topics`] (topic and filter helpers for authorities), [`space`] (a run's names
//! in the shared engine).
//!
//! Every namespace of the server (the default one, and each run) has listeners of its own,
//! with a gate that asks that namespace's authority and journals into its journal; all relay
//! into the one engine, a run's under its own prefix ([`MqttHub::open`]).

pub mod codec;
mod engine;
mod listeners;
mod relay;
pub mod space;
mod transport;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use space::Space;

use crate::contract::Authority;
use crate::endpoints::MqttEndpoints;
use crate::namespace::Namespace;

/// Where and how the gate listens.
#[derive(Debug, Clone)]
pub struct MqttOptions {
    pub tcp: SocketAddr,
    pub tls: SocketAddr,
    pub ws: SocketAddr,
    /// TLS or WebSocket handshake plus the CONNECT packet must finish within this.
    pub handshake_timeout: Duration,
    /// Largest packet accepted (fixed header included); larger ones close the connection.
    pub max_packet_bytes: usize,
    /// Open client connections at once; more are closed on accept.
    pub max_connections: usize,
    /// Connections still in their handshake or before CONNECT; more are closed on accept.
    pub max_pending: usize,
}

impl MqttOptions {
    /// The real ports: 1883, 8883, 8083 on loopback.
    pub fn standard() -> Self {
        Self::on(([127, 0, 0, 1], 1883).into(), ([127, 0, 0, 1], 8883).into(), ([127, 0, 0, 1], 8083).into())
    }

    /// Loopback, ports picked by the system.
    pub fn ephemeral() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::on(any, any, any)
    }

    pub fn on(tcp: SocketAddr, tls: SocketAddr, ws: SocketAddr) -> Self {
        MqttOptions {
            tcp,
            tls,
            ws,
            handshake_timeout: Duration::from_secs(10),
            max_packet_bytes: 1 << 20,
            max_connections: 2_000,
            max_pending: 256,
        }
    }
}

/// A running gate and engine.
pub struct MqttRunning {
    pub endpoints: MqttEndpoints,
    pub tasks: Vec<JoinHandle<()>>,
    /// For more namespaces in front of the same engine.
    pub hub: MqttHub,
}

/// What a namespace needs to get MQTT listeners of its own in front of the server's engine.
#[derive(Clone)]
pub struct MqttHub {
    engine: engine::EngineAddrs,
    publisher: engine::Publisher,
    tls: Arc<rustls::ServerConfig>,
    limits: listeners::Limits,
    /// The server's options, with every port 0.
    options: MqttOptions,
}

impl MqttHub {
    /// Binds TCP, TLS and WebSocket listeners on free ports (on the server's MQTT addresses)
    /// for a namespace whose `authority` judges its clients, under `space` in the engine. They
    /// stop when `shutdown` turns true or its sender is gone.
    pub async fn open(
        &self,
        ns: Arc<Namespace>,
        authority: Arc<dyn Authority>,
        space: space::Space,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(MqttEndpoints, Vec<JoinHandle<()>>)> {
        let bound = listeners::Bound::bind(&self.options).await?;
        let endpoints = bound.endpoints()?;
        authority.attach(Arc::new(self.publisher.within(space.clone())));
        let gate = Arc::new(relay::Gate::new(ns, authority, space, &self.engine, &self.options));
        Ok((endpoints, bound.spawn(gate, self.tls.clone(), self.limits.clone(), shutdown)))
    }
}

/// Resolves once the server is told to stop (or is gone).
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Binds the public listeners, starts the engine and the accept loops.
pub async fn start(
    ns: Arc<Namespace>,
    authority: Arc<dyn Authority>,
    options: &MqttOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<MqttRunning> {
    let bound = listeners::Bound::bind(options).await?;
    let engine = engine::Engine::start(options.max_packet_bytes, options.max_connections, shutdown.clone()).await?;
    authority.attach(Arc::new(engine.publisher.clone()));
    let endpoints = bound.endpoints()?;
    let mut tls = (*ns.tls.server_config).clone();
    // Our HTTPS listener offers h2/http1.1; MQTT clients offer "mqtt" or nothing.
    tls.alpn_protocols = Vec::new();
    let tls = Arc::new(tls);
    let limits = listeners::Limits::new(options);
    let gate = Arc::new(relay::Gate::new(ns, authority, space::Space::default_namespace(), &engine.addrs(), options));
    let mut tasks = bound.spawn(gate, tls.clone(), limits.clone(), shutdown);
    let mut free = options.clone();
    for addr in [&mut free.tcp, &mut free.tls, &mut free.ws] {
        addr.set_port(0);
    }
    let hub = MqttHub { engine: engine.addrs(), publisher: engine.publisher.clone(), tls, limits, options: free };
    tasks.extend(engine.tasks);
    Ok(MqttRunning { endpoints, tasks, hub })
}
