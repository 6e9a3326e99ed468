//! Client ids through the gate: a clean session reaches the engine under an id of a small pool
//! (so that the engine's memory of client ids stays bounded), and what MQTT says about client ids
//! still holds: the same id twice at once takes the first connection over (MQTT-3.1.4-2), two
//! different ids never do, and empty ids on 3.1.1 are each a client of their own.

#[path = "common/mqtt.rs"]
mod mqtt_client;

use std::time::Duration;

use mock_server::mqtt::codec::Version;
use mock_server::MockServer;
use mqtt_client::{connected, Client};

const ANNA: &str = "f7650807dffc43c98710bdd942d78b68";
const TOPIC: &str = "1001/obj/zwave/12/temperature";
const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(400);

fn tcp(server: &MockServer) -> String {
    server.endpoints().mqtt.clone().expect("mqtt endpoints").tcp
}

/// `client` still relays both ways: what it publishes reaches a subscriber.
async fn relays(server: &MockServer, client: &mut Client, version: Version, label: &str) {
    let mut sub = connected(&tcp(server), server.ca_pem(), version, &format!("watch-{label}"), ANNA).await;
    assert_eq!(sub.subscribe(&[TOPIC], 1).await.unwrap(), vec![1]);
    let payload = format!(r#"{{"timestamp": 1700000000, "value": 1, "from": "{label}"}}"#);
    assert_eq!(client.publish(TOPIC, payload.as_bytes(), 1).await.unwrap(), Some(0), "{label}: PUBACK");
    let (_, body) = sub.next_publish(WAIT).await.unwrap().unwrap_or_else(|| panic!("{label}: not delivered"));
    assert_eq!(&body[..], payload.as_bytes());
    sub.disconnect().await;
}

#[tokio::test]
async fn the_same_client_id_twice_at_once_takes_the_first_connection_over() {
    let server = MockServer::start().await;
    for version in [Version::V311, Version::V5] {
        let mut first = connected(&tcp(&server), server.ca_pem(), version, "meter-1", ANNA).await;
        let mut second = connected(&tcp(&server), server.ca_pem(), version, "meter-1", ANNA).await;
        assert!(first.closed_within(WAIT).await, "{version:?}: the first connection is taken over");
        relays(&server, &mut second, version, "second").await;
        second.disconnect().await;

        // Once both are gone, the id connects afresh.
        let mut third = connected(&tcp(&server), server.ca_pem(), version, "meter-1", ANNA).await;
        relays(&server, &mut third, version, "third").await;
        third.disconnect().await;
    }
}

#[tokio::test]
async fn different_client_ids_at_once_never_take_each_other_over() {
    let server = MockServer::start().await;
    let mut clients = Vec::new();
    for i in 0..5 {
        clients.push(connected(&tcp(&server), server.ca_pem(), Version::V311, &format!("sensor-{i}"), ANNA).await);
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert!(!client.closed_within(QUIET).await, "sensor-{i} is still connected");
        relays(&server, client, Version::V311, &format!("sensor-{i}")).await;
    }
}

#[tokio::test]
async fn empty_client_ids_on_3_1_1_are_clients_of_their_own() {
    let server = MockServer::start().await;
    let mut a = connected(&tcp(&server), server.ca_pem(), Version::V311, "", ANNA).await;
    let mut b = connected(&tcp(&server), server.ca_pem(), Version::V311, "", ANNA).await;
    assert!(!a.closed_within(QUIET).await, "the first empty id is not taken over by the second");
    relays(&server, &mut a, Version::V311, "a").await;
    relays(&server, &mut b, Version::V311, "b").await;
}

#[tokio::test]
async fn hundreds_of_connections_each_with_a_new_client_id_all_deliver() {
    let server = MockServer::start().await;
    let mut sub = connected(&tcp(&server), server.ca_pem(), Version::V311, "collector", ANNA).await;
    assert_eq!(sub.subscribe(&[TOPIC], 1).await.unwrap(), vec![1]);
    for i in 0..300 {
        let version = if i % 2 == 0 { Version::V311 } else { Version::V5 };
        let mut c = connected(&tcp(&server), server.ca_pem(), version, &format!("once-{i}"), ANNA).await;
        let payload = format!(r#"{{"timestamp": 1700000000, "value": {i}}}"#);
        assert_eq!(c.publish(TOPIC, payload.as_bytes(), 1).await.unwrap(), Some(0), "once-{i}");
        c.disconnect().await;
        let (_, body) = sub.next_publish(WAIT).await.unwrap().unwrap_or_else(|| panic!("once-{i}: not delivered"));
        assert_eq!(&body[..], payload.as_bytes());
    }
    let connected = server.events().count("mqtt.connected");
    assert_eq!(connected, 301, "the journal names the clients' own ids: {connected}");
    let journaled = serde_json::to_string(&server.events().of_kind("mqtt.connected")).unwrap();
    assert!(journaled.contains("\"once-299\"") && !journaled.contains("__clean:"), "no pool id reaches the journal");
}
