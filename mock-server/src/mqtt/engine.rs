//! The embedded rumqttd: one router (its own thread, as rumqttd runs it) and two servers, 3.1.1
//! and 5, that listen on nothing. A gate reaches them through an in-process pipe per connection
//! ([`EngineLinks::connect`]): the engine serves its end as it would a client's socket
//! (rumqttd's `Server::serve`, vendor patch 12). With no port there is no way into the engine
//! but through a gate, and a connection costs one file descriptor (the client's), not three.
//! rumqttd is built without its TLS and WebSocket features (the gate terminates both) and with
//! no authentication of its own (the gate has authenticated every connection it opens).
//!
//! Each engine connection runs as a task on our runtime and ends when the gate drops its end
//! of the pipe. rumqttd's router thread has no stop: it stays parked on its channel, idle,
//! until the process ends (one per server started in a process).
//!
//! Should the router thread ever end while the server runs (a panic inside rumqttd, say),
//! nothing in rumqttd says so: every client would just wait. A watchdog reports it
//! ([`Failed`]) instead, and the server's health turns red.
//!
//! [`Publisher`] lets a provider publish server-side messages (IoT Open's
//! `{client_id}/evt/functionx/updated`) through one internal connection of the gate's own.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use bytes::{Bytes, BytesMut};
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::v5::V5;
use rumqttd::protocol::{Connect, Packet, Publish};
use rumqttd::{ConnectionSettings, Router, RouterConfig, Server, ServerSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::codec::{self, Version};
use super::engine_ids::EngineIds;
use super::shutdown::stopped;
use super::space::Space;

/// Disconnected clients whose sessions (or, for clean ones, metrics) the engine remembers, the
/// oldest saved forgotten first: rumqttd kept one for every client id it ever saw.
pub const MAX_SAVED_SESSIONS: usize = 20_000;

/// Told which part of the engine stopped, and why.
pub type Failed = Arc<dyn Fn(&str, String) + Send + Sync>;

/// How often the watchdog looks at the router thread (it gives no signal when it ends).
const ROUTER_CHECK: Duration = Duration::from_millis(500);

/// Keep-alive the gate asks of the engine for connections whose client asked for none (0):
/// rumqttd refuses 0, and 65535 s is as close to "none" as MQTT goes.
pub const NO_KEEP_ALIVE: u16 = u16::MAX;

/// The most bytes a pipe to the engine holds in each direction before its writer waits. The
/// buffer starts empty and grows only as far as traffic needs, so an idle connection costs
/// nothing here; 64 KiB lets a burst through without the two sides taking turns per packet.
const PIPE_BYTES: usize = 64 * 1024;

/// The gate's two halves of an engine connection.
pub type EngineReader = tokio::io::ReadHalf<DuplexStream>;
pub type EngineWriter = tokio::io::WriteHalf<DuplexStream>;

pub struct Engine {
    pub links: EngineLinks,
    pub publisher: Publisher,
    pub tasks: Vec<JoinHandle<()>>,
}

/// How gates reach the engine: a new in-process connection each, and the client ids the
/// engine has seen.
#[derive(Clone)]
pub struct EngineLinks {
    servers: Arc<Servers>,
    pub ids: Arc<EngineIds>,
}

struct Servers {
    v311: Server<V4>,
    v5: Server<V5>,
}

impl EngineLinks {
    /// Opens a connection to the engine's `version` server: the gate's end of a pipe whose
    /// other end the engine now serves, waiting for a CONNECT.
    pub fn connect(&self, version: Version) -> DuplexStream {
        let (gate_end, engine_end) = tokio::io::duplex(PIPE_BYTES);
        match version {
            Version::V311 => self.servers.v311.serve(engine_end),
            Version::V5 => self.servers.v5.serve(engine_end),
        };
        gate_end
    }
}

impl Engine {
    /// `max_connections`: what the gate lets in (the router preallocates for that many).
    pub fn start(
        max_packet_bytes: usize,
        max_connections: usize,
        failed: Failed,
        shutdown: watch::Receiver<bool>,
    ) -> Engine {
        let router = Router::new(
            0,
            RouterConfig {
                max_connections: max_connections + 16,
                max_outgoing_packet_count: 200,
                max_segment_size: 1 << 20,
                max_segment_count: 10,
                max_saved_sessions: Some(MAX_SAVED_SESSIONS),
                ..RouterConfig::default()
            },
        );
        let router_tx = router.spawn();
        let connections = ConnectionSettings {
            connection_timeout_ms: 5_000,
            max_payload_size: max_packet_bytes,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        };
        let settings = |version: Version| ServerSettings {
            name: format!("engine-{}", version.name()),
            // Never bound: connections come only through `Server::serve`.
            listen: ([127, 0, 0, 1], 0).into(),
            tls: None,
            next_connection_delay_ms: 0,
            connections: connections.clone(),
        };
        let servers = Servers {
            v311: Server::new(settings(Version::V311), router_tx.clone(), V4),
            v5: Server::new(settings(Version::V5), router_tx.clone(), V5),
        };
        let links = EngineLinks { servers: Arc::new(servers), ids: Arc::default() };
        let mut tasks = Vec::new();
        let router = router_tx.clone();
        tasks.push(watch_router(move || router.is_disconnected(), ROUTER_CHECK, failed, shutdown.clone()));
        let (publisher, task) = Publisher::start(links.clone(), shutdown);
        tasks.push(task);
        Engine { links, publisher, tasks }
    }
}

/// Reports the router thread failed once `is_dead` says so, looking `every` so often.
fn watch_router(
    is_dead: impl Fn() -> bool + Send + 'static,
    every: Duration,
    failed: Failed,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stopped(&mut shutdown) => return,
            }
            if is_dead() {
                failed(
                    "mqtt engine router",
                    "its thread ended: every MQTT connection now waits for nothing".to_owned(),
                );
                return;
            }
        }
    })
}

