//! A fault rule's action, carried out on an HTTP request once the rule has fired
//! (`Namespace::fire_fault`): an answer of its own (status, body, headers), a delay, a dropped
//! connection, or the real answer altered (headers added, body cut in half).

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use tower::ServiceExt;

use crate::faults::FaultAction;

/// Response extension: close the connection instead of answering (the accept loop sees it).
#[derive(Clone, Copy, Debug)]
pub struct DropConnection;

/// Carries out a fault's action, calling the real handler when the action only alters it.
pub async fn apply(action: FaultAction, req: Request<Body>, router: Router) -> Response<Body> {
    if let Some(ms) = action.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if action.drop_connection {
        let mut r = Response::new(Body::empty());
        r.extensions_mut().insert(DropConnection);
        return r;
    }
    let mut response = match action.status {
        Some(status) => {
            let (body, content_type) = match &action.body {
                None => (Bytes::new(), None),
                Some(serde_json::Value::String(s)) => (Bytes::from(s.clone()), Some("text/plain; charset=utf-8")),
                Some(v) => (Bytes::from(v.to_string()), Some("application/json; charset=utf-8")),
            };
            let mut r = Response::new(Body::from(body));
            *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Some(ct) = content_type {
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            }
            r
        }
        None => router.oneshot(req).await.unwrap_or_else(|e| match e {}),
    };
    for (name, value) in &action.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str())) {
            response.headers_mut().insert(n, v);
        }
    }
    if action.truncate_body {
        response = truncate(response).await;
    }
    response
}

/// Announces the full length, sends half the bytes, then fails the stream so the connection is
/// cut mid-body. The short pause lets the server flush the status, headers and first half
/// before the cut, as a real network failure would.
async fn truncate(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len().max(1)));
    let cut = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err::<Bytes, _>(std::io::Error::other("body truncated on purpose"))
    };
    let chunks = stream::once(async move { Ok(half) }).chain(stream::once(cut));
    Response::from_parts(parts, Body::from_stream(chunks))
}
