//! How the admin API answers: JSON, errors included, as `{"error": code, "message": ...}`
//! (the `Error` schema of the OpenAPI document), and how it reads bodies.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::wire::{read_body, BodyError};

pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": code, "message": message.into()}))).into_response()
}

pub async fn read_admin_body(body: Body, limit: usize) -> Result<bytes::Bytes, Response> {
    read_body(body, limit).await.map_err(|e| match e {
        BodyError::TooLarge(_) => error(StatusCode::PAYLOAD_TOO_LARGE, "bad_request", e.to_string()),
        BodyError::Unreadable(_) => error(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
    })
}

/// JSON body parsing with errors in the admin API's own shape.
pub async fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, Response> {
    let bytes = read_admin_body(body, 1 << 20).await?;
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.to_ascii_lowercase().contains("json"));
    if !is_json {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_request",
            "send JSON (Content-Type: application/json)",
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, "bad_request", format!("invalid JSON body: {e}")))
}
