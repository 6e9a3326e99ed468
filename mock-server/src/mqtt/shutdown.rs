//! How the gate's tasks learn that their listeners must stop: the server's shutdown signal, or
//! a run's, a `watch` channel that turns true (or whose sender is gone).

use tokio::sync::watch;

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
