//! The two error shapes of Open Energy.
//!
//! The authorization server answers OAuth 2.0 JSON errors (RFC 6749 §5.2):
//! `{"error": "invalid_client", "error_description": "..."}` with `Cache-Control: no-store` and
//! `Pragma: no-cache`. The package's `FAPISession` calls `.json()` on a failed token response, so
//! the body must be JSON whatever went wrong. Unknown routes answer as node-oidc-provider (the
//! directory's authorization server) does: 404 `invalid_request`, "unrecognized route or not
//! allowed method".
//!
//! The resource servers answer as the package's `AccessTokenValidator` does (its
//! `build_error_response`): an empty body, `Cache-Control: no-store`, `Pragma: no-cache` and
//! `WWW-Authenticate: Bearer` followed by `error="..."` and `scope="..."` when there are
//! some, in the package's order but without the trailing `, ` or space the package leaves (a
//! field value has no trailing whitespace, RFC 9110 §5.5).

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use chrono::{DateTime, Utc};
use serde_json::json;

/// An OAuth 2.0 error of the authorization server.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status, error, description: description.into() }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// Client authentication failed (RFC 6749 §5.2): 401.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    pub fn into_response(self) -> Response<Body> {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut r = Response::new(Body::from(body.to_string()));
        *r.status_mut() = self.status;
        no_store_json(r.headers_mut());
        r
    }
}

/// Headers of token and introspection responses, errors included.
pub fn no_store_json(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// node-oidc-provider's answer to a path or method it does not serve.
pub fn unrecognized_route(method: &Method, uri: &Uri) -> Response<Body> {
    let mut e =
        OAuthError::invalid_request(format!("unrecognized route or not allowed method ({method} on {})", uri.path()));
    e.status = StatusCode::NOT_FOUND;
    e.into_response()
}

/// A refusal of a resource server, as the package's `build_error_response` renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct BearerError {
    pub status: StatusCode,
    /// `invalid_token`, `insufficient_scope`, `invalid_request`; none for "no credentials".
    pub error: Option<&'static str>,
    /// The scope the endpoint requires, when it requires one.
    pub scope: Option<String>,
}

impl BearerError {
    /// 401 with a bare `Bearer` challenge: no certificate, no or non-bearer Authorization.
    pub fn unauthenticated() -> Self {
        BearerError { status: StatusCode::UNAUTHORIZED, error: None, scope: None }
    }

    pub fn invalid_token(scope: Option<&str>) -> Self {
        BearerError { status: StatusCode::UNAUTHORIZED, error: Some("invalid_token"), scope: scope.map(str::to_owned) }
    }

    pub fn invalid_request(status: StatusCode, scope: Option<&str>) -> Self {
        BearerError { status, error: Some("invalid_request"), scope: scope.map(str::to_owned) }
    }

    pub fn insufficient_scope(scope: &str) -> Self {
        BearerError { status: StatusCode::FORBIDDEN, error: Some("insufficient_scope"), scope: Some(scope.to_owned()) }
    }

    /// `Bearer`, then `error=".."` and `scope=".."` as the package orders them (RFC 6750 §3),
    /// without the package's trailing `, ` or space: a field value carries no trailing
    /// whitespace (RFC 9110 §5.5).
    pub fn challenge(&self) -> String {
        let mut params = Vec::new();
        if let Some(error) = self.error {
            params.push(format!("error=\"{error}\""));
        }
        if let Some(scope) = &self.scope {
            params.push(format!("scope=\"{}\"", scope.replace(['"', '\\'], "")));
        }
        match params.is_empty() {
            true => "Bearer".to_owned(),
            false => format!("Bearer {}", params.join(", ")),
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = self.status;
        let challenge =
            HeaderValue::from_str(&self.challenge()).unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
        r.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        r
    }
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) for the `Date` header.
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_written_in_the_package_order_without_trailing_separators() {
        assert_eq!(BearerError::unauthenticated().challenge(), "Bearer");
        assert_eq!(BearerError::invalid_token(None).challenge(), "Bearer error=\"invalid_token\"");
        assert_eq!(
            BearerError::invalid_token(Some("a:b")).challenge(),
            "Bearer error=\"invalid_token\", scope=\"a:b\""
        );
        assert_eq!(
            BearerError::insufficient_scope("x").challenge(),
            "Bearer error=\"insufficient_scope\", scope=\"x\""
        );
    }

    #[test]
    fn dates_are_imf_fixdate() {
        let at: DateTime<Utc> = "1994-11-06T08:49:37Z".parse().unwrap();
        assert_eq!(http_date(at), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
