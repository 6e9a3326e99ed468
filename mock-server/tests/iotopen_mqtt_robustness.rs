//! The MQTT gate under bad input, over real sockets: garbage bytes, a CONNECT flood, clients
//! that never finish the TLS or WebSocket handshake or never send CONNECT, oversized packets.
//! Each test keeps a healthy subscriber and publisher going and checks they are not affected,
//! and that the bad connections are closed (within the handshake deadline where it applies).

#[path = "common/mqtt.rs"]
mod mqtt_client;

use std::time::{Duration, Instant};

use mock_server::mqtt::codec::Version;
use mock_server::MockServer;
use mqtt_client::{authority, connected, Client};
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ANNA: &str = "f7650807dffc43c98710bdd942d78b68";
const HANDSHAKE: Duration = Duration::from_millis(800);
const WAIT: Duration = Duration::from_secs(5);

async fn server() -> MockServer {
    MockServer::builder().mqtt_handshake_timeout(HANDSHAKE).mqtt_max_packet_bytes(64 * 1024).start().await.unwrap()
}

fn mqtt(server: &MockServer) -> mock_server::MqttEndpoints {
    server.endpoints().mqtt.clone().unwrap()
}

/// A subscriber and a publisher that must keep working.
struct Healthy {
    sub: Client,
    publisher: Client,
    n: u32,
}

impl Healthy {
    async fn new(server: &MockServer) -> Healthy {
        let m = mqtt(server);
        let mut sub = connected(&m.tls, server.ca_pem(), Version::V311, "healthy-sub", ANNA).await;
        assert_eq!(sub.subscribe(&["1001/obj/healthy"], 1).await.unwrap(), vec![1]);
        let publisher = connected(&m.ws, server.ca_pem(), Version::V5, "healthy-pub", ANNA).await;
        Healthy { sub, publisher, n: 0 }
    }

    async fn check(&mut self) {
        self.n += 1;
        let payload = format!(r#"{{"value": {}}}"#, self.n);
        assert_eq!(self.publisher.publish("1001/obj/healthy", payload.as_bytes(), 1).await.unwrap(), Some(0));
        let (topic, got) = self.sub.next_publish(WAIT).await.unwrap().expect("the healthy subscriber still receives");
        assert_eq!((topic.as_str(), &got[..]), ("1001/obj/healthy", payload.as_bytes()));
    }
}

/// Reads until the server closes the socket; `true` if it did within `wait`.
async fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn garbage_bytes_close_only_their_connection() {
    let server = server().await;
    let m = mqtt(&server);
    let mut healthy = Healthy::new(&server).await;
    let mut rng = rand::rng();
    let mut blobs: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![0xff; 64],
        vec![0x00; 16],
        vec![0x30, 0xff, 0xff, 0xff, 0xff, 0x7f],
        vec![0x10, 0x03, 0x00, 0x04, b'M'],
        vec![0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00],
    ];
    for _ in 0..40 {
        let mut blob = vec![0u8; 1 + (rng.next_u32() % 300) as usize];
        rng.fill_bytes(&mut blob);
        blobs.push(blob);
    }
    for url in [&m.tcp, &m.tls, &m.ws] {
        for blob in &blobs {
            let mut s = TcpStream::connect(authority(url)).await.unwrap();
            let _ = s.write_all(blob).await;
            assert!(
                closed_by_server(&mut s, HANDSHAKE + WAIT).await,
                "{url}: garbage {:?}",
                &blob[..blob.len().min(8)]
            );
        }
        healthy.check().await;
    }
    // Garbage after a good CONNECT, on each version.
    for version in [Version::V311, Version::V5] {
        let mut c = connected(&m.tcp, server.ca_pem(), version, "noisy", ANNA).await;
        c.write(&[0x00, 0x01, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff]).await.unwrap();
        assert!(c.closed_within(WAIT).await);
        healthy.check().await;
    }
    let disconnected = server.events().all().into_iter().filter(|e| e.kind.name() == "mqtt.disconnected").count();
    assert!(disconnected >= blobs.len() * 3, "every bad connection is journaled ({disconnected})");
}

#[tokio::test]
async fn a_connect_flood_does_not_affect_other_clients() {
    let server = server().await;
    let m = mqtt(&server);
    let mut healthy = Healthy::new(&server).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..40 {
        let url = m.tcp.clone();
        tasks.push(tokio::spawn(async move {
            let mut refused = 0;
            for i in 0..15 {
                let Ok(mut c) = Client::tcp(&url, if i % 2 == 0 { Version::V311 } else { Version::V5 }).await else {
                    continue;
                };
                match c.connect(&format!("flood-{t}-{i}"), Some("ffffffffffffffffffffffffffffffff")).await {
                    Ok(0x05 | 0x87) => refused += 1,
                    other => panic!("flood CONNECT answered {other:?}"),
                }
            }
            refused
        }));
    }
    // Meanwhile the healthy clients keep exchanging messages, and new good clients get in.
    for i in 0..5 {
        healthy.check().await;
        let c = connected(&m.tcp, server.ca_pem(), Version::V311, &format!("late-{i}"), ANNA).await;
        c.disconnect().await;
    }
    let mut refused = 0;
    for t in tasks {
        refused += t.await.unwrap();
    }
    assert_eq!(refused, 40 * 15, "every flooding CONNECT got its refusal");
    healthy.check().await;
    eprintln!("600 refused CONNECTs in {:?}", started.elapsed());
}

