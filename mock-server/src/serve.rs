//! The accept loop shared by every HTTP listener: optional TLS (with a bounded handshake),
//! HTTP/1.1 and HTTP/2, per-connection facts put into each request (which listener, the peer
//! address, the verified client certificate), and graceful shutdown.
//!
//! A handler can ask for the connection to be dropped without any answer (a fault): it returns a
//! response carrying [`DropConnection`], and this layer turns that into a service error, on
//! which hyper closes the socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::ServerConfig;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::tls::PeerCertificate;

/// The kind of a listener; services say on which kinds they are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKind {
    Http,
    Https,
    Mtls,
}

impl ListenerKind {
    pub fn scheme(self) -> &'static str {
        match self {
            ListenerKind::Http => "http",
            ListenerKind::Https | ListenerKind::Mtls => "https",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ListenerKind::Http => "http",
            ListenerKind::Https => "https",
            ListenerKind::Mtls => "mtls",
        }
    }
}

/// Facts about the connection a request came in on.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    pub listener: ListenerKind,
    pub remote: SocketAddr,
    pub peer_certificate: Option<PeerCertificate>,
}

/// Response extension: close the connection instead of answering.
#[derive(Clone, Copy, Debug)]
pub struct DropConnection;

#[derive(Debug)]
struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}
impl std::error::Error for Dropped {}

/// How long a client may take to finish the TLS handshake or send its request headers.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub type Handler = Arc<dyn Fn(Request<Body>) -> futures_util::future::BoxFuture<'static, Response<Body>> + Send + Sync>;

/// Serves `listener` until `shutdown` turns true, then lets open requests finish (up to 5 s).
pub async fn serve(
    listener: TcpListener,
    kind: ListenerKind,
    tls: Option<Arc<ServerConfig>>,
    handler: Handler,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();

    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(listener = kind.name(), "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = serve_connection(
            stream,
            remote,
            kind,
            acceptor.clone(),
            handler.clone(),
            Guard::Graceful(graceful.watcher()),
        );
        tokio::spawn(connection);
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await.is_err() {
        tracing::warn!(listener = kind.name(), "connections still open after 5 s; closing them");
    }
}

/// How a connection learns that the server is shutting down.
pub(crate) enum Guard {
    /// Watched by the listener, which waits for it to finish.
    Graceful(Watcher),
    /// Not tracked by any listener (a proxy tunnel): finishes its open requests when the
    /// signal turns, for at most 5 s.
    Signal(watch::Receiver<bool>),
}

/// Serves HTTP/1.1 and HTTP/2 on one connection: a TCP socket from a listener, or the byte
/// stream of a proxy tunnel. With `acceptor`, the TLS handshake comes first (bounded by
/// [`HANDSHAKE_TIMEOUT`]) and the verified client certificate goes into every request.
pub(crate) async fn serve_connection<S>(
    stream: S,
    remote: SocketAddr,
    kind: ListenerKind,
    acceptor: Option<TlsAcceptor>,
    handler: Handler,
    guard: Guard,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = move |peer_certificate: Option<PeerCertificate>| {
        let info = ConnInfo { listener: kind, remote, peer_certificate };
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(info.clone());
            let fut = handler(req);
            async move {
                let response = fut.await;
                if response.extensions().get::<DropConnection>().is_some() {
                    return Err(Dropped);
                }
                Ok::<_, Dropped>(response)
            }
        })
    };
    match acceptor {
        None => guarded(TokioIo::new(stream), service(None), guard).await,
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
            guarded(TokioIo::new(tls), service(peer), guard).await
        }
    }
}

async fn guarded<I, S>(io: I, service: S, guard: Guard)
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
            let _ = watcher.watch(conn).await;
        }
        Guard::Signal(mut shutdown) => {
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
        }
    }
}

/// Makes a [`Handler`] from an async function.
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Request<Body>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    Arc::new(move |req| Box::pin(f(req)))
}
