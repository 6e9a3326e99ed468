//! Helpers of the Open Energy integration tests: the demo directory of mock-server/fixtures/default.toml,
//! key + CSR the way the package's `oe_keygen` makes them (subject C/O/OU/CN), certificates
//! signed by the server, and reqwest clients that present them over real mTLS.
#![allow(dead_code)]

use std::time::Duration;

use mock_server::MockServer;
use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair};
use reqwest::header::HeaderMap;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

pub const DEFAULT_FIXTURES: &str = include_str!("../../fixtures/default.toml");

/// A software statement of the demo directory.
#[derive(Clone, Copy, Debug)]
pub struct Statement {
    pub organisation: &'static str,
    pub organisation_id: &'static str,
    pub id: &'static str,
    pub client_id: &'static str,
}

pub const CONSUMER: Statement = Statement {
    organisation: "Demo Energy Consumer Ltd",
    organisation_id: "4b1c8f52-2d8a-4b7e-9c31-6f0e2a7d5c10",
    id: "9f3e6a21-7c4b-4d8e-a512-3b6c9d0e1f27",
    client_id: "kZuAsn7UYZ98WWh29hDPf",
};
/// Same organisation, scope `directory:software` only.
pub const DIRECTORY_ONLY: Statement = Statement {
    organisation: "Demo Energy Consumer Ltd",
    organisation_id: "4b1c8f52-2d8a-4b7e-9c31-6f0e2a7d5c10",
    id: "2d7c5b1e-8a3f-4e6d-b9c0-71a2f4e8d356",
    client_id: "Xq3wR8tY1uI5oP7aS9dF2",
};
/// Status Inactive.
pub const WITHDRAWN: Statement = Statement {
    organisation: "Demo Energy Consumer Ltd",
    organisation_id: "4b1c8f52-2d8a-4b7e-9c31-6f0e2a7d5c10",
    id: "c8e1f0a2-3b4d-4c5e-8f6a-9b0c1d2e3f40",
    client_id: "Zk9LmN2bV4cX6zQ8wE1rT",
};
pub const PROVIDER: Statement = Statement {
    organisation: "Demo Data Provider plc",
    organisation_id: "7e2a9c4d-1f3b-4a6c-8d5e-0b9f2c7a1e63",
    id: "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    client_id: "Pv8mXqL2sRt6YwZ3nB9cD",
};

pub const GRID_INTENSITY: &str = "/datasets/grid-intensity";
pub const CONSUMPTION_CSV: &str = "/datasets/postcode-consumption";

/// The subject `oe_keygen` writes: C=UK, O=<organisation>, OU=<organisation id>, CN=<statement id>.
pub fn oe_subject(organisation: &str, organisation_id: &str, statement_id: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, DnValue::PrintableString("UK".try_into().unwrap()));
    dn.push(DnType::OrganizationName, organisation);
    dn.push(DnType::OrganizationalUnitName, organisation_id);
    dn.push(DnType::CommonName, statement_id);
    dn
}

/// A P-256 key and a CSR for `subject` (fast); returns (csr PEM, key PEM).
pub fn csr_for(subject: DistinguishedName) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = subject;
    (params.serialize_request(&key).unwrap().pem().unwrap(), key.serialize_pem())
}

/// An RSA-2048 key and CSR, as `oe_keygen` makes them (slower).
pub fn rsa_csr_for(subject: DistinguishedName) -> (String, String) {
    let key = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap();
    let pem = key.serialize_pem();
    let mut params = CertificateParams::default();
    params.distinguished_name = subject;
    (params.serialize_request(&key).unwrap().pem().unwrap(), pem)
}

/// A client's credentials: its certificate and key, and the certificate's `x5t#S256`.
#[derive(Clone)]
pub struct Credentials {
    pub client_id: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub thumbprint: String,
}

impl Credentials {
    pub fn identity(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(format!("{}{}", self.cert_pem, self.key_pem).as_bytes()).unwrap()
    }
}

