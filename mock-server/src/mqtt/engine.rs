//! The embedded rumqttd: one router (its own thread, as rumqttd runs it) and two servers, 3.1.1
//! and 5, listening on loopback ports only the gate connects to. rumqttd is built without its
//! TLS and WebSocket features (the gate terminates both) and with no authentication of its own
//! (the gate has authenticated every connection it opens).
//!
//! rumqttd binds its listeners itself from a configured address and does not report a port it
//! picked, so a free loopback port is found first and handed to it; if another process takes
//! that port in between, the server fails at once and another port is tried.
//!
//! The servers run on our runtime as tasks that stop with the server. rumqttd's router thread
//! has no stop: it stays parked on its channel, idle, until the process ends (one per server
//! started in a process).
//!
//! Should the router thread or a server ever end while the server runs (a panic inside
//! rumqttd, say), nothing in rumqttd says so: every client would just wait. A watchdog
//! reports it ([`Failed`]) instead, and the server's health turns red.
//!
//! [`Publisher`] lets a provider publish server-side messages (IoT Open's
//! `{client_id}/evt/functionx/updated`) through one internal connection of the gate's own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::{Bytes, BytesMut};
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::v5::V5;
use rumqttd::protocol::{Connect, Login, Packet, Publish};
use rumqttd::{ConnectionSettings, LinkType, Router, RouterConfig, Server, ServerSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::codec::{self, Version};
use super::engine_ids::EngineIds;
use super::shutdown::stopped;
use super::space::Space;
use crate::tokens::opaque_token;

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

pub struct Engine {
    pub v311: SocketAddr,
    pub v5: SocketAddr,
    pub publisher: Publisher,
    pub tasks: Vec<JoinHandle<()>>,
    ids: Arc<EngineIds>,
    login: Login,
}

/// Where the engine's two servers listen, for gates to connect to, the login they present, and
/// the client ids it has seen.
#[derive(Clone)]
pub struct EngineAddrs {
    pub v311: SocketAddr,
    pub v5: SocketAddr,
    pub ids: Arc<EngineIds>,
    /// The engine's loopback ports are open to any local process; without this secret, made
    /// at start and never shown, a CONNECT there is refused, so the gate is the only way in.
    pub login: Login,
}

impl Engine {
    pub fn addrs(&self) -> EngineAddrs {
        EngineAddrs { v311: self.v311, v5: self.v5, ids: self.ids.clone(), login: self.login.clone() }
    }
}

impl Engine {
    /// `max_connections`: what the gate lets in (the router preallocates for that many).
    pub async fn start(
        max_packet_bytes: usize,
        max_connections: usize,
        failed: Failed,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Engine> {
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
        let login = Login { username: "gate".to_owned(), password: opaque_token(32) };
        let connections = ConnectionSettings {
            connection_timeout_ms: 5_000,
            max_payload_size: max_packet_bytes,
            max_inflight_count: 100,
            auth: Some([(login.username.clone(), login.password.clone())].into()),
            external_auth: None,
            dynamic_filters: true,
        };
        let mut tasks = Vec::new();
        let v311 = serve(Version::V311, &connections, |settings| {
            let mut server = Server::new(settings, router_tx.clone(), V4);
            async move { server.start(LinkType::Remote).await.err().map(|e| e.to_string()) }
        });
        let v5 = serve(Version::V5, &connections, |settings| {
            let mut server = Server::new(settings, router_tx.clone(), V5);
            async move { server.start(LinkType::Remote).await.err().map(|e| e.to_string()) }
        });
        let (v311, v5) = tokio::join!(v311, v5);
        let ((v311, task311), (v5, task5)) = (v311?, v5?);
        tasks.push(stop_on(task311, "mqtt engine 3.1.1 server", failed.clone(), shutdown.clone()));
        tasks.push(stop_on(task5, "mqtt engine 5 server", failed.clone(), shutdown.clone()));
        let router = router_tx.clone();
        tasks.push(watch_router(move || router.is_disconnected(), ROUTER_CHECK, failed, shutdown.clone()));
        let (publisher, task) = Publisher::start(v311, login.clone(), shutdown);
        tasks.push(task);
        tracing::debug!(%v311, %v5, "MQTT engine listening");
        Ok(Engine { v311, v5, publisher, tasks, ids: Arc::default(), login })
    }
}

/// Aborts `task` when the server shuts down; reports it as `component` failed should it end
/// before that.
fn stop_on(
    task: JoinHandle<Option<String>>,
    component: &'static str,
    failed: Failed,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let abort = task.abort_handle();
        tokio::select! {
            ended = task => {
                let why = match ended {
                    Ok(Some(error)) => format!("it stopped: {error}"),
                    Ok(None) => "it stopped".to_owned(),
                    Err(e) if e.is_panic() => "it panicked".to_owned(),
                    Err(e) => format!("it was cancelled: {e}"),
                };
                if !*shutdown.borrow() {
                    failed(component, why);
                }
            }
            _ = stopped(&mut shutdown) => abort.abort(),
        }
    })
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

/// Starts a rumqttd server on a free loopback port; retries when the port was taken meanwhile.
async fn serve<F, Fut>(
    version: Version,
    connections: &ConnectionSettings,
    make: F,
) -> Result<(SocketAddr, JoinHandle<Option<String>>)>
where
    F: Fn(ServerSettings) -> Fut,
    Fut: std::future::Future<Output = Option<String>> + Send + 'static,
{
    for _ in 0..5 {
        let addr = {
            let probe = std::net::TcpListener::bind(("127.0.0.1", 0))
                .context("finding a free loopback port for the MQTT engine")?;
            probe.local_addr()?
        };
        let settings = ServerSettings {
            name: format!("engine-{}", version.name()),
            listen: addr,
            tls: None,
            next_connection_delay_ms: 0,
            connections: connections.clone(),
        };
        let task = tokio::spawn(make(settings));
        // Listening once a connection gets through while the task still runs (a task that
        // could not bind has ended by then).
        for _ in 0..2000 {
            tokio::task::yield_now().await;
            if task.is_finished() {
                break;
            }
            if let Ok(probe) = TcpStream::connect(addr).await {
                drop(probe);
                tokio::time::sleep(Duration::from_millis(1)).await;
                if !task.is_finished() {
                    return Ok((addr, task));
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        task.abort();
    }
    bail!("the MQTT engine ({}) could not listen on a loopback port", version.name())
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
    fn start(engine: SocketAddr, login: Login, mut shutdown: watch::Receiver<bool>) -> (Publisher, JoinHandle<()>) {
        let (queue, mut rx) = mpsc::channel::<(String, Bytes)>(1024);
        let task = tokio::spawn(async move {
            let mut connection: Option<TcpStream> = None;
            let mut sink = BytesMut::with_capacity(1024);
            loop {
                let message = tokio::select! {
                    m = rx.recv() => match m { Some(m) => m, None => return },
                    _ = stopped(&mut shutdown) => return,
                };
                for attempt in 0..2 {
                    if connection.is_none() {
                        connection = internal_connection(engine, &login).await.ok();
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
async fn internal_connection(engine: SocketAddr, login: &Login) -> Result<TcpStream> {
    let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(engine)).await??;
    let _ = stream.set_nodelay(true);
    let connect = Connect {
        keep_alive: NO_KEEP_ALIVE,
        client_id: format!("mock-server-internal-{:08x}", rand::random::<u32>()),
        clean_session: true,
    };
    stream
        .write_all(&codec::encode(Version::V311, Packet::Connect(connect, None, None, None, Some(login.clone())))?)
        .await?;
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

    #[tokio::test]
    async fn a_server_that_panics_or_stops_is_reported_but_not_one_shut_down() {
        let (failed, seen) = recorder();
        let (stop, shutdown) = watch::channel(false);
        let panics = tokio::spawn(async { panic!("inside the engine") });
        stop_on(panics, "a", failed.clone(), shutdown.clone()).await.unwrap();
        let stops = tokio::spawn(async { Some("bind failed".to_owned()) });
        stop_on(stops, "b", failed.clone(), shutdown.clone()).await.unwrap();
        let runs = tokio::spawn(std::future::pending::<Option<String>>());
        let watched = stop_on(runs, "c", failed, shutdown);
        stop.send(true).unwrap();
        watched.await.unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [("a".to_owned(), "it panicked".to_owned()), ("b".to_owned(), "it stopped: bind failed".to_owned())]
        );
    }
}
