//! The accept loop of every HTTP listener (the plain HTTP, HTTPS and mTLS listeners, and each
//! dedicated listener): each connection is served on its own task, up to a number open at once
//! (more are closed as they come), and on shutdown the loop stops accepting and lets open
//! requests finish, for at most 5 s.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::connection::{serve_connection, ConnectionLimits, Guard};
use super::handler::Handler;
use crate::contract::ListenerKind;

/// Serves `listener` until `shutdown` turns true, then lets open requests finish (up to 5 s).
pub async fn serve(
    listener: TcpListener,
    kind: ListenerKind,
    tls: Option<Arc<ServerConfig>>,
    handler: Handler,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.max_connections));

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
        // At the limit a connection is closed as it comes, so the ones open are served.
        let Ok(slot) = open.clone().try_acquire_owned() else {
            tracing::warn!(listener = kind.name(), %remote, "{} connections open: closed at once", limits.max_connections);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let guard = Guard::Graceful(graceful.watcher());
        let connection = serve_connection(stream, remote, kind, acceptor.clone(), handler.clone(), guard, limits);
        tokio::spawn(async move {
            connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await.is_err() {
        tracing::warn!(listener = kind.name(), "connections still open after 5 s; closing them");
    }
}
