//! The accept loop of every HTTP listener (the plain HTTP, HTTPS and mTLS listeners, and each
//! dedicated listener): each connection is served on its own task, and on shutdown the loop
//! stops accepting and lets open requests finish, for at most 5 s.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::connection::{serve_connection, Guard};
use super::handler::Handler;
use crate::contract::ListenerKind;

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
