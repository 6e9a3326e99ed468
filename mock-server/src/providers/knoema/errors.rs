//! How Knoema answers, errors included. Every data answer is JSON. The package's conventions:
//! - a refusal the client should show the user comes with status **200** and a bare JSON
//!   string (the package raises it as `ValueError`), e.g. an unknown dataset;
//! - a bad data filter is **400** with a plain-text body (the package raises the text);
//! - a failed signature is a bare **403** (the R client's tests expect "(403) Forbidden"); the
//!   body carries no reason, as ASP.NET Web API's `{"Message": "Authorization has been denied
//!   for this request."}` — the reason goes to the journal.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

/// The message of an unknown (or unreadable) dataset (contract).
pub const NO_DATASET: &str = "Requested dataset doesn't exist or you don't have access to it.";

pub fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

pub fn ok(body: Value) -> Response<Body> {
    json_response(StatusCode::OK, &body)
}

/// 200 with a bare JSON string: the package raises it as `ValueError`.
pub fn refusal(message: impl Into<String>) -> Response<Body> {
    json_response(StatusCode::OK, &Value::String(message.into()))
}

/// A plain-text answer (400 for a bad filter).
pub fn text(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    let mut r = Response::new(Body::from(message.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// 401 or 403 without the reason (the journal has it).
pub fn denied(status: StatusCode) -> Response<Body> {
    let mut r = json_response(status, &json!({"Message": "Authorization has been denied for this request."}));
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    }
    r
}

pub fn too_many_requests(limit: u32) -> Response<Body> {
    let mut r = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"Message": format!("Anonymous users may make {limit} requests a day. Create an app at /user/apps and sign your requests.")}),
    );
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
    r
}

/// Unknown paths, as ASP.NET Web API words them.
pub async fn not_found(uri: axum::http::Uri) -> Response<Body> {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"Message": format!("No HTTP resource was found that matches the request URI '{}'.", uri.path())}),
    )
}

pub async fn method_not_allowed(method: axum::http::Method) -> Response<Body> {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"Message": format!("The requested resource does not support http method '{method}'.")}),
    )
}
