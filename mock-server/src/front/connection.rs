//! One HTTP connection: a TCP socket from a listener, or the byte stream of a proxy tunnel.
//! TLS first when the listener has it (the handshake bounded by [`HANDSHAKE_TIMEOUT`]), then
//! HTTP/1.1 or HTTP/2 (request headers bounded by the same time), with the connection's facts
//! ([`ConnInfo`]: which listener, the peer, the verified client certificate) put into every
//! request before the handler sees it.
//!
//! Two answers are carried out here rather than sent: a response marked [`DropConnection`] (a
//! fault) becomes a service error, on which hyper closes the socket; a `CONNECT` answered with a
//! [`Tunnel`] (the proxy) turns the connection into a new one, served with the tunnel's TLS and
//! handler once the client has read the `200`.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, Response};
use futures_util::future::BoxFuture;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::deadlines::{until_idle, Activity, Deadline, Watched};
use super::fault::DropConnection;
use super::handler::Handler;
use super::proxy::Tunnel;
use crate::contract::{ConnInfo, ListenerKind};
use crate::tls::PeerCertificate;

/// How long a client may take to finish the TLS handshake or send its request headers.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The bounds of the HTTP listeners' connections (`deadlines.rs` says why each exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A connection quiet this long with no request being served is closed.
    pub idle: Duration,
    /// A request body must arrive whole within this of its headers.
    pub body: Duration,
    /// Connections open at once on one listener; more are closed as they are accepted.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits { idle: Duration::from_secs(60), body: Duration::from_secs(60), max_connections: 512 }
    }
}

/// How a connection learns that the server is shutting down.
pub enum Guard {
    /// Watched by the listener, which waits for it to finish.
    Graceful(Watcher),
    /// Not tracked by any listener (a proxy tunnel): finishes its open requests when the
    /// signal turns, for at most 5 s.
    Signal(watch::Receiver<bool>),
}

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

/// Serves HTTP/1.1 and HTTP/2 on `stream` until either side closes it. With `acceptor`, the
/// TLS handshake comes first and the verified client certificate goes into every request.
#[allow(clippy::too_many_arguments)]
pub async fn serve_connection<S>(
    stream: S,
    remote: SocketAddr,
    kind: ListenerKind,
    acceptor: Option<TlsAcceptor>,
    handler: Handler,
    guard: Guard,
    limits: ConnectionLimits,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let stream = Watched::new(stream, activity.clone());
    let watched = activity.clone();
    let service = move |peer_certificate: Option<PeerCertificate>| {
        let info = ConnInfo { listener: kind, remote, peer_certificate };
        let activity = watched.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let serving = activity.serving();
            let mut req = req.map(|body| Body::new(Deadline::new(body, limits.body)));
            req.extensions_mut().insert(info.clone());
            let upgrade = (req.method() == Method::CONNECT).then(|| hyper::upgrade::on(&mut req));
            let answer = handler(req);
            async move {
                let response = answer.await;
                drop(serving);
                if response.extensions().get::<DropConnection>().is_some() {
                    return Err(Dropped);
                }
                if let (Some(tunnel), Some(upgrade)) = (response.extensions().get::<Tunnel>(), upgrade) {
                    tokio::spawn(serve_tunnel(upgrade, remote, tunnel.clone(), limits));
                }
                Ok::<_, Dropped>(response)
            }
        })
    };
    let idle = async move { until_idle(&activity, limits.idle).await };
    match acceptor {
        None => guarded(TokioIo::new(stream), service(None), guard, idle).await,
        Some(acceptor) => {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(listener = kind.name(), %remote, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!(listener = kind.name(), %remote, "TLS handshake timed out");
                    return;
                }
            };
            let peer = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .map(|c| PeerCertificate::new(c.clone().into_owned()));
            guarded(TokioIo::new(tls), service(peer), guard, idle).await
        }
    }
}

/// The connection a `CONNECT` turned into, once the client has its `200`. Boxed: it is a
/// connection served inside a connection.
fn serve_tunnel(
    upgrade: hyper::upgrade::OnUpgrade,
    remote: SocketAddr,
    tunnel: Tunnel,
    limits: ConnectionLimits,
) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        match upgrade.await {
            Ok(upgraded) => {
                let Tunnel { kind, acceptor, handler, shutdown } = tunnel;
                let stream = TokioIo::new(upgraded);
                serve_connection(stream, remote, kind, acceptor, handler, Guard::Signal(shutdown), limits).await
            }
            Err(e) => tracing::debug!(%remote, "proxy tunnel not established: {e}"),
        }
    })
}

/// Serves the connection until it ends, the server shuts down, or `idle` resolves: then nothing
/// is being served and nothing moves, and the connection is closed.
async fn guarded<I, S>(io: I, service: S, guard: Guard, idle: impl Future<Output = ()>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<Body>, Error = Dropped> + Send + 'static,
    S::Future: Send + 'static,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HANDSHAKE_TIMEOUT);
    let conn = builder.serve_connection_with_upgrades(io, service).into_owned();
    match guard {
        Guard::Graceful(watcher) => {
            let conn = watcher.watch(conn);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = idle => {}
            }
        }
        Guard::Signal(mut shutdown) => {
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
                _ = idle => {}
            }
        }
    }
}
