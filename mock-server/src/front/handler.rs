//! What serves a request: an async function from request to response, shared by every
//! connection of a listener (and by a proxy tunnel, which serves its own requests with the one
//! its `CONNECT` chose).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response};
use futures_util::future::BoxFuture;

pub type Handler = Arc<dyn Fn(Request<Body>) -> BoxFuture<'static, Response<Body>> + Send + Sync>;

/// Makes a [`Handler`] from an async function.
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Request<Body>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    Arc::new(move |req| Box::pin(f(req)))
}
