//! Which HTTP exchange an event was recorded in. The front door gives every exchange a number
//! ([`new_exchange`]) and serves it inside [`within_exchange`]; whatever a handler records while
//! it answers (token issued or refused, request denied, fault fired) carries that number, as does
//! the exchange's own `http.exchange` event. A reader ties them together exactly, even when
//! requests to one service overlap. Events recorded outside a request (MQTT, the watchdog) carry
//! none.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

tokio::task_local! {
    static CURRENT: u64;
}

/// Numbers are unique across the process, so that they stay unique across runs too.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// A number for a new exchange.
pub fn new_exchange() -> u64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `serving`, with the events recorded while it runs tied to exchange `id`.
pub async fn within_exchange<F: Future>(id: u64, serving: F) -> F::Output {
    CURRENT.scope(id, serving).await
}

/// The exchange being served by the current task, if any.
pub fn current_exchange() -> Option<u64> {
    CURRENT.try_with(|id| *id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_event_knows_its_exchange_only_inside_it() {
        assert_eq!(current_exchange(), None);
        let (a, b) = (new_exchange(), new_exchange());
        assert_ne!(a, b);
        let seen = within_exchange(a, async {
            let inner = within_exchange(b, async { current_exchange() }).await;
            (current_exchange(), inner)
        })
        .await;
        assert_eq!(seen, (Some(a), Some(b)));
        assert_eq!(current_exchange(), None);
    }
}
