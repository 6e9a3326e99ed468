//! The admin API (`/__admin` on the plain HTTP listener) against a real server: health, journal,
//! faults, clock, fixtures, reset and the journal's bound.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use mock_server::MockServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// One successful and one failed token request: 4 events (token.issued, exchange, token.rejected, exchange).
async fn some_token_traffic(http: &reqwest::Client, server: &MockServer) {
    sandpit_token(http, server, READER).await;
    let (status, _, _) = token_response(http, server, SANDPIT, (READER.0, "wrong"), SANDPIT_SCOPE).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

fn assert_admin_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(body.as_object().unwrap().len(), 2, "error shape is exactly {{error, message}}: {body}");
}

async fn post_json(http: &reqwest::Client, url: String, body: Value) -> (StatusCode, Value) {
    let (status, _, value) = json(http.post(url).json(&body).send().await.unwrap()).await;
    (status, value)
}

async fn post_raw(
    http: &reqwest::Client,
    url: String,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let (status, _, value) =
        json(http.post(url).header("content-type", content_type).body(body).send().await.unwrap()).await;
    (status, value)
}

async fn get_json(http: &reqwest::Client, url: String) -> (StatusCode, Value) {
    let (status, _, value) = json(http.get(url).send().await.unwrap()).await;
    (status, value)
}

fn parse_time(v: &Value) -> DateTime<Utc> {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not a date-time: {v}"))
}

#[tokio::test]
async fn health_reports_version_and_event_count() {
    let server = MockServer::start().await;
    let http = client(&server);
    let (status, headers, body) = json(http.get(admin(&server, "/health")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, "content-type").is_some_and(|c| c.starts_with("application/json")));
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_seconds"].as_f64().is_some_and(|s| s >= 0.0), "{body}");
    assert_eq!(body["events"], 0);

    some_token_traffic(&http, &server).await;
    let (_, body) = get_json(&http, admin(&server, "/health")).await;
    assert_eq!(body["events"], 4, "admin calls are not journaled; two token calls make four events");
}

