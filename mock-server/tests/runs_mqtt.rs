//! MQTT in runs: each run has MQTT listeners of its own in front of the one engine, and
//! nothing crosses between namespaces: messages, retained values, client ids, events, faults.

#[path = "common/mqtt.rs"]
mod mqtt_client;

use std::time::Duration;

use mock_server::mqtt::codec::Version;
use mock_server::{EventFilter, FaultRule, MockServer, Namespace};
use mqtt_client::connected;

const ANNA: &str = "f7650807dffc43c98710bdd942d78b68";
const TOPIC: &str = "1001/obj/zwave/12/temperature";
const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(400);

fn tcp(ns: &Namespace) -> String {
    ns.endpoints().mqtt.clone().expect("mqtt endpoints").tcp
}

#[tokio::test]
async fn runs_have_listeners_of_their_own_and_never_meet() {
    let server = MockServer::start().await;
    let (a, b) = (server.run("mqtt-a").await.unwrap(), server.run("mqtt-b").await.unwrap());
    let urls = [tcp(&server), tcp(&a), tcp(&b)];
    assert_eq!(
        urls.iter().collect::<std::collections::BTreeSet<_>>().len(),
        3,
        "three namespaces, three listeners: {urls:?}"
    );

    for version in [Version::V311, Version::V5] {
        // The same client id and the same topic in all three namespaces.
        let mut subs = Vec::new();
        for url in &urls {
            let mut sub = connected(url, server.ca_pem(), version, "same-id", ANNA).await;
            assert_eq!(sub.subscribe(&["1001/#"], 1).await.unwrap(), vec![1]);
            subs.push(sub);
        }
        let mut publisher = connected(&urls[1], server.ca_pem(), version, "publisher", ANNA).await;
        let payload = br#"{"timestamp": 1700000000, "value": 21.5}"#;
        assert_eq!(publisher.publish(TOPIC, payload, 1).await.unwrap(), Some(0));

        let (topic, body) = subs[1].next_publish(WAIT).await.unwrap().expect("run a's subscriber gets run a's message");
        assert_eq!((topic.as_str(), &body[..]), (TOPIC, &payload[..]), "the topic as the client named it");
        assert!(subs[0].next_publish(QUIET).await.unwrap().is_none(), "the default namespace sees nothing of run a");
        assert!(subs[2].next_publish(QUIET).await.unwrap().is_none(), "nor does run b");
        for sub in subs {
            sub.disconnect().await;
        }
        publisher.disconnect().await;
    }

    // Events stay where they happened; the value went into run a's history only.
    assert_eq!(a.events().count("mqtt.published"), 2);
    assert_eq!(b.events().count("mqtt.published"), 0);
    assert_eq!(server.events().count("mqtt.published"), 0);
    assert_eq!(a.events().count("mqtt.connected"), 4);
    assert_eq!(server.events().count("mqtt.connected"), 2);
}

#[tokio::test]
async fn a_runs_mqtt_faults_and_credentials_are_its_own() {
    let server = MockServer::start().await;
    let run = server.run("mqtt-faults").await.unwrap();
    run.faults()
        .add(FaultRule::on("iotopen", "mqtt").method("PUBLISH").route("/1001/obj/**").times(1).drop_connection())
        .unwrap();

    let mut in_default = connected(&tcp(&server), server.ca_pem(), Version::V311, "d", ANNA).await;
    assert_eq!(
        in_default.publish(TOPIC, b"{\"value\": 1}", 1).await.unwrap(),
        Some(0),
        "the run's fault does not fire here"
    );
    let mut in_run = connected(&tcp(&run), server.ca_pem(), Version::V311, "r", ANNA).await;
    let _ = in_run.publish(TOPIC, b"{\"value\": 1}", 1).await;
    assert!(in_run.closed_within(WAIT).await, "the run's fault dropped the run's client");
    run.events().assert_any(&EventFilter::kind("fault.applied"));
    server.events().assert_count("fault.applied", 0);
    in_default.disconnect().await;
}

#[tokio::test]
async fn a_deleted_runs_listeners_close() {
    let server = MockServer::start().await;
    let url = {
        let run = server.run("mqtt-gone").await.unwrap();
        let client = connected(&tcp(&run), server.ca_pem(), Version::V311, "c", ANNA).await;
        client.disconnect().await;
        tcp(&run)
    };
    let addr = url.trim_start_matches("mqtt://").to_owned();
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the listener at {addr} still accepts after the run was dropped");
}

#[tokio::test]
async fn mqtt_traffic_keeps_a_run_from_being_evicted() {
    let server = MockServer::builder().max_runs(2).start().await.unwrap();
    let busy = server.run("busy-over-mqtt").await.unwrap();
    let idle = server.run("idle").await.unwrap();
    // Only MQTT names the busy run now: no HTTP request carries its prefix.
    let mut client = connected(&tcp(&busy), server.ca_pem(), Version::V311, "c", ANNA).await;
    assert_eq!(client.publish(TOPIC, b"{\"value\": 1}", 1).await.unwrap(), Some(0));
    let _third = server.run("third").await.unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let alive = |ns: &Namespace| format!("{}/clock", ns.admin_url());
    assert_eq!(http.get(alive(&busy)).send().await.unwrap().status(), 200, "the run in use over MQTT stays");
    assert_eq!(http.get(alive(&idle)).send().await.unwrap().status(), 404, "the idle one was evicted");
    client.disconnect().await;
}
