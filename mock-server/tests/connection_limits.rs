//! The HTTP listeners bound what a misbehaving client can hold: a connection quiet with no
//! request being served is closed (plain HTTP that never sends a byte, TLS quiet after its
//! handshake, HTTP/2 quiet after its preface), a request body that trickles in past its
//! deadline is refused in the provider's own error shape, and a listener holds a limited number
//! of connections open. Real sockets, real TLS; the server's limits are set short.

mod common;
#[path = "common/mqtt.rs"]
mod mqtt_client;

use std::time::Duration;

use common::*;
use mock_server::MockServer;
use mqtt_client::tls_connector;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const IDLE: Duration = Duration::from_secs(1);
const BODY: Duration = Duration::from_secs(1);

async fn server() -> MockServer {
    MockServer::builder().idle_timeout(IDLE).body_timeout(BODY).max_connections(4).start().await.unwrap()
}

fn address(url: &str) -> String {
    url.split("://").nth(1).unwrap().split('/').next().unwrap().to_owned()
}

/// Waits for the peer to close (EOF or reset), at most `within`; how long it took.
async fn closed_within(stream: &mut (impl AsyncRead + Unpin), within: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the connection was still open after {within:?}"),
        }
    }
}

#[tokio::test]
async fn a_plain_connection_that_sends_nothing_is_closed_when_idle() {
    let server = server().await;
    let mut stream = TcpStream::connect(address(&server.endpoints().http)).await.unwrap();
    let took = closed_within(&mut stream, IDLE * 5).await;
    assert!(took >= IDLE, "closed after {took:?}, before the idle time");
}

#[tokio::test]
async fn a_tls_connection_quiet_after_its_handshake_is_closed_when_idle() {
    let server = server().await;
    let tcp = TcpStream::connect(address(&server.endpoints().https)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap().to_owned();
    let mut tls = tls_connector(server.ca_pem()).connect(name, tcp).await.expect("handshake");
    closed_within(&mut tls, IDLE * 5).await;
}

#[tokio::test]
async fn an_http2_connection_quiet_after_its_preface_is_closed_when_idle() {
    let server = server().await;
    let mut stream = TcpStream::connect(address(&server.endpoints().http)).await.unwrap();
    // The client preface and an empty SETTINGS frame (RFC 9113 §3.4), then nothing.
    stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").await.unwrap();
    closed_within(&mut stream, IDLE * 5).await;
}

#[tokio::test]
async fn a_keep_alive_connection_is_closed_when_idle_but_not_while_a_request_is_served() {
    let server = server().await;
    // A request answered after twice the idle time (a fault's delay) is not cut.
    server
        .faults()
        .add(mock_server::FaultRule::on("kalibrate", "data").route("/api/status").times(1).delay_ms(2_000).status(503))
        .unwrap();
    let mut stream = TcpStream::connect(address(&server.endpoints().http)).await.unwrap();
    let request = "GET /kalibrate/data/api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer)).await.unwrap().unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    // Then, quiet on a kept-alive connection, it is closed.
    closed_within(&mut stream, IDLE * 5).await;
}

#[tokio::test]
async fn a_trickling_body_is_refused_in_the_providers_error_shape() {
    let server = server().await;
    let mut stream = TcpStream::connect(address(&server.endpoints().http)).await.unwrap();
    let path = format!("/kalibrate/login/{SANDPIT}/oauth2/v2.0/token");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..1000 {
            if writer.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\r\n\r\n{") || !answer.ends_with(b"}") {
        match tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no answer 10 s after the body started: {}", String::from_utf8_lossy(&answer)),
        }
    }
    let took = started.elapsed();
    trickle.abort();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("\"error\":\"invalid_request\"") && text.contains("AADSTS"), "Azure AD's shape: {text}");
    assert!(took < Duration::from_secs(5), "answered after {took:?}; the whole body would take 100 s");
}

#[tokio::test]
async fn a_listener_holds_a_limited_number_of_connections() {
    let server = MockServer::builder().max_connections(3).start().await.unwrap();
    let http = address(&server.endpoints().http);
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(&http).await.unwrap();
        s.write_all(b"GET /__admin/health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(s);
    }
    // One more is closed as it comes.
    let mut extra = TcpStream::connect(&http).await.unwrap();
    let _ = extra.write_all(b"GET /__admin/health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    closed_within(&mut extra, Duration::from_secs(5)).await;
    // Once one closes, a new one is served.
    drop(held.pop());
    let http_client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match http_client.get(admin(&server, "/health")).send().await {
            Ok(r) if r.status() == 200 => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("no slot freed: {other:?}"),
        }
    }
}