#[tokio::test]
async fn endpoints_and_openapi_are_served() {
    let server = MockServer::start().await;
    let http = client(&server);
    let (status, body) = get_json(&http, admin(&server, "/endpoints")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::to_value(server.endpoints()).unwrap());
    assert!(body["services"]["kalibrate.login"].as_str().unwrap().starts_with("https://127.0.0.1:"));

    let (status, headers, body) = json(http.get(admin(&server, "/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let file: Value = serde_json::from_str(include_str!("../src/admin/openapi.json")).unwrap();
    assert_eq!(body, file);
    assert_eq!(body["openapi"], "3.0.3");
}

#[tokio::test]
async fn unknown_admin_path_is_a_json_404() {
    let server = MockServer::start().await;
    let http = client(&server);
    let (status, body) = get_json(&http, admin(&server, "/nothing-here")).await;
    assert_admin_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    // The admin API is on the plain HTTP listener only.
    let (status, _, body) =
        json(http.get(format!("{}/__admin/health", server.endpoints().https)).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "not_found", "{body}");
}

#[tokio::test]
async fn events_filter_by_provider_service_kind_and_since() {
    let server = MockServer::start().await;
    let http = client(&server);
    some_token_traffic(&http, &server).await;
    // A data API call: api.denied (no token) + exchange on the data service.
    let r = http.get(data_url(&server, "/api/status")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let (status, body) = get_json(&http, admin(&server, "/events")).await;
    assert_eq!(status, StatusCode::OK);
    let all = body["events"].as_array().unwrap().clone();
    assert_eq!(all.len(), 6, "{all:#?}");
    assert_eq!(body["dropped"], 0);
    assert_eq!(body["capacity"], 10000);
    assert_eq!(body["next_seq"], all.last().unwrap()["seq"].as_u64().unwrap() + 1);
    for pair in all.windows(2) {
        assert!(pair[0]["seq"].as_u64() < pair[1]["seq"].as_u64(), "seq increases: {pair:?}");
    }
    for e in &all {
        for key in ["seq", "at", "provider", "service", "kind"] {
            assert!(!e[key].is_null(), "event lacks {key}: {e}");
        }
        parse_time(&e["at"]);
    }
    // The library handle sees the same journal (compared as text-parsed JSON, like the admin answer).
    let library: Value = serde_json::from_str(&serde_json::to_string(&server.events().all()).unwrap()).unwrap();
    assert_eq!(library, Value::Array(all.clone()));

    assert_eq!(admin_events(&http, &server, "provider=kalibrate").await.len(), 6);
    assert!(admin_events(&http, &server, "provider=opinum").await.is_empty());
    let data = admin_events(&http, &server, "service=data").await;
    assert_eq!(data.len(), 2);
    assert!(data.iter().all(|e| e["service"] == "data"));
    assert_eq!(admin_events(&http, &server, "service=login").await.len(), 4);

    let issued = admin_events(&http, &server, "kind=token.issued").await;
    assert_eq!(issued.len(), 1);
    let e = &issued[0];
    assert_eq!(e["provider"], "kalibrate");
    assert_eq!(e["service"], "login");
    assert_eq!(e["grant"], "client_credentials");
    assert_eq!(e["client_id"], READER.0);
    assert_eq!(e["scopes"], json!([SANDPIT_SCOPE]));
    assert_eq!(e["audience"], SANDPIT_AUDIENCE);
    assert!(e["token_id"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(parse_time(&e["expires_at"]) > parse_time(&e["at"]));
    assert!(e["bound_to"].is_null());

    let rejected = admin_events(&http, &server, "kind=token.rejected").await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["error"], "invalid_client");
    assert_eq!(rejected[0]["code"], 7000215);
    assert_eq!(rejected[0]["client_id"], READER.0);
    assert!(rejected[0]["reason"].as_str().is_some_and(|r| !r.is_empty()));

    assert_eq!(admin_events(&http, &server, "kind=token.").await.len(), 2);
    assert_eq!(admin_events(&http, &server, "kind=token.*").await.len(), 2);
    assert_eq!(admin_events(&http, &server, "kind=token").await.len(), 0, "a bare prefix is an exact kind");
    assert_eq!(admin_events(&http, &server, "kind=http.exchange").await.len(), 3);
    let denied = admin_events(&http, &server, "kind=api.denied&service=data&provider=kalibrate").await;
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["status"], 401);
    assert_eq!(denied[0]["endpoint"], "/api/status");

    let exchange = admin_events(&http, &server, "kind=http.exchange&service=login").await;
    assert_eq!(exchange.len(), 2);
    assert_eq!(exchange[0]["method"], "POST");
    assert_eq!(exchange[0]["listener"], "https");
    assert_eq!(exchange[0]["path"], format!("/kalibrate/login/{SANDPIT}/oauth2/v2.0/token"));
    assert_eq!(exchange[0]["status"], 200);
    assert_eq!(exchange[1]["status"], 401);

    // since: only what happens after.
    let next = body["next_seq"].as_u64().unwrap();
    sandpit_token(&http, &server, WRITER).await;
    let newer = admin_events(&http, &server, &format!("since={}", next - 1)).await;
    assert_eq!(newer.len(), 2, "{newer:#?}");
    assert!(newer.iter().all(|e| e["seq"].as_u64().unwrap() >= next));
    assert_eq!(newer[0]["client_id"], WRITER.0);
    assert!(admin_events(&http, &server, &format!("since={}", next + 1)).await.is_empty());
    assert_eq!(admin_events(&http, &server, "since=0").await.len(), 8);

    // limit: the newest that match, oldest first.
    let all = admin_events(&http, &server, "").await;
    let last_two = admin_events(&http, &server, "limit=2").await;
    assert_eq!(last_two, all[all.len() - 2..].to_vec());
    let kinds = admin_events(&http, &server, "kind=http.exchange&limit=1").await;
    assert_eq!(kinds.len(), 1);
    assert_eq!(kinds[0], *all.iter().rev().find(|e| e["kind"] == "http.exchange").unwrap());

    // A query parameter of the wrong type is a JSON 400, not a 500.
    let (status, body) = get_json(&http, admin(&server, "/events?since=abc")).await;
    assert_admin_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    assert!(body["message"].as_str().unwrap().contains("since"), "{body}");
    let (status, body) = get_json(&http, admin(&server, "/events?since=-1")).await;
    assert_admin_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = get_json(&http, admin(&server, "/events?limit=-1")).await;
    assert_admin_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
}

/// Overlapping requests to one service: each exchange's events are its own, by its number.
#[tokio::test]
async fn what_a_request_caused_carries_that_requests_exchange_number() {
    let server = MockServer::start().await;
    let http = client(&server);
    const N: usize = 24;
    let requests = (0..N).map(|i| {
        let (http, url) = (http.clone(), token_url(&server, SANDPIT));
        async move {
            let client_id = format!("00000000-0000-4000-8000-{i:012}");
            let form =
                [("grant_type", "client_credentials"), ("client_id", client_id.as_str()), ("client_secret", "x")];
            let r = http.post(url).header("user-agent", format!("agent-{i}")).form(&form).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "unknown client {client_id}");
        }
    });
    futures_util::future::join_all(requests).await;
    // A request the admin API answers is not an exchange; an MQTT event is outside any.
    get_json(&http, admin(&server, "/health")).await;

    let all = admin_events(&http, &server, "").await;
    let exchanges: Vec<&Value> = all.iter().filter(|e| e["kind"] == "http.exchange").collect();
    assert_eq!(exchanges.len(), N, "{all:#?}");
    let mut numbers: Vec<u64> = exchanges.iter().map(|e| e["exchange"].as_u64().expect("exchange number")).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), N, "one number per exchange: {numbers:?}");
    for exchange in exchanges {
        let agent = exchange["user_agent"].as_str().unwrap();
        let i: usize = agent.strip_prefix("agent-").unwrap().parse().unwrap();
        let caused: Vec<&Value> =
            all.iter().filter(|e| e["exchange"] == exchange["exchange"] && e["kind"] != "http.exchange").collect();
        assert_eq!(caused.len(), 1, "{agent}: {caused:#?}");
        assert_eq!(caused[0]["kind"], "token.rejected");
        assert_eq!(caused[0]["client_id"], format!("00000000-0000-4000-8000-{i:012}"), "{agent}");
    }
    assert!(all.iter().all(|e| !e["exchange"].is_null()), "every event here came from a request");
}

#[tokio::test]
async fn delete_events_empties_the_journal_and_keeps_counting() {
    let server = MockServer::start().await;
    let http = client(&server);
    some_token_traffic(&http, &server).await;
    let (_, before) = get_json(&http, admin(&server, "/events")).await;
    let next = before["next_seq"].as_u64().unwrap();
    assert_eq!(before["events"].as_array().unwrap().len(), 4);

    let r = http.delete(admin(&server, "/events")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, after) = get_json(&http, admin(&server, "/events")).await;
    assert_eq!(after["events"], json!([]));
    assert_eq!(after["next_seq"], next, "sequence numbers are never reused");
    assert!(server.events().all().is_empty());

    sandpit_token(&http, &server, READER).await;
    let events = admin_events(&http, &server, "").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["seq"], next);
}

