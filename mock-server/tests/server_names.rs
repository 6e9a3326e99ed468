//! Names added to the server certificate (`Builder::san`, `--san`): a client that reaches the
//! server by such a name (another container's view of it) verifies the certificate against the
//! dev CA over HTTPS and MQTT over TLS, a name not asked for is still refused, and a certs
//! directory holding a server certificate made without the name does not hide it.

#[path = "common/mqtt.rs"]
mod mqtt_client;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mock_server::mqtt::codec::Version;
use mock_server::MockServer;
use mqtt_client::Client;
use serde_json::Value;
use tokio::net::TcpStream;

const TENANT: &str = "efa98c7b-2114-46e8-be99-954a4f1a2d9c";
const FORM: [(&str, &str); 4] = [
    ("client_id", "0525b217-cbb9-4d4a-b8a1-7551c30098cf"),
    ("client_secret", "sandpit-read-secret"),
    ("scope", "api://dev.data.thekalibratecloud.com/c770a337-3c7e-4bbe-a8cb-2fbc9601b94f/.default"),
    ("grant_type", "client_credentials"),
];
const IOT_KEY: &str = "f7650807dffc43c98710bdd942d78b68";

fn https_addr(server: &MockServer) -> SocketAddr {
    server.endpoints().https.trim_start_matches("https://").parse().expect("HTTPS listener address")
}

/// A client that trusts only the dev CA and resolves `name` to the server's HTTPS listener on
/// 127.0.0.1, so the name is what it sends as SNI and `Host` and checks the certificate for.
fn client_reaching_as(server: &MockServer, name: &str) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("CA PEM");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve(name, https_addr(server))
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

/// Kalibrate's client-credentials token request to `https://{name}:{port}`.
async fn token_as(server: &MockServer, name: &str) -> Result<Value, String> {
    let url = format!("https://{name}:{}/kalibrate/login/{TENANT}/oauth2/v2.0/token", https_addr(server).port());
    let response = client_reaching_as(server, name).post(url).form(&FORM).send().await.map_err(|e| error_chain(&e))?;
    assert_eq!(response.status(), 200);
    Ok(response.json().await.expect("token answer is JSON"))
}

/// An error and its sources, so a certificate refusal deep inside reqwest shows.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

fn refused_for_the_name(error: &str) {
    assert!(error.contains("NotValidForName") || error.contains("not valid for name"), "{error}");
}

/// A bare TLS handshake with the HTTPS listener checking the certificate for `name`.
async fn handshake_as(server: &MockServer, name: &str) -> std::io::Result<()> {
    let tcp = TcpStream::connect(https_addr(server)).await?;
    let name = rustls::pki_types::ServerName::try_from(name.to_owned()).map_err(std::io::Error::other)?;
    mqtt_client::tls_connector(server.ca_pem()).connect(name, tcp).await.map(drop)
}

fn temp_certs_dir() -> PathBuf {
    std::env::temp_dir().join(format!("mock-server-names-{}-{:016x}", std::process::id(), rand::random::<u64>()))
}

#[tokio::test]
async fn a_name_asked_for_is_served_over_https_and_mqtt_tls_even_with_an_older_certificate_on_disk() {
    let dir = temp_certs_dir();

    // A server certificate made without the name, left in the certs directory.
    let before = MockServer::builder().certs_dir(&dir).start().await.unwrap();
    refused_for_the_name(&token_as(&before, "mock.internal").await.unwrap_err());
    let ca = before.ca_pem().to_owned();
    before.shutdown().await;
    let old_leaf = std::fs::read_to_string(dir.join("server.pem")).unwrap();

    let server = MockServer::builder()
        .certs_dir(&dir)
        .san("mock.internal")
        .san("10.9.8.7")
        .san("*.ci.internal")
        .san("Mock.Internal")
        .start()
        .await
        .unwrap();
    assert_eq!(server.ca_pem(), ca, "the same dev CA, reused");
    assert_ne!(std::fs::read_to_string(dir.join("server.pem")).unwrap(), old_leaf, "server.pem is the new certificate");

    // HTTPS by the name: the certificate verifies against the dev CA and a token is issued.
    let token = token_as(&server, "mock.internal").await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert!(token["access_token"].as_str().is_some_and(|t| t.split('.').count() == 3), "{token}");
    // A name nobody asked for is still refused, by the same client.
    refused_for_the_name(&token_as(&server, "elsewhere.internal").await.unwrap_err());

    // An address asked for is in the certificate as an address; a wildcard covers one label.
    handshake_as(&server, "10.9.8.7").await.unwrap();
    refused_for_the_name(&error_chain(&handshake_as(&server, "10.9.8.8").await.unwrap_err()));
    handshake_as(&server, "runner-1.ci.internal").await.unwrap();
    refused_for_the_name(&error_chain(&handshake_as(&server, "a.runner-1.ci.internal").await.unwrap_err()));

    // MQTT over TLS presents the same certificate: CONNECT with a demo API key by the name.
    let mqtts = server.endpoints().mqtt.clone().expect("MQTT endpoints").tls;
    let mut mqtt = Client::tls_as(&mqtts, "mock.internal", &ca, Version::V311).await.unwrap();
    assert_eq!(mqtt.connect("by-name", Some(IOT_KEY)).await.unwrap(), 0, "CONNACK accepted");
    let refused = Client::tls_as(&mqtts, "elsewhere.internal", &ca, Version::V311).await.err().expect("refused");
    refused_for_the_name(&error_chain(&refused));

    server.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_name_that_is_neither_a_host_name_nor_an_address_is_refused_by_name() {
    for bad in ["mock..internal", "https://mock", "10.0.0.300", ""] {
        let error = MockServer::builder().san("mock").san(bad).start().await.err().expect("refused").to_string();
        assert!(error.contains("server certificate name"), "{bad}: {error}");
        if !bad.is_empty() {
            assert!(error.contains(&format!("'{bad}'")), "{bad}: {error}");
        }
    }
}
