//! Connections still in their handshake or before CONNECT, at most `capacity` per namespace.
//!
//! A full set does not turn newcomers away: the connection waiting longest is told to close
//! and the newcomer takes its place. Sockets that never send CONNECT then only push each other
//! out, and a client that does send one always gets in, however many such sockets a flood
//! keeps open. Each namespace (the default one, each run) has a set of its own, so a flood in
//! one never reaches another.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// The waiting connections of one namespace, oldest first.
#[derive(Clone)]
pub struct Pending {
    queue: Arc<Mutex<Queue>>,
    capacity: usize,
}

struct Queue {
    next: u64,
    waiting: VecDeque<(u64, Arc<Notify>)>,
}

/// A connection's place among the waiting; dropped (the connection got through CONNECT, or
/// ended), it gives the place back.
pub struct PendingSlot {
    id: u64,
    evicted: Arc<Notify>,
    queue: Arc<Mutex<Queue>>,
}

impl Pending {
    pub fn new(capacity: usize) -> Pending {
        Pending { queue: Arc::new(Mutex::new(Queue { next: 0, waiting: VecDeque::new() })), capacity: capacity.max(1) }
    }

    /// An empty set of the same capacity, for another namespace.
    pub fn fresh(&self) -> Pending {
        Pending::new(self.capacity)
    }

    /// A place for a new connection; when every place is taken, the oldest is evicted first.
    pub fn admit(&self) -> PendingSlot {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        while queue.waiting.len() >= self.capacity {
            if let Some((_, evicted)) = queue.waiting.pop_front() {
                // Stored if its connection is not waiting for the signal yet.
                evicted.notify_one();
            }
        }
        let id = queue.next;
        queue.next += 1;
        let evicted = Arc::new(Notify::new());
        queue.waiting.push_back((id, evicted.clone()));
        PendingSlot { id, evicted, queue: self.queue.clone() }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).waiting.len()
    }
}

impl PendingSlot {
    /// What tells this connection it was evicted.
    pub fn eviction(&self) -> Arc<Notify> {
        self.evicted.clone()
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = queue.waiting.iter().position(|(id, _)| *id == self.id) {
            queue.waiting.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_set_evicts_the_oldest_and_admits_the_newcomer() {
        let pending = Pending::new(2);
        let first = pending.admit();
        let second = pending.admit();
        let third = pending.admit();
        assert_eq!(pending.len(), 2);
        // The first was told (the signal waits for it), the others were not.
        tokio::time::timeout(std::time::Duration::from_millis(100), first.eviction().notified())
            .await
            .expect("the oldest is evicted");
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(50), second.eviction().notified()).await;
        assert!(quiet.is_err(), "the second stays");
        drop(third);
        assert_eq!(pending.len(), 1, "a place is given back when its connection goes on or ends");
        drop(first);
        assert_eq!(pending.len(), 1, "an evicted slot has no place left to give back");
    }

    #[test]
    fn namespaces_do_not_share_places() {
        let default = Pending::new(1);
        let run = default.fresh();
        let _a = default.admit();
        let _b = run.admit();
        assert_eq!((default.len(), run.len()), (1, 1));
    }
}
