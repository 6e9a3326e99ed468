//! Opinum's error shapes.
//!
//! - Token endpoint (IdentityServer / Keycloak): RFC 6749 §5.2 JSON, `{"error"}` or
//!   `{"error", "error_description"}`, with `Cache-Control: no-store`.
//! - Data Hub API and push (ASP.NET Core): 401 with `WWW-Authenticate: Bearer error=...` and no
//!   body, 403 with no body, other errors as RFC 7807 problem details
//!   `{"type", "title", "status", "detail"}`.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use serde_json::json;

use crate::contract::json_response;

/// An RFC 6749 error from the token endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: Option<String>,
    /// Why, for the journal (the wire says less).
    pub reason: String,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: Option<&str>, reason: impl Into<String>) -> Self {
        OAuthError { status, error, description: description.map(str::to_owned), reason: reason.into() }
    }

    pub fn invalid_request(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description: Some(reason.clone()),
            reason,
        }
    }

    /// IdentityServer answers a bad client with the bare code (Opinum's own tests look for
    /// `(invalid_client)` in requests-oauthlib's message).
    pub fn invalid_client(reason: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: None,
            reason: reason.into(),
        }
    }

    pub fn invalid_grant(description: &str, reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", Some(description), reason)
    }

    pub fn invalid_scope(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", None, reason)
    }

    pub fn into_response(self) -> Response<Body> {
        let body = match &self.description {
            Some(d) => json!({"error": self.error, "error_description": d}),
            None => json!({"error": self.error}),
        };
        let mut r = json_response(self.status, body);
        no_store(&mut r);
        r
    }
}

pub fn no_store(r: &mut Response<Body>) {
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache, max-age=0"));
    r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// 401 as ASP.NET Core's JwtBearer handler answers it.
pub fn unauthorized(error: Option<(&str, &str)>) -> Response<Body> {
    let challenge = match error {
        Some((code, description)) => {
            format!("Bearer error=\"{code}\", error_description=\"{}\"", description.replace('"', "'"))
        }
        None => "Bearer".to_owned(),
    };
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static("Bearer")),
    );
    r
}

pub fn forbidden() -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::FORBIDDEN;
    r
}

/// An RFC 7807 problem, as ASP.NET Core writes them.
pub fn problem(status: StatusCode, detail: impl Into<String>) -> Response<Body> {
    let (kind, title) = match status.as_u16() {
        400 => ("https://tools.ietf.org/html/rfc7231#section-6.5.1", "Bad Request"),
        404 => ("https://tools.ietf.org/html/rfc7231#section-6.5.4", "Not Found"),
        405 => ("https://tools.ietf.org/html/rfc7231#section-6.5.5", "Method Not Allowed"),
        413 => ("https://tools.ietf.org/html/rfc7231#section-6.5.11", "Payload Too Large"),
        415 => ("https://tools.ietf.org/html/rfc7231#section-6.5.13", "Unsupported Media Type"),
        _ => ("about:blank", status.canonical_reason().unwrap_or("Error")),
    };
    let mut r = json_response(
        status,
        json!({"type": kind, "title": title, "status": status.as_u16(), "detail": detail.into()}),
    );
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json; charset=utf-8"));
    r
}
