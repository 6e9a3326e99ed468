//! Where and how the gate listens, and the bounds on what clients may hold.

use std::net::SocketAddr;
use std::time::Duration;

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
    /// Connections still in their handshake or before CONNECT, per namespace; a new one beyond
    /// this closes the one waiting longest.
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
