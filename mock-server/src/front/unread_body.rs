//! A request body the door still holds after the service is done with it, so that what the
//! service left unread can be read and forgotten before the answer goes out. A service that
//! refuses a request without reading its body (a missing token, a fault rule's own answer)
//! would otherwise leave hyper with a body half in flight: hyper reads what has already arrived
//! and, when that is not all of it, closes the connection after the answer. A client that pools
//! connections (requests, MSAL) then sends its next request, often the retry the refusal asked
//! for, into a dead socket. The providers' servers read such bodies and keep the connection.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request};
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

/// The most of a left-over body read to keep its connection; a longer one closes it.
const DRAIN_LIMIT: usize = 1 << 20;
/// How long the answer waits for a left-over body to arrive.
const DRAIN_WAIT: Duration = Duration::from_secs(5);

/// The request's body, shared between the service (as its request body) and the door.
#[derive(Clone)]
pub struct HeldBody(Arc<Mutex<Body>>);

impl HeldBody {
    /// `req` with its body held, and the hold; `None` when there is nothing to hold: no body,
    /// or a client waiting for `100 Continue` (hyper already answers such a one rightly).
    pub fn hold(req: Request<Body>) -> (Request<Body>, Option<HeldBody>) {
        if req.body().is_end_stream() || req.headers().contains_key(header::EXPECT) {
            return (req, None);
        }
        let (parts, body) = req.into_parts();
        let held = HeldBody(Arc::new(Mutex::new(body)));
        (Request::from_parts(parts, Body::new(held.clone())), Some(held))
    }

    /// Reads what the service left of the body, if anything, and forgets it: at most
    /// [`DRAIN_LIMIT`] bytes within [`DRAIN_WAIT`]. A longer or slower body is left to hyper,
    /// which closes the connection.
    pub async fn discard_rest(self) {
        if self.is_end_stream() || self.size_hint().lower() > DRAIN_LIMIT as u64 {
            return;
        }
        let _ = tokio::time::timeout(DRAIN_WAIT, axum::body::to_bytes(Body::new(self), DRAIN_LIMIT)).await;
    }

    fn body(&self) -> std::sync::MutexGuard<'_, Body> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl HttpBody for HeldBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut *self.body()).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body().is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body().size_hint()
    }
}