/// A certificate from `server` for `statement`, valid a year on its clock.
pub fn credentials(server: &MockServer, statement: Statement) -> Credentials {
    credentials_valid_for(server, statement, 365 * 86_400)
}

pub fn credentials_valid_for(server: &MockServer, statement: Statement, seconds: i64) -> Credentials {
    let (csr, key_pem) = csr_for(oe_subject(statement.organisation, statement.organisation_id, statement.id));
    let issued = server.sign_csr(csr.as_bytes(), seconds).unwrap();
    Credentials {
        client_id: statement.client_id.into(),
        cert_pem: issued.certificate,
        key_pem,
        thumbprint: issued.thumbprint,
    }
}

fn builder(server: &MockServer) -> reqwest::ClientBuilder {
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).unwrap();
    Client::builder().tls_certs_only([ca]).timeout(Duration::from_secs(30))
}

/// A client presenting `credentials` (or no certificate at all) and trusting only the dev CA.
pub fn mtls_client(server: &MockServer, credentials: Option<&Credentials>) -> Client {
    let mut b = builder(server);
    if let Some(c) = credentials {
        b = b.identity(c.identity());
    }
    b.build().unwrap()
}

pub fn auth_url(server: &MockServer, path: &str) -> String {
    format!("{}{path}", server.url("openenergy.auth"))
}

pub fn data_url(server: &MockServer, path: &str) -> String {
    format!("{}{path}", server.url("openenergy.data"))
}

pub fn directory_url(server: &MockServer, path: &str) -> String {
    format!("{}{path}", server.url("openenergy.directory"))
}

pub fn admin(server: &MockServer, path: &str) -> String {
    format!("{}{path}", server.endpoints().admin)
}

/// Status, headers and the body as JSON (panics with the body when it is not JSON).
pub async fn json(response: Response) -> (StatusCode, HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text:?}"));
    (status, headers, value)
}

pub fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /token` with client credentials for `client_id` and an optional scope.
pub async fn token_response(
    http: &Client,
    server: &MockServer,
    client_id: &str,
    scope: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let mut form = vec![("grant_type", "client_credentials"), ("client_id", client_id)];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    json(http.post(auth_url(server, "/token")).form(&form).send().await.unwrap()).await
}

/// A token that must be issued.
pub async fn token(http: &Client, server: &MockServer, client_id: &str, scope: Option<&str>) -> String {
    let (status, _, body) = token_response(http, server, client_id, scope).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// Introspection by `http`'s client.
pub async fn introspect(http: &Client, server: &MockServer, caller: &str, token: &str) -> (StatusCode, Value) {
    let form = [("token", token), ("client_id", caller)];
    let (status, _, body) =
        json(http.post(auth_url(server, "/token/introspection")).form(&form).send().await.unwrap()).await;
    (status, body)
}

/// The journal's events of one kind, as JSON.
pub fn events_of_kind(server: &MockServer, kind: &str) -> Vec<Value> {
    server
        .events()
        .all()
        .into_iter()
        .filter(|e| e.kind.name() == kind)
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

/// Default fixtures with `from` replaced by `to` (which must be there).
pub fn fixtures_with(from: &str, to: &str) -> String {
    assert!(DEFAULT_FIXTURES.contains(from), "mock-server/fixtures/default.toml no longer has {from:?}");
    DEFAULT_FIXTURES.replacen(from, to, 1)
}

/// A server with these fixtures.
pub async fn server_with(fixtures: String) -> MockServer {
    MockServer::builder().fixtures_toml(fixtures).start().await.unwrap()
}

/// Default fixtures with TOML tables (full paths, e.g. `[[openenergy.revoked_certificates]]`)
/// appended at the end.
pub fn fixtures_plus(tables: &str) -> String {
    format!("{DEFAULT_FIXTURES}\n{tables}\n")
}
