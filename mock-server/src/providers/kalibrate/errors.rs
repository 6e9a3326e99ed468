//! Azure AD's error body, as the token and discovery endpoints return it:
//! `{"error", "error_description": "AADSTS<n>: <message>\r\nTrace ID: ..\r\nCorrelation ID: ..\r\n
//! Timestamp: YYYY-MM-DD HH:MM:SSZ", "error_codes": [n], "timestamp", "trace_id",
//! "correlation_id", "error_uri"}`. MSAL surfaces this dict to the caller as it is.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::request_ids::REQUEST_ID;

/// One AADSTS error.
#[derive(Debug, Clone, PartialEq)]
pub struct AadError {
    pub status: StatusCode,
    /// OAuth error code: `invalid_request`, `invalid_client`...
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u64,
    pub message: String,
}

impl AadError {
    pub fn new(status: StatusCode, error: &'static str, code: u64, message: impl Into<String>) -> Self {
        AadError { status, error, code, message: message.into() }
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    pub fn invalid_request(detail: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90023,
            format!("The authentication service request is not valid: {detail}"),
        )
    }

    pub fn unknown_tenant(tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. \
                 Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    pub fn malformed_tenant(tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900023,
            format!("Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."),
        )
    }

    /// Renders the body with trace and correlation ids and the virtual-clock timestamp.
    pub fn into_response(self, now: DateTime<Utc>, request_headers: &HeaderMap) -> Response<Body> {
        let timestamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
        // The id `x-ms-request-id` carries (`request_ids.rs`), when the request went through it.
        let trace_id = request_headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        // MSAL sends `client-request-id`; Azure AD echoes it as the correlation id.
        let correlation_id = request_headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| uuid::Uuid::try_parse(v).ok())
            .unwrap_or_else(uuid::Uuid::new_v4)
            .to_string();
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.message
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        let mut response = Response::new(Body::from(body.to_string()));
        *response.status_mut() = self.status;
        no_store_json(response.headers_mut());
        response
    }
}

/// Headers of every token endpoint response.
pub fn no_store_json(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
