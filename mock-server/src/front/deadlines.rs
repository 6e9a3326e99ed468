//! What bounds an HTTP connection in time, so that a client that connects and says nothing, or
//! trickles its request, cannot hold a connection (and its task and memory) forever:
//!
//! - a connection on which no byte has moved, either way, for the idle time while no request is
//!   being served is closed ([`Activity`], [`until_idle`]): a client that never sends a request,
//!   a TLS connection quiet after its handshake, an HTTP/2 connection after its preface, a
//!   keep-alive connection left open;
//! - a request body must arrive whole within the body time from its headers ([`Deadline`]),
//!   however steadily its bytes trickle in; then reading it fails, and the handler answers in
//!   its provider's own error shape as for any unreadable body.
//!
//! Request headers are bounded where they are read (hyper's header read timeout), the TLS
//! handshake where it is made (`connection.rs`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// When bytes last moved on a connection, and how many of its requests are being served.
pub struct Activity {
    start: Instant,
    /// Milliseconds since `start` of the last byte read or written.
    last: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity { start: Instant::now(), last: AtomicU64::new(0), in_flight: AtomicUsize::new(0) })
    }

    fn touch(&self) {
        self.last.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        self.start.elapsed().saturating_sub(Duration::from_millis(self.last.load(Ordering::Relaxed)))
    }

    /// A request is being served until the returned guard is dropped.
    pub fn serving(self: &Arc<Self>) -> Serving {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Serving(self.clone())
    }
}

/// A request being served; dropping it (the answer given, or the request abandoned) ends it.
pub struct Serving(Arc<Activity>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// Resolves once the connection has been quiet for `idle` with no request being served.
pub async fn until_idle(activity: &Activity, idle: Duration) {
    loop {
        let quiet = activity.quiet_for();
        if activity.in_flight.load(Ordering::Relaxed) == 0 && quiet >= idle {
            return;
        }
        tokio::time::sleep(idle.saturating_sub(quiet).max(idle / 8)).await;
    }
}

/// A connection's byte stream, noting every byte that moves on its [`Activity`].
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Watched<S> {
        Watched { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    /// Passed through, so that hyper writes a response's head and body as they are: told the
    /// stream cannot write vectored, it copies every body into a buffer of its own first, and
    /// keeps that buffer's size for as long as the connection lives.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that fails once it has taken longer than its deadline to arrive.
pub struct Deadline<B> {
    inner: B,
    deadline: Pin<Box<Sleep>>,
    limit: Duration,
}

impl<B> Deadline<B> {
    pub fn new(inner: B, limit: Duration) -> Deadline<B> {
        Deadline { inner, deadline: Box::pin(tokio::time::sleep(limit)), limit }
    }
}

impl<B> Body for Deadline<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(format!(
                "the request body did not arrive within {} s of its headers",
                self.limit.as_secs()
            )
            .into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
