//! The mTLS listener requests a client certificate, verifies it against the dev CA, and hands
//! it to handlers: the exchange in the journal carries its `x5t#S256` thumbprint.

use mock_server::{EventFilter, MockServer};

fn client(server: &MockServer, identity: Option<reqwest::Identity>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).unwrap();
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]);
    if let Some(identity) = identity {
        builder = builder.identity(identity);
    }
    builder.build().unwrap()
}

fn exchanges(server: &MockServer) -> Vec<serde_json::Value> {
    let filter = EventFilter { kind: Some("http.exchange".into()), ..Default::default() };
    server.events().matching(&filter).iter().map(|e| serde_json::to_value(e).unwrap()).collect()
}

#[tokio::test]
async fn handlers_see_the_verified_client_certificate() {
    let server = MockServer::start().await;
    let cert = server.issue_client_certificate("tester");
    let identity = reqwest::Identity::from_pem(format!("{}{}", cert.cert_pem, cert.key_pem).as_bytes()).unwrap();
    let url = format!("{}/nowhere", server.endpoints().mtls);

    let response = client(&server, Some(identity)).get(&url).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let without = client(&server, None).get(&url).send().await.unwrap();
    assert_eq!(without.status(), 404);

    let seen: Vec<_> = exchanges(&server).iter().map(|e| e["client_cert"].clone()).collect();
    assert_eq!(seen, vec![serde_json::json!(cert.thumbprint), serde_json::Value::Null]);
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_in_the_handshake() {
    let server = MockServer::start().await;
    let stranger = MockServer::start().await;
    let foreign = stranger.issue_client_certificate("stranger");
    let identity = reqwest::Identity::from_pem(format!("{}{}", foreign.cert_pem, foreign.key_pem).as_bytes()).unwrap();
    let result = client(&server, Some(identity)).get(format!("{}/nowhere", server.endpoints().mtls)).send().await;
    assert!(result.is_err(), "a foreign client certificate must not be accepted: {result:?}");
    assert!(exchanges(&server).is_empty());
}
