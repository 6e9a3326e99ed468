//! Helpers shared by the integration tests: a reqwest client that trusts only the server's dev
//! CA, the demo credentials of mock-server/fixtures/default.toml, and small JSON helpers.
#![allow(dead_code)]

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mock_server::MockServer;
use reqwest::header::HeaderMap;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

pub const SANDPIT: &str = "efa98c7b-2114-46e8-be99-954a4f1a2d9c";
pub const SANDPIT_DOMAIN: &str = "kalibratesandpit.onmicrosoft.com";
pub const SANDPIT_AUDIENCE: &str = "api://dev.data.thekalibratecloud.com/c770a337-3c7e-4bbe-a8cb-2fbc9601b94f";
pub const SANDPIT_SCOPE: &str = "api://dev.data.thekalibratecloud.com/c770a337-3c7e-4bbe-a8cb-2fbc9601b94f/.default";
pub const PROD: &str = "3b1e5c9a-6f2d-4e8b-a7c4-0d9f8e7a6b5c";
pub const PROD_AUDIENCE: &str = "api://data.thekalibratecloud.com/4d2c8b1a-9e7f-4a6b-b5c3-2e1d0f9a8b7c";
pub const PROD_SCOPE: &str = "api://data.thekalibratecloud.com/4d2c8b1a-9e7f-4a6b-b5c3-2e1d0f9a8b7c/.default";

/// (client_id, secret)
pub const READER: (&str, &str) = ("0525b217-cbb9-4d4a-b8a1-7551c30098cf", "sandpit-read-secret");
pub const WRITER: (&str, &str) = ("5f1c2a4e-7d3b-4c1a-9e8f-2b6d4a0c9e11", "sandpit-readwrite-secret");
pub const EXPIRED: (&str, &str) = ("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "sandpit-expired-secret");
pub const PROD_READER: (&str, &str) = ("c0ffee00-1234-4abc-8def-0123456789ab", "production-read-secret");

pub const DEFAULT_FIXTURES: &str = include_str!("../../fixtures/default.toml");

/// A client over real TLS that trusts the server's dev CA and nothing else.
pub fn client(server: &MockServer) -> Client {
    builder(server).build().expect("reqwest client")
}

/// The same, without connection reuse (for faults that cut connections).
pub fn fresh_client(server: &MockServer) -> Client {
    builder(server).pool_max_idle_per_host(0).build().expect("reqwest client")
}

fn builder(server: &MockServer) -> reqwest::ClientBuilder {
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("CA PEM");
    Client::builder()
        .tls_certs_only([ca])
        .user_agent("mock-server-integration-tests/1.0")
        .timeout(Duration::from_secs(30))
}

pub fn admin(server: &MockServer, path: &str) -> String {
    format!("{}{path}", server.endpoints().admin)
}

pub fn token_url(server: &MockServer, tenant: &str) -> String {
    format!("{}/{tenant}/oauth2/v2.0/token", server.url("kalibrate.login"))
}

pub fn data_url(server: &MockServer, path: &str) -> String {
    format!("{}{path}", server.url("kalibrate.data"))
}

/// Status, headers and the body parsed as JSON (panics, showing the body, when it is not JSON).
pub async fn json(response: Response) -> (StatusCode, HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("response body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text:?}"));
    (status, headers, value)
}

pub fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Asks for a token with client credentials (form post) and returns the whole answer.
pub async fn token_response(
    http: &Client,
    server: &MockServer,
    tenant: &str,
    (client_id, secret): (&str, &str),
    scope: &str,
) -> (StatusCode, HeaderMap, Value) {
    let form =
        [("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret), ("scope", scope)];
    json(http.post(token_url(server, tenant)).form(&form).send().await.expect("token request")).await
}

/// A token that must be issued.
pub async fn token(http: &Client, server: &MockServer, tenant: &str, credentials: (&str, &str), scope: &str) -> String {
    let (status, _, body) = token_response(http, server, tenant, credentials, scope).await;
    assert_eq!(status, StatusCode::OK, "token request failed: {body}");
    body["access_token"].as_str().expect("access_token").to_owned()
}

pub async fn sandpit_token(http: &Client, server: &MockServer, credentials: (&str, &str)) -> String {
    token(http, server, SANDPIT, credentials, SANDPIT_SCOPE).await
}

/// The JSON of a JWT segment (0 = header, 1 = claims).
pub fn jwt_part(jwt: &str, part: usize) -> Value {
    let segment = jwt.split('.').nth(part).expect("JWT segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("JSON segment")
}

/// Events from the admin API, with a query string such as `kind=token.issued`.
pub async fn admin_events(http: &Client, server: &MockServer, query: &str) -> Vec<Value> {
    let (status, _, body) = json(http.get(admin(server, &format!("/events?{query}"))).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["events"].as_array().expect("events array").clone()
}

/// The events of the library handle with this kind, as JSON.
pub fn events_of_kind(server: &MockServer, kind: &str) -> Vec<Value> {
    server.events().of_kind(kind).iter().map(|e| serde_json::to_value(e).unwrap()).collect()
}

/// Checks a body is Azure AD's error shape for `code`, with every field consistent.
pub fn assert_aad_error(headers: &HeaderMap, body: &Value, error: &str, code: u64) {
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], serde_json::json!([code]), "{body}");
    let description = body["error_description"].as_str().unwrap_or_else(|| panic!("no error_description: {body}"));
    assert!(description.starts_with(&format!("AADSTS{code}: ")), "{description}");
    let trace_id = body["trace_id"].as_str().expect("trace_id");
    let correlation_id = body["correlation_id"].as_str().expect("correlation_id");
    let timestamp = body["timestamp"].as_str().expect("timestamp");
    assert!(uuid::Uuid::try_parse(trace_id).is_ok(), "trace_id {trace_id}");
    assert!(uuid::Uuid::try_parse(correlation_id).is_ok(), "correlation_id {correlation_id}");
    assert!(
        chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%SZ").is_ok() && timestamp.len() == 20,
        "timestamp {timestamp}"
    );
    assert!(description.contains(&format!("\r\nTrace ID: {trace_id}\r\n")), "{description}");
    assert!(description.contains(&format!("\r\nCorrelation ID: {correlation_id}\r\n")), "{description}");
    assert!(description.ends_with(&format!("\r\nTimestamp: {timestamp}")), "{description}");
    assert_eq!(body["error_uri"], format!("https://login.microsoftonline.com/error?code={code}"), "{body}");
    assert_eq!(header(headers, "content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(header(headers, "cache-control"), Some("no-store, no-cache"));
    assert_eq!(header(headers, "pragma"), Some("no-cache"));
}

/// Default fixtures with another journal capacity.
pub fn fixtures_with_capacity(capacity: usize) -> String {
    let text = DEFAULT_FIXTURES.replacen("capacity = 10000", &format!("capacity = {capacity}"), 1);
    assert_ne!(text, DEFAULT_FIXTURES, "mock-server/fixtures/default.toml no longer has `capacity = 10000`");
    text
}
