//! Lynx's error shape: every error is JSON `{"message": "..."}` (the API documentation's
//! `MessageResponse`), which node-lynx and go-lynx decode and py-lynx reads `message` from. The
//! status codes are the plain ones: 400, 401 `Unauthorized`, 403 `Forbidden`, 404 `Not Found`,
//! 405, 413, 414 (go-lynx then retries status and log queries as POST).

use axum::body::Body;
use axum::http::{Response, StatusCode};
use serde_json::json;

use crate::contract::json_response;

pub fn message(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    json_response(status, json!({"message": message.into()}))
}

pub fn unauthorized() -> Response<Body> {
    message(StatusCode::UNAUTHORIZED, "Unauthorized")
}

pub fn forbidden() -> Response<Body> {
    message(StatusCode::FORBIDDEN, "Forbidden")
}

pub fn not_found() -> Response<Body> {
    message(StatusCode::NOT_FOUND, "Not Found")
}

pub fn bad_request(why: impl Into<String>) -> Response<Body> {
    message(StatusCode::BAD_REQUEST, why)
}

/// The `{"message": "OK"}` of deletes and logouts (`OKResponse` in node-lynx and py-lynx).
pub fn ok() -> Response<Body> {
    message(StatusCode::OK, "OK")
}

pub async fn not_found_fallback() -> Response<Body> {
    not_found()
}

pub async fn method_not_allowed() -> Response<Body> {
    message(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}
