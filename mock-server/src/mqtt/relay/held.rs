//! The slots a connection holds under the listeners' bounds: one of the open connections, and
//! one of those still in their handshake or before CONNECT. The pending one is given back once
//! the engine has accepted the CONNECT, so that clients that never finish cannot starve those
//! that do; the open one lasts as long as the connection.

use tokio::sync::OwnedSemaphorePermit;

use crate::mqtt::engine_ids::Lease;
use crate::mqtt::pending::PendingSlot;

/// The slots a connection holds; the pending one is released once CONNECT is through.
pub struct Held {
    _open: OwnedSemaphorePermit,
    pending: Option<PendingSlot>,
    /// The client id the engine knows the connection by, once it has one.
    engine_id: Option<Lease>,
}

impl Held {
    /// A connection's open slot and its pending one (in its handshake, before CONNECT).
    pub fn new(open: OwnedSemaphorePermit, pending: PendingSlot) -> Held {
        Held { _open: open, pending: Some(pending), engine_id: None }
    }

    /// Holds the engine id for as long as the connection lasts.
    pub fn engine_id(&mut self, lease: Lease) -> &str {
        self.engine_id.insert(lease).engine_id()
    }

    pub fn authenticated(&mut self) {
        self.pending = None;
    }
}