/// Publishes server-side messages (QoS 0) into the engine through one internal connection,
/// reconnecting as needed. Never blocks: when its queue is full the message is dropped with a
/// warning.
#[derive(Clone)]
pub struct Publisher {
    queue: mpsc::Sender<(String, Bytes)>,
    /// The namespace whose topics these are.
    space: Space,
}

impl Publisher {
    fn start(engine: EngineLinks, mut shutdown: watch::Receiver<bool>) -> (Publisher, JoinHandle<()>) {
        let (queue, mut rx) = mpsc::channel::<(String, Bytes)>(1024);
        let task = tokio::spawn(async move {
            let mut connection: Option<DuplexStream> = None;
            let mut sink = BytesMut::with_capacity(1024);
            loop {
                let message = tokio::select! {
                    m = rx.recv() => match m { Some(m) => m, None => return },
                    _ = stopped(&mut shutdown) => return,
                };
                for attempt in 0..2 {
                    if connection.is_none() {
                        connection = internal_connection(&engine).await.ok();
                    }
                    let Some(stream) = connection.as_mut() else { break };
                    // Drain whatever the engine sent (nothing is expected at QoS 0).
                    sink.clear();
                    let _ = tokio::time::timeout(Duration::from_millis(0), stream.read_buf(&mut sink)).await;
                    let publish = Publish::new(message.0.clone().into_bytes(), message.1.to_vec(), false);
                    let bytes = codec::encode(Version::V311, Packet::Publish(publish, None)).unwrap_or_default();
                    match stream.write_all(&bytes).await {
                        Ok(()) => break,
                        Err(e) => {
                            connection = None;
                            if attempt == 1 {
                                tracing::warn!(topic = %message.0, "server-side MQTT publish lost: {e}");
                            }
                        }
                    }
                }
            }
        });
        (Publisher { queue, space: Space::default_namespace() }, task)
    }

    /// The same connection, publishing in `space` (a run's topics).
    pub fn within(&self, space: Space) -> Publisher {
        Publisher { queue: self.queue.clone(), space }
    }

    /// Queues `payload` for `topic`.
    pub fn publish(&self, topic: impl Into<String>, payload: impl Into<Bytes>) {
        let topic = self.space.inward(&topic.into());
        if let Err(e) = self.queue.try_send((topic.clone(), payload.into())) {
            tracing::warn!(%topic, "server-side MQTT publish dropped: {e}");
        }
    }
}

impl crate::contract::Publisher for Publisher {
    fn publish(&self, topic: String, payload: Bytes) {
        Publisher::publish(self, topic, payload)
    }
}

/// A 3.1.1 connection to the engine as the server itself.
async fn internal_connection(engine: &EngineLinks) -> Result<DuplexStream> {
    let mut stream = engine.connect(Version::V311);
    let connect = Connect {
        keep_alive: NO_KEEP_ALIVE,
        client_id: format!("mock-server-internal-{:08x}", rand::random::<u32>()),
        clean_session: true,
    };
    stream.write_all(&codec::encode(Version::V311, Packet::Connect(connect, None, None, None, None))?).await?;
    let mut buf = BytesMut::with_capacity(16);
    tokio::time::timeout(Duration::from_secs(5), async {
        while codec::frame(&buf, 64).ok().flatten().is_none() {
            if stream.read_buf(&mut buf).await? == 0 {
                bail!("the engine closed the internal connection");
            }
        }
        Ok(())
    })
    .await??;
    match codec::connack_code(&buf, 2) {
        Some(0) => Ok(stream),
        code => bail!("the engine refused the internal connection ({code:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    type Seen = Arc<Mutex<Vec<(String, String)>>>;

    fn recorder() -> (Failed, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let into = seen.clone();
        (Arc::new(move |c: &str, why: String| into.lock().unwrap().push((c.to_owned(), why))), seen)
    }

    #[tokio::test]
    async fn a_router_that_ends_is_reported() {
        let (failed, seen) = recorder();
        let (_stop, shutdown) = watch::channel(false);
        let dead = Arc::new(AtomicBool::new(false));
        let probe = dead.clone();
        let task = watch_router(move || probe.load(Ordering::Relaxed), Duration::from_millis(5), failed, shutdown);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(seen.lock().unwrap().is_empty(), "alive: nothing to report");
        dead.store(true, Ordering::Relaxed);
        tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
        assert_eq!(seen.lock().unwrap()[0].0, "mqtt engine router");
    }
}