#[tokio::test]
async fn never_finished_tls_or_websocket_handshakes_and_silent_sockets_time_out() {
    let server = server().await;
    let m = mqtt(&server);
    let mut healthy = Healthy::new(&server).await;
    let mut stalled = Vec::new();
    for _ in 0..20 {
        // TLS: nothing at all, or a partial ClientHello.
        stalled.push(TcpStream::connect(authority(&m.tls)).await.unwrap());
        let mut s = TcpStream::connect(authority(&m.tls)).await.unwrap();
        s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]).await.unwrap();
        stalled.push(s);
        // WebSocket: half an upgrade request.
        let mut s = TcpStream::connect(authority(&m.ws)).await.unwrap();
        s.write_all(b"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n").await.unwrap();
        stalled.push(s);
        // Plain TCP: connected, never a CONNECT.
        stalled.push(TcpStream::connect(authority(&m.tcp)).await.unwrap());
    }
    // New clients of every transport get in while those hang.
    healthy.check().await;
    for url in [&m.tcp, &m.tls, &m.ws] {
        connected(url, server.ca_pem(), Version::V5, "newcomer", ANNA).await.disconnect().await;
    }
    let started = Instant::now();
    for s in &mut stalled {
        assert!(closed_by_server(s, HANDSHAKE + Duration::from_secs(3)).await, "a stalled socket stays open");
    }
    assert!(started.elapsed() < HANDSHAKE + Duration::from_secs(3));
    healthy.check().await;
    let reasons: Vec<String> = server
        .events()
        .all()
        .into_iter()
        .filter_map(|e| match e.kind {
            mock_server::EventKind::MqttDisconnected { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert!(reasons.iter().any(|r| r.contains("tls handshake not finished")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("ws handshake not finished")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("no CONNECT before the handshake deadline")), "{reasons:?}");
}

#[tokio::test]
async fn oversized_packets_close_the_connection_with_packet_too_large_on_5() {
    let server = server().await;
    let m = mqtt(&server);
    let mut healthy = Healthy::new(&server).await;
    // A PUBLISH announcing 10 MB: refused from its header alone, before any of it is buffered.
    for url in [&m.tcp, &m.tls, &m.ws] {
        let mut c = connected(url, server.ca_pem(), Version::V5, "big", ANNA).await;
        c.write(&[0x30, 0x80, 0xad, 0xe2, 0x04]).await.unwrap();
        let frame = c.read_frame(WAIT).await.unwrap().expect("a DISCONNECT");
        assert_eq!((frame[0], frame[2]), (0xe0, 0x95), "DISCONNECT with 0x95 packet too large");
        assert!(c.closed_within(WAIT).await);
    }
    // A complete packet just over the 64 KiB limit, on 3.1.1 (no DISCONNECT there: closed).
    let mut c = connected(&m.tcp, server.ca_pem(), Version::V311, "big311", ANNA).await;
    let payload = vec![b'x'; 64 * 1024];
    let frame = c.publish_bytes("1001/obj/big", &payload, 0);
    let _ = c.write(&frame).await;
    assert!(c.closed_within(WAIT).await);
    // An oversized CONNECT is refused before authentication.
    let mut s = TcpStream::connect(authority(&m.tcp)).await.unwrap();
    s.write_all(&[0x10, 0xff, 0xff, 0xff, 0x7f]).await.unwrap();
    assert!(closed_by_server(&mut s, WAIT).await);
    // Just under the limit is fine.
    let mut ok = connected(&m.tcp, server.ca_pem(), Version::V311, "fits", ANNA).await;
    assert_eq!(ok.publish("1001/evt/fits", &vec![b'y'; 60 * 1024], 1).await.unwrap(), Some(0));
    healthy.check().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_only_stalls_itself() {
    let server = server().await;
    let m = mqtt(&server);
    let mut healthy = Healthy::new(&server).await;
    // A subscriber that never reads, while a lot is published to it.
    let mut lazy = connected(&m.tcp, server.ca_pem(), Version::V311, "lazy", ANNA).await;
    assert_eq!(lazy.subscribe(&["1001/evt/flood"], 0).await.unwrap(), vec![0]);
    let mut flooder = connected(&m.tcp, server.ca_pem(), Version::V311, "flooder", ANNA).await;
    let payload = vec![b'z'; 16 * 1024];
    for _ in 0..300 {
        let frame = flooder.publish_bytes("1001/evt/flood", &payload, 0);
        flooder.write(&frame).await.unwrap();
    }
    healthy.check().await;
}

#[tokio::test]
async fn a_flood_of_sockets_that_never_send_connect_never_keeps_a_client_out() {
    // The default handshake deadline (10 s) and waiting places (256 per namespace): 300 silent
    // sockets fill them all, and newcomers must still get in at once, on every transport.
    let server = MockServer::builder().start().await.unwrap();
    let m = mqtt(&server);
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(TcpStream::connect(authority(&m.tcp)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (i, url) in [&m.tcp, &m.tls, &m.ws, &m.tcp].into_iter().enumerate() {
        let started = Instant::now();
        connected(url, server.ca_pem(), Version::V311, &format!("newcomer-{i}"), ANNA).await.disconnect().await;
        assert!(started.elapsed() < Duration::from_secs(2), "a newcomer waited {:?}", started.elapsed());
    }
    // The oldest silent sockets made room: closed by the server well before their deadline.
    let mut closed = 0;
    for s in silent.iter_mut().take(48) {
        if closed_by_server(s, Duration::from_millis(200)).await {
            closed += 1;
        }
    }
    assert!(closed >= 44, "only {closed} of the oldest 48 silent sockets were closed");
    let evicted = server
        .events()
        .all()
        .into_iter()
        .filter(|e| matches!(&e.kind, mock_server::EventKind::MqttDisconnected { reason, .. } if reason.contains("needed its place")))
        .count();
    assert!(evicted >= 44, "{evicted} evictions journaled");
}
