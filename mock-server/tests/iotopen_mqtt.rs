//! IoT Open's MQTT API through the gate, over real sockets: TCP, TLS (our CA) and WebSocket,
//! MQTT 3.1.1 and 5. Authentication on the password with refused CONNACKs, the installation
//! ACL on SUBSCRIBE and PUBLISH, values into status and history at once, function changes
//! announced, events journaled, revoked keys refused, ports reported.

#[path = "common/mqtt.rs"]
mod mqtt_client;

use std::time::Duration;

use mock_server::mqtt::codec::Version;
use mock_server::MockServer;
use mqtt_client::{connected, Client};
use serde_json::{json, Value};

const ANNA: &str = "f7650807dffc43c98710bdd942d78b68";
const BERTIL: &str = "0641b6e4b4490b21dd9e8dadd34be3ab";
const INTEGRATION: &str = "6e78f2f2df7b3aaa1938fc22b32d9089";
const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(400);

fn urls(server: &MockServer) -> [String; 3] {
    let m = server.endpoints().mqtt.clone().expect("mqtt endpoints");
    [m.tcp, m.tls, m.ws]
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn api(server: &MockServer, path: &str) -> String {
    format!("{}/iotopen/api{path}", server.endpoints().http)
}

async fn get_json(server: &MockServer, path: &str, key: &str) -> (u16, Value) {
    let r = http().get(api(server, path)).header("X-API-Key", key).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn events(server: &MockServer, kind: &str) -> Vec<Value> {
    server
        .events()
        .all()
        .into_iter()
        .filter(|e| e.kind.name() == kind)
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

#[tokio::test]
async fn endpoints_report_bound_ports_for_every_transport() {
    let server = MockServer::start().await;
    let [tcp, tls, ws] = urls(&server);
    assert!(tcp.starts_with("mqtt://127.0.0.1:") && !tcp.ends_with(":0"), "{tcp}");
    assert!(tls.starts_with("mqtts://127.0.0.1:") && !tls.ends_with(":0"), "{tls}");
    assert!(ws.starts_with("ws://127.0.0.1:") && ws.ends_with("/mqtt"), "{ws}");
    let doc: Value =
        http().get(format!("{}/endpoints", server.endpoints().admin)).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["mqtt"], json!({"tcp": tcp, "tls": tls, "ws": ws}));
}

#[tokio::test]
async fn api_key_connects_and_messages_flow_on_every_transport_and_version() {
    let server = MockServer::start().await;
    let ca = server.ca_pem().to_owned();
    for url in urls(&server) {
        for version in [Version::V311, Version::V5] {
            let mut sub = connected(&url, &ca, version, "anna-sub", ANNA).await;
            assert_eq!(sub.subscribe(&["1001/#"], 1).await.unwrap(), vec![1], "{url} {version:?}");
            let mut publisher = connected(&url, &ca, version, "anna-pub", ANNA).await;
            let payload = br#"{"value": 21.5, "msg": "ok"}"#;
            assert_eq!(publisher.publish("1001/obj/zwave/12/temperature", payload, 1).await.unwrap(), Some(0));
            let (topic, got) = sub.next_publish(WAIT).await.unwrap().expect("the subscriber got the message");
            assert_eq!(
                (topic.as_str(), &got[..]),
                ("1001/obj/zwave/12/temperature", &payload[..]),
                "{url} {version:?}"
            );
        }
    }
    let connected_events = events(&server, "mqtt.connected");
    let transports: std::collections::BTreeSet<&str> =
        connected_events.iter().map(|e| e["transport"].as_str().unwrap()).collect();
    assert_eq!(transports, ["tcp", "tls", "ws"].into());
    assert!(connected_events.iter().all(|e| e["principal"] == "user 11 key 501"), "{connected_events:?}");
    assert!(
        !serde_json::to_string(&server.events().all()).unwrap().contains(ANNA),
        "the key never reaches the journal"
    );
}

#[tokio::test]
async fn wrong_or_missing_credentials_get_a_refused_connack_not_a_dropped_socket() {
    let server = MockServer::start().await;
    let ca = server.ca_pem().to_owned();
    for url in urls(&server) {
        for (version, not_authorized, bad_credentials) in [(Version::V311, 0x05, 0x04), (Version::V5, 0x87, 0x86)] {
            let mut c = Client::tcp(&url, version).await;
            if url.starts_with("mqtts") {
                c = Client::tls(&url, &ca, version).await;
            } else if url.starts_with("ws") {
                c = Client::ws(&url, version).await;
            }
            let mut c = c.unwrap();
            assert_eq!(
                c.connect("x", Some("00000000000000000000000000000000")).await.unwrap(),
                not_authorized,
                "{url}"
            );
            assert!(c.closed_within(WAIT).await, "closed after the refusal");
            let mut c = Client::tcp(&server.endpoints().mqtt.as_ref().unwrap().tcp, version).await.unwrap();
            assert_eq!(c.connect("x", None).await.unwrap(), bad_credentials);
        }
    }
    let refused = events(&server, "mqtt.refused");
    assert!(
        refused.iter().any(|e| e["code"] == 5)
            && refused.iter().any(|e| e["code"] == 135)
            && refused.iter().any(|e| e["code"] == 4)
    );
}

#[tokio::test]
async fn mqtt_3_1_is_refused_with_unacceptable_protocol_version() {
    let server = MockServer::start().await;
    let [tcp, ..] = urls(&server);
    let mut c = Client::tcp(&tcp, Version::V311).await.unwrap();
    // CONNECT, protocol "MQIsdp" level 3, clean session, keep-alive 30, client id "a".
    let mut body = vec![0x00, 0x06];
    body.extend_from_slice(b"MQIsdp");
    body.extend_from_slice(&[0x03, 0x02, 0x00, 0x1e, 0x00, 0x01, b'a']);
    let mut frame = vec![0x10, body.len() as u8];
    frame.extend_from_slice(&body);
    c.write(&frame).await.unwrap();
    let ack = c.expect(2, WAIT).await.unwrap();
    assert_eq!(&ack[..], &[0x20, 0x02, 0x00, 0x01]);
}

#[tokio::test]
async fn another_users_installation_gets_a_suback_failure_and_publishes_there_are_dropped() {
    let server = MockServer::start().await;
    let [tcp, ..] = urls(&server);
    let ca = server.ca_pem().to_owned();
    let mut bertil = connected(&tcp, &ca, Version::V311, "bertil", BERTIL).await;
    assert_eq!(bertil.subscribe(&["1002/#"], 0).await.unwrap(), vec![0]);
    for version in [Version::V311, Version::V5] {
        let mut anna = connected(&tcp, &ca, version, "anna", ANNA).await;
        let failure = if version == Version::V5 { 0x87 } else { 0x80 };
        assert_eq!(anna.subscribe(&["1002/#"], 0).await.unwrap(), vec![failure]);
        assert_eq!(anna.subscribe(&["#"], 0).await.unwrap(), vec![failure], "a wildcard first level reaches everyone");
        assert_eq!(anna.subscribe(&["+/obj/#"], 0).await.unwrap(), vec![failure]);
        assert_eq!(anna.subscribe(&["$SYS/#"], 0).await.unwrap(), vec![failure]);
        assert_eq!(anna.subscribe(&["$share/g/1002/#"], 0).await.unwrap(), vec![failure]);
        // Mixed: the allowed filter is granted, the denied one fails, in place.
        assert_eq!(
            anna.subscribe(&["1002/obj/#", "1001/obj/#", "1003/#"], 1).await.unwrap(),
            vec![failure, 1, failure]
        );
        // Publishing into Bertil's installation: dropped, acknowledged (0x87 on 5).
        let expected = if version == Version::V5 { 0x87 } else { 0x00 };
        assert_eq!(anna.publish("1002/obj/zwave/4/power", br#"{"value": 9999}"#, 1).await.unwrap(), Some(expected));
        assert_eq!(anna.publish("1002/obj/zwave/4/power", br#"{"value": 9999}"#, 0).await.unwrap(), None);
        assert_eq!(anna.publish("1002/set/obj/zwave/4/power", br#"{"value": 1}"#, 2).await.unwrap(), Some(expected));
        // The connection is still good: its own installation works.
        assert_eq!(anna.publish("1001/obj/zwave/12/temperature", br#"{"value": 20}"#, 1).await.unwrap(), Some(0));
    }
    assert!(bertil.next_publish(QUIET).await.unwrap().is_none(), "Bertil's subscriber saw nothing of Anna's publishes");
    let (status, values) = get_json(&server, "/api/v2/status/2002", BERTIL).await;
    assert_eq!((status, values), (200, json!([])), "nothing was stored in Bertil's installation");
    let denied = events(&server, "mqtt.denied");
    assert!(denied.iter().any(|e| e["action"] == "subscribe" && e["topic"] == "1002/#"));
    assert!(denied.iter().any(|e| e["action"] == "publish" && e["topic"] == "1002/obj/zwave/4/power"));
}

#[tokio::test]
async fn a_key_with_higher_authority_reaches_its_organisation_and_may_subscribe_broadly() {
    let server = MockServer::start().await;
    let [tcp, ..] = urls(&server);
    let ca = server.ca_pem().to_owned();
    let mut integration = connected(&tcp, &ca, Version::V5, "integration", INTEGRATION).await;
    assert_eq!(
        integration.subscribe(&["1001/#", "1003/#", "1002/#", "+/obj/#"], 0).await.unwrap(),
        vec![0, 0, 0x87, 0]
    );
    let mut anna = connected(&tcp, &ca, Version::V311, "anna", ANNA).await;
    anna.publish("1001/obj/zwave/12/temperature", br#"{"value": 22}"#, 1).await.unwrap();
    let (topic, _) = integration.next_publish(WAIT).await.unwrap().unwrap();
    assert_eq!(topic, "1001/obj/zwave/12/temperature");
}

#[tokio::test]
async fn a_published_value_is_in_status_and_log_at_once() {
    let server = MockServer::start().await;
    let [tcp, ..] = urls(&server);
    let ca = server.ca_pem().to_owned();
    let mut anna = connected(&tcp, &ca, Version::V311, "anna", ANNA).await;
    let t = chrono::Utc::now().timestamp() as f64 - 0.75;
    let payload = json!({"timestamp": t, "value": 23.75, "msg": "fine"}).to_string();
    anna.publish("1001/obj/zwave/12/temperature", payload.as_bytes(), 1).await.unwrap();
    // Invalid payloads are routed but not stored.
    anna.publish("1001/obj/zwave/12/temperature", br#"{"value": 1, "unit": "C"}"#, 1).await.unwrap();
    let (status, body) = get_json(&server, "/api/v2/status/2001?topics=obj/zwave/12/temperature", ANNA).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!([{"client_id": 1001, "installation_id": 2001, "msg": "fine", "timestamp": t, "topic": "obj/zwave/12/temperature", "value": 23.75}])
    );
    let (status, body) = get_json(&server, "/api/v3beta/log/2001", ANNA).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"total": 1, "last": t, "count": 1, "data": [{"client_id": 1001, "installation_id": 2001, "msg": "fine", "timestamp": t, "topic": "1001/obj/zwave/12/temperature", "value": 23.75}]})
    );
    let published = events(&server, "mqtt.published");
    assert_eq!(published.len(), 2);
    assert_eq!((published[0]["stored"].clone(), published[0]["invalid"].clone()), (json!(true), Value::Null));
    assert_eq!(published[1]["stored"], false);
    assert!(published[1]["invalid"].as_str().unwrap().contains("unit"));
}

#[tokio::test]
async fn function_meta_changes_are_published_on_evt_functionx_updated() {
    let server = MockServer::start().await;
    let [_, _, ws] = urls(&server);
    let ca = server.ca_pem().to_owned();
    let mut anna = connected(&ws, &ca, Version::V311, "anna", ANNA).await;
    assert_eq!(anna.subscribe(&["1001/evt/#"], 0).await.unwrap(), vec![0]);
    let r = http()
        .put(api(&server, "/api/v2/functionx/2001/401/meta/name"))
        .header("X-API-Key", ANNA)
        .body(r#"{"value": "Kitchen temperature", "protected": false}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (topic, payload) = anna.next_publish(WAIT).await.unwrap().expect("evt/functionx/updated");
    assert_eq!(topic, "1001/evt/functionx/updated");
    let function: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!((function["id"].clone(), function["meta"]["name"].clone()), (json!(401), json!("Kitchen temperature")));
    // silent=true changes quietly.
    let r = http()
        .put(api(&server, "/api/v2/functionx/2001/401/meta/name?silent=true"))
        .header("X-API-Key", ANNA)
        .body(r#"{"value": "Quiet"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(anna.next_publish(QUIET).await.unwrap().is_none());
}

#[tokio::test]
async fn a_revoked_key_stops_working_for_new_mqtt_connections() {
    let server = MockServer::start().await;
    let [tcp, ..] = urls(&server);
    let ca = server.ca_pem().to_owned();
    let created: Value = http()
        .post(api(&server, "/api/v2/user/me/security/token"))
        .header("X-API-Key", ANNA)
        .json(&json!({"name": "mqtt device", "expire": 0, "session_timeout": 0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["token"].as_str().unwrap().to_owned();
    let device = connected(&tcp, &ca, Version::V311, "device", &key).await;
    device.disconnect().await;
    let r = http()
        .delete(api(&server, &format!("/api/v2/user/me/security/token/{}", created["id"])))
        .header("X-API-Key", ANNA)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut again = Client::tcp(&tcp, Version::V5).await.unwrap();
    assert_eq!(again.connect("device", Some(&key)).await.unwrap(), 0x87);
}

#[tokio::test]
async fn the_login_token_works_as_password_but_the_half_logged_in_sms_token_does_not() {
    let server = MockServer::start().await;
    let [tcp, ..] = urls(&server);
    let ca = server.ca_pem().to_owned();
    let login: Value = http()
        .post(api(&server, "/api/v2/auth"))
        .basic_auth("anna@demo-housing.example", Some("anna-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    connected(&tcp, &ca, Version::V311, "anna-token", login["token"].as_str().unwrap()).await;
    let half: Value = http()
        .post(api(&server, "/api/v2/auth"))
        .basic_auth("bertil@cabin-rentals.example", Some("bertil-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(half["nextstep"], "smslogin");
    let mut c = Client::tcp(&tcp, Version::V311).await.unwrap();
    assert_eq!(c.connect("bertil", Some(half["token"].as_str().unwrap())).await.unwrap(), 0x05);
}

#[tokio::test]
async fn a_will_on_another_installation_is_refused() {
    let server = MockServer::start().await;
    let [tcp, ..] = urls(&server);
    let mut c = Client::tcp(&tcp, Version::V311).await.unwrap();
    assert_eq!(c.connect_with("anna", Some(ANNA), Some(("1002/evt/gone", "bye")), 30).await.unwrap(), 0x05);
    let mut ok = Client::tcp(&tcp, Version::V311).await.unwrap();
    assert_eq!(
        ok.connect_with("anna", Some(ANNA), Some(("1001/evt/gone", "bye")), 0).await.unwrap(),
        0,
        "keep-alive 0 is accepted too"
    );
}

#[tokio::test]
async fn v5_topic_aliases_are_resolved_before_the_acl() {
    use rumqttd::protocol::{Packet, Publish, PublishProperties};
    let server = MockServer::start().await;
    let [tcp, ..] = urls(&server);
    let ca = server.ca_pem().to_owned();
    let mut bertil = connected(&tcp, &ca, Version::V5, "bertil", BERTIL).await;
    bertil.subscribe(&["1002/#"], 0).await.unwrap();
    let mut anna = connected(&tcp, &ca, Version::V5, "anna", ANNA).await;
    let props = |alias| Some(PublishProperties { topic_alias: Some(alias), ..Default::default() });
    // Alias 1 = Bertil's topic (denied), then an empty topic with alias 1: still denied.
    for (topic, alias) in [("1002/obj/a", 1u16), ("", 1)] {
        let p = Publish::new(topic.as_bytes().to_vec(), br#"{"value": 1}"#.to_vec(), false);
        let bytes = mock_server::mqtt::codec::encode(Version::V5, Packet::Publish(p, props(alias))).unwrap();
        anna.write(&bytes).await.unwrap();
    }
    assert!(bertil.next_publish(QUIET).await.unwrap().is_none());
    assert_eq!(events(&server, "mqtt.denied").iter().filter(|e| e["topic"] == "1002/obj/a").count(), 2);
}
