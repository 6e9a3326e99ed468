//! Azure AD's request ids. Every answer of the login service carries `x-ms-request-id`, the id
//! its error bodies name as the trace id, and echoes the `client-request-id` a client sent
//! (MSAL sends one with every request, to correlate its logs with the server's).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Response};
use axum::middleware::Next;

/// The request id, as a request header too, so that error bodies name the same id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

pub async fn request_ids(mut req: Request, next: Next) -> Response<Body> {
    let id = HeaderValue::try_from(uuid::Uuid::new_v4().to_string()).expect("a UUID is a header value");
    let client = req.headers().get(CLIENT_REQUEST_ID).cloned();
    req.headers_mut().insert(REQUEST_ID, id.clone());
    let mut response = next.run(req).await;
    response.headers_mut().insert(REQUEST_ID, id);
    if let Some(client) = client {
        response.headers_mut().insert(CLIENT_REQUEST_ID, client);
    }
    response
}