#[tokio::test]
async fn faults_can_be_added_listed_and_removed() {
    let server = MockServer::start().await;
    let http = client(&server);
    let (status, body) = get_json(&http, admin(&server, "/faults")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([]));

    // One rule (an object): counters sent by the client are reset, the method upper-cased.
    let (status, added) = post_json(
        &http,
        admin(&server, "/faults"),
        json!({"provider": "kalibrate", "service": "login", "method": "post", "route": "/*/oauth2/v2.0/token",
               "times": 2, "after": 1, "matched": 9, "fired": 9,
               "action": {"status": 503, "headers": {"Retry-After": "3"}, "body": "busy"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let added = added.as_array().unwrap();
    assert_eq!(added.len(), 1);
    let first = &added[0];
    let first_id = first["id"].as_str().unwrap().to_owned();
    assert!(first_id.starts_with("fault-"), "{first}");
    assert_eq!(first["method"], "POST");
    assert_eq!(first["matched"], 0);
    assert_eq!(first["fired"], 0);
    assert_eq!(first["after"], 1);
    assert_eq!(first["times"], 2);
    assert_eq!(
        first["action"],
        json!({"status": 503, "body": "busy", "headers": {"Retry-After": "3"}, "delay_ms": null, "drop_connection": false, "truncate_body": false, "advance_clock_seconds": null})
    );

    // An array of rules.
    let (status, added) = post_json(
        &http,
        admin(&server, "/faults"),
        json!([
            {"id": "slow-data", "provider": "kalibrate", "service": "data", "action": {"delay_ms": 10}},
            {"route": "/api/**", "action": {"drop_connection": true}}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let added = added.as_array().unwrap();
    assert_eq!(added.len(), 2);
    assert_eq!(added[0]["id"], "slow-data");
    assert_eq!(added[1]["provider"], Value::Null);
    assert_eq!(added[1]["action"]["drop_connection"], true);
    let second_auto = added[1]["id"].as_str().unwrap().to_owned();
    assert_ne!(second_auto, first_id);

    let (_, list) = get_json(&http, admin(&server, "/faults")).await;
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![first_id.as_str(), "slow-data", second_auto.as_str()]);
    assert_eq!(server.faults().list().len(), 3);

    // Same id again: replaces, does not add.
    let (status, _) =
        post_json(&http, admin(&server, "/faults"), json!({"id": "slow-data", "action": {"delay_ms": 20}})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, list) = get_json(&http, admin(&server, "/faults")).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let slow: Vec<&Value> = list.iter().filter(|r| r["id"] == "slow-data").collect();
    assert_eq!(slow.len(), 1);
    assert_eq!(slow[0]["action"]["delay_ms"], 20);

    // Delete one by id.
    let r = http.delete(admin(&server, &format!("/faults/{first_id}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, list) = get_json(&http, admin(&server, "/faults")).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list.as_array().unwrap().iter().all(|r| r["id"] != first_id.as_str()));
    // Again: gone.
    let (status, _, body) =
        json(http.delete(admin(&server, &format!("/faults/{first_id}"))).send().await.unwrap()).await;
    assert_admin_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert!(body["message"].as_str().unwrap().contains(&first_id), "{body}");

    // Delete all.
    let r = http.delete(admin(&server, "/faults")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, list) = get_json(&http, admin(&server, "/faults")).await;
    assert_eq!(list, json!([]));
    assert!(server.faults().list().is_empty());
}

#[tokio::test]
async fn bad_fault_rules_are_json_400s_and_arm_nothing() {
    let server = MockServer::start().await;
    let http = client(&server);
    let url = || admin(&server, "/faults");

    let (status, body) = post_raw(&http, url(), "application/json", "{nope").await;
    assert_admin_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    assert!(body["message"].as_str().unwrap().contains("invalid JSON"), "{body}");

    let (status, body) = post_raw(&http, url(), "application/json", "").await;
    assert_admin_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");

    let cases: Vec<(Value, &str)> = vec![
        (json!({"action": {"status": 503}, "bogus": 1}), "bogus"),
        (json!({"action": {"status": 503, "sttaus": 500}}), "sttaus"),
        (json!({}), "action"),
        (json!({"action": {}}), "nothing to do"),
        (json!({"action": {"status": 42}}), "status 42"),
        (json!({"action": {"status": 700}}), "status 700"),
        (json!({"action": {"status": "503"}}), "invalid type"),
        (json!({"times": 0, "action": {"status": 503}}), "times"),
        (json!({"route": "api/**", "action": {"status": 503}}), "route"),
        (json!({"route": "/**/token", "action": {"status": 503}}), "route: '**' may only be the last segment"),
        (json!({"route": "/api/**/x/**", "action": {"status": 503}}), "'/api/**/x/**'"),
        (json!({"method": "PO ST", "action": {"status": 503}}), "method"),
        (json!({"method": "", "action": {"status": 503}}), "method"),
        (json!({"after": -1, "action": {"status": 503}}), "-1"),
        (json!({"action": {"delay_ms": 60_001}}), "delay_ms is at most 60000"),
        (json!({"action": {"advance_clock_seconds": 316_224_001}}), "advance_clock_seconds is at most"),
        (json!({"action": {"advance_clock_seconds": -316_224_001}}), "advance_clock_seconds is at most"),
        (json!("just a string"), "rule 0"),
        (json!(42), "rule 0"),
    ];
    for (rule, needle) in cases {
        let (status, body) = post_json(&http, url(), rule.clone()).await;
        assert_admin_error(status, &body, StatusCode::BAD_REQUEST, "bad_fault");
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with("rule 0: "), "{rule}: {message}");
        assert!(message.contains(needle), "{rule}: '{message}' should mention '{needle}'");
    }

    // One bad rule in an array rejects the whole array.
    let (status, body) =
        post_json(&http, url(), json!([{"action": {"status": 503}}, {"action": {"status": 503}, "typo": true}])).await;
    assert_admin_error(status, &body, StatusCode::BAD_REQUEST, "bad_fault");
    assert!(body["message"].as_str().unwrap().starts_with("rule 1: "), "{body}");

    // Not JSON by Content-Type, or too large.
    let (status, body) = post_raw(&http, url(), "text/plain", r#"{"action":{"status":503}}"#).await;
    assert_admin_error(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_request");
    let (status, body) = post_raw(&http, url(), "application/x-www-form-urlencoded", "action=503").await;
    assert_admin_error(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_request");
    let huge = format!(r#"{{"action":{{"status":503,"body":"{}"}}}}"#, "x".repeat(1 << 20));
    let (status, body) = post_raw(&http, url(), "application/json", huge).await;
    assert_admin_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "bad_request");

    let (_, list) = get_json(&http, url()).await;
    assert_eq!(list, json!([]), "no rule was armed by any bad request");

    // No Content-Type at all is read as JSON.
    let r = http.post(url()).body(r#"{"action":{"status":503}}"#).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // An empty array is fine and arms nothing more.
    let (status, body) = post_json(&http, url(), json!([])).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body, json!([]));
    assert_eq!(server.faults().list().len(), 1);
}

#[tokio::test]
async fn replaced_fixtures_are_served_until_reset() {
    let server = MockServer::start().await;
    let http = client(&server);
    let url = || admin(&server, "/fixtures");
    // Another secret for the reader, a smaller journal.
    let replaced = fixtures_with_capacity(3).replacen("sandpit-read-secret", "rotated-read-secret", 1);
    let r = http.put(url()).header("content-type", "application/toml").body(replaced).send().await.unwrap();
    let (status, _, body) = json(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"status": "replaced", "until": "the next POST /__admin/reset"}));
    let (_, body) = get_json(&http, url()).await;
    assert_eq!(body["fixtures"]["journal"]["capacity"], 3);
    assert_eq!(body["fixtures"]["kalibrate"]["tenants"][0]["clients"][0]["secret"], "rotated-read-secret");
    let (status, _, _) = token_response(&http, &server, SANDPIT, READER, SANDPIT_SCOPE).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old secret no longer works");
    sandpit_token(&http, &server, (READER.0, "rotated-read-secret")).await;
    let (_, events) = get_json(&http, admin(&server, "/events")).await;
    assert_eq!(events["capacity"], 3);
    assert_eq!(events["events"].as_array().unwrap().len(), 3);
    assert_eq!(events["dropped"], 1);

    // Invalid fixtures are refused with the line and key; the replaced ones stay.
    for (body, needle) in [
        ("[journal]\ncapacity = 10\ncapacitty = 3\n".as_bytes().to_vec(), "journal.capacitty"),
        ("[journal]\ncapacity = 0\n".as_bytes().to_vec(), "journal.capacity"),
        ("[kalibrate\n".as_bytes().to_vec(), "<PUT /__admin/fixtures>"),
        (vec![0xff, 0xfe, b'['], "UTF-8"),
    ] {
        let r = http.put(url()).body(body).send().await.unwrap();
        let (status, _, answer) = json(r).await;
        assert_admin_error(status, &answer, StatusCode::BAD_REQUEST, "bad_fixtures");
        assert!(answer["message"].as_str().unwrap().contains(needle), "{answer}");
    }
    let (_, body) = get_json(&http, url()).await;
    assert_eq!(body["fixtures"]["journal"]["capacity"], 3);

    // Reset goes back to the fixtures the server started with.
    let (status, _) = post_json(&http, admin(&server, "/reset"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = get_json(&http, url()).await;
    assert_eq!(body["fixtures"]["journal"]["capacity"], 10000);
    assert_eq!(body["source"], "mock-server/fixtures/default.toml (embedded)");
    sandpit_token(&http, &server, READER).await;
}

#[tokio::test]
async fn clock_can_be_advanced_offset_set_frozen_and_unfrozen() {
    let server = MockServer::start().await;
    let http = client(&server);
    let url = || admin(&server, "/clock");
    let secs = |v: &Value| v["offset_seconds"].as_f64().unwrap();

    let (status, c) = get_json(&http, url()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["frozen"], false);
    assert!(secs(&c).abs() < 1.0, "{c}");
    assert!((parse_time(&c["now"]) - Utc::now()).num_seconds().abs() <= 2, "{c}");

    let (status, c) = post_json(&http, url(), json!({"advance_seconds": 3600})).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert!((secs(&c) - 3600.0).abs() < 1.0, "{c}");
    assert!((parse_time(&c["now"]) - Utc::now() - chrono::Duration::seconds(3600)).num_seconds().abs() <= 2, "{c}");
    assert!((server.clock().now() - Utc::now() - chrono::Duration::seconds(3600)).num_seconds().abs() <= 2);
    // Advancing adds up.
    let (_, c) = post_json(&http, url(), json!({"advance_seconds": 0.5})).await;
    assert!((secs(&c) - 3600.5).abs() < 0.2, "{c}");

    // An offset replaces, it does not add.
    let (_, c) = post_json(&http, url(), json!({"offset_seconds": -60})).await;
    assert!((secs(&c) + 60.0).abs() < 0.5, "{c}");
    let (_, c) = get_json(&http, url()).await;
    assert!((secs(&c) + 60.0).abs() < 0.5, "{c}");

    // Set an instant; the clock keeps running from there.
    let target: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
    let (_, c) = post_json(&http, url(), json!({"set": "2030-01-01T00:00:00Z"})).await;
    let now = parse_time(&c["now"]);
    assert!(now >= target && now - target < chrono::Duration::seconds(2), "{c}");
    assert_eq!(c["frozen"], false);
    // Events carry virtual-clock times.
    sandpit_token(&http, &server, READER).await;
    let issued = events_of_kind(&server, "token.issued");
    assert!(parse_time(&issued[0]["at"]).format("%Y").to_string() == "2030", "{issued:?}");
    let expires = parse_time(&issued[0]["expires_at"]);
    assert!((expires - target - chrono::Duration::seconds(3599)).num_seconds().abs() <= 3, "{expires}");

    // Freeze: time stands still, advance still moves it, by exactly that much.
    let (_, c) = post_json(&http, url(), json!({"freeze": true})).await;
    assert_eq!(c["frozen"], true);
    let frozen = parse_time(&c["now"]);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let (_, c) = get_json(&http, url()).await;
    assert_eq!(parse_time(&c["now"]), frozen);
    assert_eq!(c["frozen"], true);
    let (_, c) = post_json(&http, url(), json!({"advance_seconds": 10})).await;
    assert_eq!(parse_time(&c["now"]), frozen + chrono::Duration::seconds(10));
    assert_eq!(server.clock().now(), frozen + chrono::Duration::seconds(10));

    // Set while frozen: stays frozen at the new instant.
    let (_, c) = post_json(&http, url(), json!({"set": "2031-06-01T12:00:00Z", "freeze": true})).await;
    assert_eq!(parse_time(&c["now"]), "2031-06-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap());
    assert_eq!(c["frozen"], true);

    // Unfreeze: runs again from the frozen instant.
    let (_, c) = post_json(&http, url(), json!({"freeze": false})).await;
    assert_eq!(c["frozen"], false);
    let resumed = parse_time(&c["now"]);
    let base: DateTime<Utc> = "2031-06-01T12:00:00Z".parse().unwrap();
    assert!(resumed >= base && resumed - base < chrono::Duration::seconds(2), "{c}");
    tokio::time::sleep(Duration::from_millis(60)).await;
    let (_, c) = get_json(&http, url()).await;
    assert!(parse_time(&c["now"]) > resumed, "the clock runs again: {c}");

    // An empty change is a reading.
    let (status, c) = post_json(&http, url(), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["frozen"], false);
}

#[tokio::test]
async fn bad_clock_changes_are_json_400s_and_change_nothing() {
    let server = MockServer::start().await;
    let http = client(&server);
    let url = || admin(&server, "/clock");
    let (_, c) = post_json(&http, url(), json!({"offset_seconds": 100})).await;
    assert!((c["offset_seconds"].as_f64().unwrap() - 100.0).abs() < 0.5);

    let cases: Vec<(Value, &str)> = vec![
        (json!({"advance_seconds": "x"}), "invalid type"),
        (json!({"advance": 10}), "advance"),
        (json!({"set": "tomorrow"}), "invalid JSON body"),
        (json!({"set": 1700000000}), "invalid type"),
        (json!({"freeze": "yes"}), "invalid type"),
        (json!({"advance_seconds": 1e12}), "more than 100 years from real time; the clock was not changed"),
        (json!({"offset_seconds": -1e12}), "more than 100 years from real time; the clock was not changed"),
        (json!([1, 2]), "invalid"),
    ];
    for (change, needle) in cases {
        let (status, body) = post_json(&http, url(), change.clone()).await;
        assert_admin_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
        assert!(body["message"].as_str().unwrap().contains(needle), "{change}: {body}");
    }
    let (status, body) = post_raw(&http, url(), "application/json", "{\"advance_seconds\": ").await;
    assert_admin_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = post_raw(&http, url(), "application/json", "").await;
    assert_admin_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (status, body) = post_raw(&http, url(), "text/plain", r#"{"advance_seconds": 5}"#).await;
    assert_admin_error(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_request");

    let (_, c) = get_json(&http, url()).await;
    assert!((c["offset_seconds"].as_f64().unwrap() - 100.0).abs() < 0.5, "no bad change moved the clock: {c}");
    assert_eq!(c["frozen"], false);
}

#[tokio::test]
async fn rejected_clock_change_is_not_partly_applied() {
    let server = MockServer::start().await;
    let http = client(&server);
    let (status, body) =
        post_json(&http, admin(&server, "/clock"), json!({"set": "2030-01-01T00:00:00Z", "advance_seconds": 1e12}))
            .await;
    assert_admin_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    let (_, c) = get_json(&http, admin(&server, "/clock")).await;
    assert!(c["offset_seconds"].as_f64().unwrap().abs() < 1.0, "a rejected change moved the clock: {c}");
}

#[tokio::test]
async fn clock_beyond_the_representable_range_is_refused_not_fatal() {
    let server = MockServer::start().await;
    let http = client(&server);
    // Near chrono's last year (262143), then one allowed step further.
    let (status, body) = post_json(&http, admin(&server, "/clock"), json!({"set": "+262000-01-01T00:00:00Z"})).await;
    assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{status} {body}");
    let result = http.post(admin(&server, "/clock")).json(&json!({"advance_seconds": 9.9e10})).send().await;
    let response = result.expect("the admin API answers instead of dropping the connection");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // And the server still works.
    let r = http.get(admin(&server, "/clock")).send().await.expect("clock still readable");
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _, _) = token_response(&http, &server, SANDPIT, READER, SANDPIT_SCOPE).await;
    assert!(status.is_success() || status.is_client_error());
}

#[tokio::test]
async fn fixtures_show_the_kalibrate_tenants() {
    let server = MockServer::start().await;
    let http = client(&server);
    let (status, body) = get_json(&http, admin(&server, "/fixtures")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["source"], "mock-server/fixtures/default.toml (embedded)");
    let f = &body["fixtures"];
    assert_eq!(f["journal"]["capacity"], 10000);
    let tenants = f["kalibrate"]["tenants"].as_array().unwrap();
    let ids: Vec<&str> = tenants.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![SANDPIT, PROD]);
    assert_eq!(tenants[0]["domains"], json!([SANDPIT_DOMAIN]));
    assert_eq!(tenants[0]["apis"], json!([{"audience": SANDPIT_AUDIENCE}]));
    let clients: Vec<&str> =
        tenants[0]["clients"].as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap()).collect();
    assert_eq!(clients, vec![READER.0, WRITER.0, EXPIRED.0]);
    assert_eq!(tenants[0]["clients"][2]["secret_expires"], "2020-01-01T00:00:00Z");
    assert_eq!(tenants[0]["clients"][1]["roles"], json!(["Read", "ReadWrite"]));
    assert_eq!(tenants[1]["clients"][0]["client_id"], PROD_READER.0);
    assert_eq!(f["kalibrate"]["token_lifetime_seconds"], 3599);
    assert_eq!(f["kalibrate"]["rejected_user_agents"], json!(["python-requests/"]));
    assert_eq!(f["kalibrate"]["documents"]["price"].as_array().unwrap().len(), 5);

    // Inline fixtures say so.
    let inline = MockServer::builder().fixtures_toml(fixtures_with_capacity(77)).start().await.unwrap();
    let (_, body) = get_json(&http, admin(&inline, "/fixtures")).await;
    assert_eq!(body["source"], "<inline fixtures>");
    assert_eq!(body["fixtures"]["journal"]["capacity"], 77);
}

#[tokio::test]
async fn reset_clears_events_faults_clock_and_imported_data() {
    let server = MockServer::start().await;
    let http = client(&server);
    // State everywhere.
    let writer = sandpit_token(&http, &server, WRITER).await;
    let r = http
        .post(data_url(&server, "/api/import/ownPrice"))
        .bearer_auth(&writer)
        .json(&json!([{"siteID": "RESET1", "productCode": "ULG95", "price": 1.0, "currencyUnit": "GBP"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let query = || http.get(data_url(&server, "/api/price?query=(siteID=RESET1)")).bearer_auth(&writer).send();
    let (_, _, docs) = json(query().await.unwrap()).await;
    assert_eq!(docs.as_array().unwrap().len(), 1);
    let (status, _) =
        post_json(&http, admin(&server, "/faults"), json!({"service": "nothing", "action": {"status": 500}})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, c) = post_json(&http, admin(&server, "/clock"), json!({"advance_seconds": -600, "freeze": true})).await;
    assert_eq!(c["frozen"], true);
    assert!(!server.events().all().is_empty());

    let (status, body) = post_json(&http, admin(&server, "/reset"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"status": "reset", "fixtures": "mock-server/fixtures/default.toml (embedded)"}));

    let (_, events) = get_json(&http, admin(&server, "/events")).await;
    assert_eq!(events["events"], json!([]));
    assert_eq!(events["dropped"], 0);
    let (_, faults) = get_json(&http, admin(&server, "/faults")).await;
    assert_eq!(faults, json!([]));
    let (_, c) = get_json(&http, admin(&server, "/clock")).await;
    assert_eq!(c["frozen"], false);
    assert!(c["offset_seconds"].as_f64().unwrap().abs() < 1.0, "{c}");
    // Imported documents are gone; the token (signed with the same key, still valid) still works.
    let (status, _, docs) = json(query().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(docs, json!([]));
    let (_, _, all) = json(http.get(data_url(&server, "/api/price")).bearer_auth(&writer).send().await.unwrap()).await;
    assert_eq!(all.as_array().unwrap().len(), 5, "fixture documents stay");
}

#[tokio::test]
async fn journal_is_bounded_oldest_dropped_first() {
    let server = MockServer::builder().fixtures_toml(fixtures_with_capacity(5)).start().await.unwrap();
    let http = client(&server);
    // Each failed token request makes two events.
    for _ in 0..4 {
        let (status, _, _) = token_response(&http, &server, SANDPIT, (READER.0, "nope"), SANDPIT_SCOPE).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = get_json(&http, admin(&server, "/events")).await;
    assert_eq!(status, StatusCode::OK);
    let seqs: Vec<u64> = body["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![4, 5, 6, 7, 8], "the oldest three were dropped");
    assert_eq!(body["dropped"], 3);
    assert_eq!(body["capacity"], 5);
    assert_eq!(body["next_seq"], 9);
    let (_, health) = get_json(&http, admin(&server, "/health")).await;
    assert_eq!(health["events"], 5);
    // The first kept event is the exchange of request 2 (seq 4); since still works across drops.
    assert_eq!(body["events"][0]["kind"], "http.exchange");
    assert_eq!(admin_events(&http, &server, "since=6").await.len(), 2);
    assert_eq!(admin_events(&http, &server, "since=1").await.len(), 5);

    let r = http.delete(admin(&server, "/events")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (_, body) = get_json(&http, admin(&server, "/events")).await;
    assert_eq!(body["dropped"], 0);
    assert_eq!(body["next_seq"], 9);
}

#[tokio::test]
async fn wrong_method_on_an_admin_path_is_a_json_405() {
    let server = MockServer::start().await;
    let http = client(&server);
    for (method, path) in
        [(reqwest::Method::PUT, "/clock"), (reqwest::Method::GET, "/faults/x"), (reqwest::Method::GET, "/reset")]
    {
        let r = http.request(method.clone(), admin(&server, path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let (_, _, body) = json(r).await;
        assert!(body["error"].is_string(), "{method} {path}: {body}");
    }
}

#[tokio::test]
async fn automatic_fault_ids_never_replace_named_rules() {
    let server = MockServer::start().await;
    let http = client(&server);
    let (status, _) = post_json(
        &http,
        admin(&server, "/faults"),
        json!({"id": "fault-2", "service": "a", "action": {"status": 500}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, added) =
        post_json(&http, admin(&server, "/faults"), json!({"service": "b", "action": {"status": 502}})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(added[0]["id"], "fault-2");
    let (_, list) = get_json(&http, admin(&server, "/faults")).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "both rules are armed: {list}");
}
