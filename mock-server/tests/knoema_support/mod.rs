//! Helpers of the Knoema integration tests: the service URLs, clients that do not follow
//! redirects, the signed header made as Knoema documents it (docs/providers/knoema.md#signed-header), and the events of the Knoema provider.
#![allow(dead_code)]

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use mock_server::MockServer;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sha1::Sha1;

pub const APP: &str = "demo-app";
pub const SECRET: &str = "demo-app-secret";
pub const OPEN_APP: (&str, &str) = ("open-app", "open-app-secret");
pub const REDIRECT: &str = "https://client.example.com/callback";
pub const NO_DATASET: &str = "Requested dataset doesn't exist or you don't have access to it.";

/// A client over the dev CA that never follows redirects (OAuth answers are redirects).
pub fn client(server: &MockServer) -> Client {
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("CA PEM");
    Client::builder()
        .tls_certs_only([ca])
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The dedicated listener's root (what KNOEMA_HOST is set to).
pub fn api(server: &MockServer) -> String {
    server.url("knoema.api")
}

pub fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

pub fn hour(at: DateTime<Utc>) -> String {
    at.format("%d-%m-%y-%H").to_string()
}

/// `Knoema {app}:{base64(HMAC-SHA1(key = hour, message = secret))}:1.2`
pub fn signed(app: &str, secret: &str, at: DateTime<Utc>) -> String {
    format!("Knoema {app}:{}:1.2", STANDARD.encode(hmac_sha1(hour(at).as_bytes(), secret.as_bytes())))
}

pub async fn body(r: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let status = r.status();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

pub async fn json(r: reqwest::Response) -> (StatusCode, Value) {
    let (status, _, text) = body(r).await;
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}")))
}

/// Knoema's events of one kind, as JSON.
pub fn events(server: &MockServer, kind: &str) -> Vec<Value> {
    server
        .events()
        .all()
        .into_iter()
        .filter(|e| e.provider == "knoema" && e.kind.name() == kind)
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

pub fn last_reason(server: &MockServer) -> String {
    events(server, "api.denied").last().expect("an api.denied event")["reason"].as_str().unwrap().to_owned()
}

/// Freezes the virtual clock at `at`.
pub fn freeze_at(server: &MockServer, at: &str) -> DateTime<Utc> {
    let at: DateTime<Utc> = at.parse().unwrap();
    server
        .clock()
        .apply(&mock_server::ClockChange { set: Some(at), freeze: Some(true), ..Default::default() })
        .unwrap();
    at
}
