//! The slots a connection holds under the listeners' bounds: one of the open connections, and
//! one of those still in their handshake or before CONNECT. The pending one is given back once
//! the engine has accepted the CONNECT, so that clients that never finish cannot starve those
//! that do; the open one lasts as long as the connection.

use tokio::sync::OwnedSemaphorePermit;

/// The slots a connection holds; the pending one is released once CONNECT is through.
pub struct Held {
    _open: OwnedSemaphorePermit,
    pending: Option<OwnedSemaphorePermit>,
}

impl Held {
    /// A connection's open slot and its pending one (in its handshake, before CONNECT).
    pub fn new(open: OwnedSemaphorePermit, pending: OwnedSemaphorePermit) -> Held {
        Held { _open: open, pending: Some(pending) }
    }

    pub fn authenticated(&mut self) {
        self.pending = None;
    }
}
