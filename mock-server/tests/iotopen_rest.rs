//! IoT Open's REST API over real TLS: login with SMS 2FA (codes read from the admin outbox),
//! logout, API keys (create, list, revoke, expiry, inactivity, narrowed and higher-authority
//! keys), OAuth 2 with a consent step that grants a subset, exact key sets, FunctionX/DeviceX
//! with meta, status and v3beta log with every parameter, 403 on every installation route for
//! another user's installation, `//` paths, 414 for long URLs, JSON errors, history bounds.

mod common;
#[path = "common/mqtt.rs"]
mod mqtt_client;

use std::collections::BTreeSet;

use common::{client, json};
use mock_server::mqtt::codec::Version;
use mock_server::MockServer;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ANNA: &str = "f7650807dffc43c98710bdd942d78b68";
const BERTIL: &str = "0641b6e4b4490b21dd9e8dadd34be3ab";
const INTEGRATION: &str = "6e78f2f2df7b3aaa1938fc22b32d9089";

fn url(server: &MockServer, path: &str) -> String {
    format!("{}{path}", server.url("iotopen.api"))
}

async fn call(
    server: &MockServer,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = client(server).request(method, url(server, path));
    if let Some(key) = key {
        r = r.header("X-API-Key", key);
    }
    if let Some(body) = body {
        // No Content-Type, as go-lynx sends its creates.
        r = r.body(body.to_string());
    }
    let (status, _, body) = json(r.send().await.unwrap()).await;
    (status, body)
}

async fn get(server: &MockServer, path: &str, key: &str) -> (StatusCode, Value) {
    call(server, Method::GET, path, Some(key), None).await
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

async fn login(server: &MockServer, email: &str, password: &str) -> (StatusCode, Value) {
    let r = client(server).post(url(server, "/api/v2/auth")).basic_auth(email, Some(password)).send().await.unwrap();
    let (status, _, body) = json(r).await;
    (status, body)
}

async fn sms(server: &MockServer) -> Vec<Value> {
    let (status, _, body) =
        json(client(server).get(common::admin(server, "/sms?provider=iotopen")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    body["messages"].as_array().unwrap().clone()
}

/// Publishes `{"timestamp", "value"}` samples over MQTT as Anna.
async fn publish(server: &MockServer, samples: &[(&str, f64, f64)]) {
    let m = server.endpoints().mqtt.clone().unwrap();
    let mut c = mqtt_client::connected(&m.tcp, server.ca_pem(), Version::V311, "sampler", ANNA).await;
    for (topic, t, v) in samples {
        let payload = json!({"timestamp": t, "value": v, "msg": format!("m{v}")}).to_string();
        c.publish(&format!("1001/{topic}"), payload.as_bytes(), 1).await.unwrap();
    }
}

#[tokio::test]
async fn login_logout_and_wrong_passwords() {
    let server = MockServer::start().await;
    let (status, body) = login(&server, "anna@demo-housing.example", "anna-password").await;
    assert_eq!(status, 200);
    assert_eq!(keys(&body), set(&["token"]));
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    // The token works as X-API-Key, Bearer and Basic password.
    assert_eq!(get(&server, "/api/v2/installationinfo", &token).await.0, 200);
    let bearer =
        client(&server).get(url(&server, "/api/v2/installationinfo")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(bearer.status(), 200);
    let basic = client(&server)
        .get(url(&server, "/api/v2/installationinfo"))
        .basic_auth("whatever", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    // Logout revokes it.
    assert_eq!(
        call(&server, Method::DELETE, "/api/v2/auth", Some(&token), None).await,
        (StatusCode::OK, json!({"message": "OK"}))
    );
    assert_eq!(
        get(&server, "/api/v2/installationinfo", &token).await,
        (StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}))
    );
    for (email, password) in [("anna@demo-housing.example", "nope"), ("nobody@x.example", "anna-password")] {
        assert_eq!(
            login(&server, email, password).await,
            (StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}))
        );
    }
    assert_eq!(
        call(&server, Method::GET, "/api/v2/installationinfo", None, None).await,
        (StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}))
    );
    let rejected = common::events_of_kind(&server, "token.rejected");
    assert!(rejected.iter().any(|e| e["reason"] == "wrong password"));
}

#[tokio::test]
async fn sms_two_factor_login_with_the_code_from_the_outbox() {
    let server = MockServer::start().await;
    let (status, first) = login(&server, "bertil@cabin-rentals.example", "bertil-password").await;
    assert_eq!(status, 200);
    assert_eq!(keys(&first), set(&["token", "nextstep", "next_step"]));
    assert_eq!((first["nextstep"].clone(), first["next_step"].clone()), (json!("smslogin"), json!("smslogin")));
    let half = first["token"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&server, "/api/v2/installationinfo", &half).await.0,
        401,
        "the first-step token is only good for PUT /api/v2/auth"
    );
    let messages = sms(&server).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["to"], "+46700000012");
    let code = messages[0]["code"].as_str().unwrap().to_owned();
    assert!(messages[0]["text"].as_str().unwrap().contains(&code));
    // A wrong code is 401 and the half token still waits; the right one completes.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(
        call(&server, Method::PUT, "/api/v2/auth", Some(&half), Some(json!({"challenge": wrong}))).await,
        (StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}))
    );
    let (status, done) =
        call(&server, Method::PUT, "/api/v2/auth", Some(&half), Some(json!({"challenge": code}))).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(keys(&done), set(&["token"]));
    let token = done["token"].as_str().unwrap();
    assert_ne!(token, half);
    let (status, list) = get(&server, "/api/v2/installationinfo", token).await;
    assert_eq!((status, list[0]["id"].clone()), (StatusCode::OK, json!(2002)));
    assert_eq!(
        call(&server, Method::PUT, "/api/v2/auth", Some(&half), Some(json!({"challenge": code}))).await.0,
        401,
        "spent"
    );
    // An expired code is 401 even when right.
    let (_, again) = login(&server, "bertil@cabin-rentals.example", "bertil-password").await;
    let code = sms(&server).await.last().unwrap()["code"].as_str().unwrap().to_owned();
    server.clock().advance(chrono::Duration::seconds(301)).unwrap();
    assert_eq!(
        call(
            &server,
            Method::PUT,
            "/api/v2/auth",
            Some(again["token"].as_str().unwrap()),
            Some(json!({"challenge": code}))
        )
        .await
        .0,
        401
    );
    // The outbox is admin-readable, clearable, and reset with the rest.
    let r = client(&server).delete(common::admin(&server, "/sms")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(sms(&server).await.is_empty());
}

#[tokio::test]
async fn too_many_wrong_codes_revoke_the_half_token() {
    let server = MockServer::start().await;
    let (_, first) = login(&server, "bertil@cabin-rentals.example", "bertil-password").await;
    let half = first["token"].as_str().unwrap();
    let code = sms(&server).await[0]["code"].as_str().unwrap().to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_eq!(
            call(&server, Method::PUT, "/api/v2/auth", Some(half), Some(json!({"challenge": wrong}))).await.0,
            401
        );
    }
    assert_eq!(call(&server, Method::PUT, "/api/v2/auth", Some(half), Some(json!({"challenge": code}))).await.0, 401);
}

#[tokio::test]
async fn api_keys_create_list_revoke_expire_and_narrow() {
    let server = MockServer::start().await;
    let (status, created) = call(
        &server,
        Method::POST,
        "/api/v2/user/me/security/token",
        Some(ANNA),
        Some(json!({"name": "ci", "expire": 0, "session_timeout": 0})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        keys(&created),
        set(&[
            "id",
            "type",
            "created",
            "token",
            "accessed",
            "last_used",
            "current",
            "agent",
            "expire",
            "session_timeout",
            "name",
            "permissions"
        ])
    );
    let key = created["token"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 32);
    assert_eq!(get(&server, "/api/v2/status/2001", &key).await.0, 200);
    let (status, list) = get(&server, "/api/v2/user/me/security/token", ANNA).await;
    assert_eq!(status, 200);
    let list = list.as_array().unwrap();
    assert!(list.iter().all(|k| !k["token"].as_str().unwrap().contains(&key[4..])), "listings never show a whole key");
    let mine = list.iter().find(|k| k["id"] == 501).unwrap();
    assert_eq!(mine["current"], true);
    let ci = list.iter().find(|k| k["id"] == created["id"]).unwrap();
    assert_eq!((ci["current"].clone(), ci["last_used"].as_i64().unwrap() > 0), (json!(false), true));
    assert_eq!(ci["accessed"][0]["ip"], "127.0.0.1");
    // Revoked: 401 everywhere.
    let path = format!("/api/v2/user/me/security/token/{}", created["id"]);
    assert_eq!(
        call(&server, Method::DELETE, &path, Some(ANNA), None).await,
        (StatusCode::OK, json!({"message": "OK"}))
    );
    assert_eq!(get(&server, "/api/v2/status/2001", &key).await.0, 401);
    assert_eq!(call(&server, Method::DELETE, &path, Some(ANNA), None).await.0, 404);
    // Expiry and inactivity, on the virtual clock.
    let now = chrono::Utc::now().timestamp();
    let (_, expiring) = call(
        &server,
        Method::POST,
        "/api/v2/user/11/security/token",
        Some(ANNA),
        Some(json!({"name": "short", "expire": now + 60})),
    )
    .await;
    let (_, idle) = call(
        &server,
        Method::POST,
        "/api/v2/user/me/security/token",
        Some(ANNA),
        Some(json!({"name": "idle", "session_timeout": 120})),
    )
    .await;
    server.clock().advance(chrono::Duration::seconds(100)).unwrap();
    assert_eq!(get(&server, "/api/v2/status/2001", expiring["token"].as_str().unwrap()).await.0, 401, "expired");
    assert_eq!(
        get(&server, "/api/v2/status/2001", idle["token"].as_str().unwrap()).await.0,
        200,
        "used within its session timeout"
    );
    server.clock().advance(chrono::Duration::seconds(121)).unwrap();
    assert_eq!(get(&server, "/api/v2/status/2001", idle["token"].as_str().unwrap()).await.0, 401, "idle too long");
    // A key narrowed to reading status.
    let (status, narrow) = call(
        &server,
        Method::POST,
        "/api/v2/user/me/security/token",
        Some(ANNA),
        Some(json!({"name": "status only", "permissions": ["status/read/assigned"]})),
    )
    .await;
    assert_eq!((status, narrow["permissions"].clone()), (StatusCode::OK, json!(["status/read/assigned"])));
    let narrow = narrow["token"].as_str().unwrap();
    assert_eq!(get(&server, "/api/v2/status/2001", narrow).await.0, 200);
    assert_eq!(get(&server, "/api/v3beta/log/2001", narrow).await.0, 403);
    assert_eq!(get(&server, "/api/v2/functionx/2001", narrow).await.0, 403);
    // Nobody gives a key more than they have; nobody touches another user's keys.
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v2/user/me/security/token",
        Some(ANNA),
        Some(json!({"name": "greedy", "permissions": ["status/read/all"]})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("status/read/all"));
    assert_eq!(get(&server, "/api/v2/user/12/security/token", ANNA).await.0, 403);
    assert_eq!(
        call(&server, Method::POST, "/api/v2/user/me/security/token", Some(ANNA), Some(json!({"expire": 0}))).await.0,
        400,
        "name is required"
    );
    assert_eq!(
        call(&server, Method::POST, "/api/v2/user/me/security/token", Some(INTEGRATION), Some(json!({"name": "x"})))
            .await
            .0,
        403,
        "the integration key may not make keys"
    );
}

#[tokio::test]
async fn a_key_with_higher_authority_reaches_every_installation_of_its_organisation() {
    let server = MockServer::start().await;
    let (status, list) = get(&server, "/api/v2/installationinfo", INTEGRATION).await;
    assert_eq!(status, 200);
    let ids: Vec<i64> = list.as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![2001, 2003]);
    assert!(list.as_array().unwrap().iter().all(|i| i["assigned"] == false));
    assert_eq!(get(&server, "/api/v2/status/2003", INTEGRATION).await.0, 200);
    assert_eq!(get(&server, "/api/v2/status/2002", INTEGRATION).await.0, 403, "another organisation");
    assert_eq!(get(&server, "/api/v2/status/2003", ANNA).await.0, 403, "Anna's own key only reaches her installation");
}

#[tokio::test]
async fn exact_key_sets_as_py_lynx_builds_its_objects() {
    let server = MockServer::start().await;
    let (_, info) = get(&server, "/api/v2/installationinfo", ANNA).await;
    assert_eq!(
        info,
        json!([{"id": 2001, "client_id": 1001, "name": "Anna's apartment", "organization_id": 1, "assigned": true, "capabilities": ["zwave", "lora"]}])
    );
    let (_, one) = get(&server, "/api/v2/installationinfo/1001?assigned=true", ANNA).await;
    assert_eq!(one, info[0]);
    let (_, rows) = get(&server, "/api/v2/installation", ANNA).await;
    assert_eq!(
        keys(&rows[0]),
        set(&["id", "name", "client_id", "created", "organization_id", "notes", "users", "meta", "protected_meta"])
    );
    assert_eq!(
        (rows[0]["users"].clone(), rows[0]["meta"]["timezone"].clone()),
        (json!([11]), json!("Europe/Stockholm"))
    );
    let (_, row) = get(&server, "/api/v2/installation/2001", ANNA).await;
    assert_eq!(row, rows[0]);
    let object_keys = set(&["id", "type", "installation_id", "meta", "protected_meta", "created", "updated"]);
    for kind in ["functionx", "devicex"] {
        let (status, list) = get(&server, &format!("/api/v2/{kind}/2001"), ANNA).await;
        assert_eq!(status, 200);
        assert!(!list.as_array().unwrap().is_empty());
        for o in list.as_array().unwrap() {
            assert_eq!(keys(o), object_keys, "{kind}");
        }
    }
    let (_, me) = get(&server, "/api/v2/user/me", ANNA).await;
    assert_eq!(
        keys(&me),
        set(&[
            "id",
            "email",
            "first_name",
            "last_name",
            "role",
            "sms_login",
            "address",
            "note",
            "mobile",
            "organisations",
            "meta",
            "protected_meta",
            "assigned_installations",
            "expire_at"
        ])
    );
    let (_, meta) = get(&server, "/api/v2/functionx/2001/401/meta/topic_read", ANNA).await;
    assert_eq!(meta, json!({"value": "obj/zwave/12/temperature", "protected": false}));
}

#[tokio::test]
async fn another_users_installation_is_403_on_every_route() {
    let server = MockServer::start().await;
    let routes: Vec<(Method, String, Option<Value>)> = {
        let mut r = vec![
            (Method::GET, "/api/v2/installationinfo/1002".to_owned(), None),
            (Method::GET, "/api/v2/installation/2002".to_owned(), None),
            (Method::GET, "/api/v2/status/2002".to_owned(), None),
            (Method::POST, "/api/v2/status/2002".to_owned(), Some(json!([]))),
            (Method::GET, "/api/v3beta/log/2002".to_owned(), None),
            (Method::POST, "/api/v3beta/log/2002".to_owned(), Some(json!([]))),
        ];
        for (kind, id) in [("functionx", 403), ("devicex", 302)] {
            r.push((Method::GET, format!("/api/v2/{kind}/2002"), None));
            r.push((
                Method::POST,
                format!("/api/v2/{kind}/2002"),
                Some(json!({"type": "x", "installation_id": 2002, "meta": {}})),
            ));
            r.push((Method::GET, format!("/api/v2/{kind}/2002/{id}"), None));
            r.push((
                Method::PUT,
                format!("/api/v2/{kind}/2002/{id}"),
                Some(json!({"type": "x", "installation_id": 2002, "meta": {}})),
            ));
            r.push((Method::DELETE, format!("/api/v2/{kind}/2002/{id}"), None));
            for m in [Method::GET, Method::DELETE] {
                r.push((m, format!("/api/v2/{kind}/2002/{id}/meta/name"), None));
            }
            for m in [Method::POST, Method::PUT] {
                r.push((m, format!("/api/v2/{kind}/2002/{id}/meta/name"), Some(json!({"value": "x"}))));
            }
        }
        r
    };
    for (method, path, body) in &routes {
        let (status, answer) = call(&server, method.clone(), path, Some(ANNA), body.clone()).await;
        assert_eq!((status, answer), (StatusCode::FORBIDDEN, json!({"message": "Forbidden"})), "{method} {path}");
        // The same routes work for the owner (or answer as they would: never 403).
        let (status, _) = call(&server, method.clone(), path, Some(BERTIL), body.clone()).await;
        assert_ne!(status, 403, "{method} {path} for its owner");
    }
    // A missing installation is as out of reach as another user's: 403, nothing leaks.
    assert_eq!(get(&server, "/api/v2/status/9999", ANNA).await.0, 403);
    assert_eq!(get(&server, "/api/v2/installationinfo/9999", ANNA).await.0, 403);
    let denied = common::events_of_kind(&server, "api.denied");
    assert!(denied.len() >= routes.len());
}

#[tokio::test]
async fn functions_and_devices_with_meta_filters_and_writes_answering_200() {
    let server = MockServer::start().await;
    let (status, created) = call(&server, Method::POST, "/api/v2/functionx/2001", Some(ANNA), Some(json!({"type": "humidity", "installation_id": 2001, "meta": {"topic_read": "obj/zwave/12/humidity", "unit": "%"}}))).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_i64().unwrap();
    let (_, filtered) = get(&server, "/api/v2/functionx/2001?topic_read=obj/zwave/12/humidity", ANNA).await;
    assert_eq!(filtered.as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect::<Vec<_>>(), vec![id]);
    let (_, none) = get(&server, "/api/v2/functionx/2001?topic_read=nothing", ANNA).await;
    assert_eq!(none, json!([]));
    // Go sends meta objects with capitalised field names.
    assert_eq!(
        call(
            &server,
            Method::POST,
            &format!("/api/v2/functionx/2001/{id}/meta/room"),
            Some(ANNA),
            Some(json!({"Value": "kitchen", "Protected": false}))
        )
        .await,
        (StatusCode::OK, json!({"value": "kitchen", "protected": false}))
    );
    assert_eq!(
        call(
            &server,
            Method::POST,
            &format!("/api/v2/functionx/2001/{id}/meta/room"),
            Some(ANNA),
            Some(json!({"value": "again"}))
        )
        .await
        .0,
        409
    );
    assert_eq!(
        call(
            &server,
            Method::PUT,
            &format!("/api/v2/functionx/2001/{id}/meta/missing"),
            Some(ANNA),
            Some(json!({"value": "x"}))
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(
            &server,
            Method::PUT,
            &format!("/api/v2/functionx/2001/{id}/meta/missing?create_missing=true"),
            Some(ANNA),
            Some(json!({"value": "x", "protected": true}))
        )
        .await
        .0,
        200
    );
    let (_, got) = get(&server, &format!("/api/v2/functionx/2001/{id}"), ANNA).await;
    assert_eq!((got["meta"]["room"].clone(), got["protected_meta"]["missing"].clone()), (json!("kitchen"), json!("x")));
    assert_eq!(
        call(&server, Method::DELETE, &format!("/api/v2/functionx/2001/{id}/meta/room"), Some(ANNA), None).await,
        (StatusCode::OK, json!({"message": "OK"}))
    );
    let mut replaced = got.clone();
    replaced["type"] = json!("humidity2");
    replaced["meta"] = json!({"topic_read": "obj/x"});
    let (status, put) =
        call(&server, Method::PUT, &format!("/api/v2/functionx/2001/{id}"), Some(ANNA), Some(replaced)).await;
    assert_eq!(
        (status, put["type"].clone(), put["meta"].clone()),
        (StatusCode::OK, json!("humidity2"), json!({"topic_read": "obj/x"}))
    );
    assert_eq!(
        call(&server, Method::DELETE, &format!("/api/v2/functionx/2001/{id}"), Some(ANNA), None).await,
        (StatusCode::OK, json!({"message": "OK"}))
    );
    assert_eq!(
        get(&server, &format!("/api/v2/functionx/2001/{id}"), ANNA).await,
        (StatusCode::NOT_FOUND, json!({"message": "Not Found"}))
    );
    let (status, device) = call(
        &server,
        Method::POST,
        "/api/v2/devicex/2001",
        Some(ANNA),
        Some(json!({"type": "lora", "meta": {"eui": "a81758fffe0312ab"}})),
    )
    .await;
    assert_eq!((status, device["installation_id"].clone()), (StatusCode::OK, json!(2001)));
    assert_eq!(
        call(&server, Method::POST, "/api/v2/devicex/2001", Some(ANNA), Some(json!({"meta": {}}))).await.0,
        400,
        "type is required"
    );
    assert_eq!(
        call(
            &server,
            Method::POST,
            "/api/v2/devicex/2001",
            Some(ANNA),
            Some(json!({"type": "x", "installation_id": 2002}))
        )
        .await
        .0,
        400
    );
    let (status, body) = call(&server, Method::POST, "/api/v2/devicex/2001", Some(ANNA), None).await;
    assert_eq!(status, 400);
    assert!(body["message"].is_string());
}

#[tokio::test]
async fn double_slashes_unknown_paths_methods_and_long_urls() {
    let server = MockServer::start().await;
    let (status, _, body) =
        json(client(&server).get(format!("{}//api/v2/ping", server.url("iotopen.api"))).send().await.unwrap()).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"message": "pong"})));
    assert_eq!(get(&server, "//api/v2//installationinfo", ANNA).await.0, 200);
    assert_eq!(get(&server, "/api/v2/nothing", ANNA).await, (StatusCode::NOT_FOUND, json!({"message": "Not Found"})));
    assert_eq!(
        call(&server, Method::PATCH, "/api/v2/status/2001", Some(ANNA), None).await,
        (StatusCode::METHOD_NOT_ALLOWED, json!({"message": "Method Not Allowed"}))
    );
    // go-lynx's 414 fallback: the long GET is refused, the same query as POST works.
    let topics: Vec<String> = (0..400).map(|i| format!("obj/zwave/{i}/temperature")).collect();
    let query: String = topics.iter().map(|t| format!("topics={t}")).collect::<Vec<_>>().join("&");
    let (status, body) = get(&server, &format!("/api/v3beta/log/2001?{query}"), ANNA).await;
    assert_eq!((status, body), (StatusCode::URI_TOO_LONG, json!({"message": "Request-URI Too Long"})));
    assert_eq!(get(&server, &format!("/api/v2/status/2001?{query}"), ANNA).await.0, 414);
    assert_eq!(call(&server, Method::POST, "/api/v3beta/log/2001", Some(ANNA), Some(json!(topics))).await.0, 200);
    assert_eq!(call(&server, Method::POST, "/api/v2/status/2001", Some(ANNA), Some(json!(topics))).await.0, 200);
    // By the real host name too.
    let r = client(&server)
        .get(format!("{}/api/v2/ping", server.endpoints().https))
        .header("Host", "lynx.iotopen.se")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn status_and_log_with_every_parameter() {
    let server = MockServer::start().await;
    let base = chrono::Utc::now().timestamp() as f64 - 10_000.0;
    let mut samples = Vec::new();
    for i in 0..20 {
        let topic = if i % 2 == 0 { "obj/zwave/12/temperature" } else { "obj/zwave/12/switch" };
        samples.push((topic, base + i as f64 * 600.0 + 0.5, i as f64));
    }
    let owned: Vec<(&str, f64, f64)> = samples.iter().map(|(t, a, b)| (*t, *a, *b)).collect();
    publish(&server, &owned).await;
    // Status: every topic, one, by prefix, by POST body.
    let (_, all) = get(&server, "/api/v2/status/2001", ANNA).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, one) = get(&server, "/api/v2/status/2001?topics=1001/obj/zwave/12/switch", ANNA).await;
    assert_eq!((one[0]["topic"].clone(), one[0]["value"].clone()), (json!("obj/zwave/12/switch"), json!(19.0)));
    let (_, posted) =
        call(&server, Method::POST, "/api/v2/status/2001", Some(ANNA), Some(json!(["obj/zwave/12/temperature"]))).await;
    assert_eq!(posted[0]["value"], 18.0);
    // Log: ranges, order, paging, topics in both spellings, totals.
    let q = |s: &str| format!("/api/v3beta/log/2001?from={}&to={}&{s}", base - 1.0, base + 20_000.0);
    let (_, page) = get(&server, &q("limit=5&offset=2&order=asc"), ANNA).await;
    assert_eq!((page["total"].clone(), page["count"].clone()), (json!(20), json!(5)));
    let values: Vec<f64> = page["data"].as_array().unwrap().iter().map(|e| e["value"].as_f64().unwrap()).collect();
    assert_eq!(values, vec![2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(page["last"], page["data"][4]["timestamp"]);
    let (_, desc) = get(&server, &q("limit=3&topics=obj/zwave/12/switch,1001/obj/zwave/12/temperature"), ANNA).await;
    let values: Vec<f64> = desc["data"].as_array().unwrap().iter().map(|e| e["value"].as_f64().unwrap()).collect();
    assert_eq!(values, vec![19.0, 18.0, 17.0]);
    let (_, only) = get(&server, &q("topics=obj/zwave/12/switch&topics=obj/nothing&include_total=true"), ANNA).await;
    assert_eq!(only["total"], 10);
    assert!(only["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["topic"] == "1001/obj/zwave/12/switch" && e["client_id"] == 1001 && e["installation_id"] == 2001));
    let (_, wild) = get(&server, &q("topics=obj/zwave/%2B/switch"), ANNA).await;
    assert_eq!(wild["total"], 10);
    let (_, narrow) =
        get(&server, &format!("/api/v3beta/log/2001?from={}&to={}", base + 600.0, base + 1200.9), ANNA).await;
    assert_eq!(narrow["total"], 2, "from and to are inclusive and fractional");
    // Aggregation by Go durations.
    let (_, hourly) =
        get(&server, &q("topics=obj/zwave/12/temperature&aggr_method=max&aggr_interval=1h0m0s&order=asc"), ANNA).await;
    let total: f64 = hourly["data"].as_array().unwrap().iter().map(|e| e["value"].as_f64().unwrap()).sum();
    assert!(hourly["total"].as_u64().unwrap() >= 3, "{hourly}");
    assert!(total > 0.0);
    let (_, count) = get(&server, &q("aggr_method=count&aggr_interval=0s"), ANNA).await;
    let counted: f64 = count["data"].as_array().unwrap().iter().map(|e| e["value"].as_f64().unwrap()).sum();
    assert_eq!(counted, 20.0);
    // POST with topics in the body (py-lynx).
    let (_, posted) =
        call(&server, Method::POST, &q("limit=100"), Some(ANNA), Some(json!(["obj/zwave/12/temperature"]))).await;
    assert_eq!(posted["total"], 10);
    // Bad parameters are JSON 400s.
    for bad in [
        "from=yesterday",
        "limit=0",
        "order=sideways",
        "aggr_method=median",
        "aggr_method=avg&aggr_interval=1d",
        "from=10&to=5",
    ] {
        let (status, body) = get(&server, &format!("/api/v3beta/log/2001?{bad}"), ANNA).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["message"].is_string(), "{bad}");
    }
}

#[tokio::test]
async fn history_is_bounded_by_points_and_retention() {
    let fixtures = common::DEFAULT_FIXTURES
        .replacen("history_max_points_per_installation = 20000", "history_max_points_per_installation = 10", 1)
        .replacen("history_retention_days = 3650", "history_retention_days = 1", 1);
    let server = MockServer::builder().fixtures_toml(fixtures).start().await.unwrap();
    let now = chrono::Utc::now().timestamp() as f64;
    let mut samples: Vec<(&str, f64, f64)> = (0..25).map(|i| ("obj/a", now - 1000.0 + i as f64, i as f64)).collect();
    samples.push(("obj/a", now - 2.0 * 86_400.0, -1.0));
    publish(&server, &samples).await;
    let (_, log) =
        get(&server, &format!("/api/v3beta/log/2001?from={}&to={}&order=asc", now - 10.0 * 86_400.0, now), ANNA).await;
    assert_eq!(log["total"], 10, "at most 10 points");
    assert_eq!(log["data"][0]["value"], 15.0, "the oldest went first");
    let published = common::events_of_kind(&server, "mqtt.published");
    assert!(published.last().unwrap()["invalid"].as_str().unwrap().contains("retention"));
}

#[tokio::test]
async fn oauth_code_flow_grants_only_the_consented_scopes_and_installations() {
    let server = MockServer::start().await;
    let http = client(&server);
    let (_, scopes) = get(&server, "/api/v2/oauth2/scope", ANNA).await;
    assert!(scopes.as_array().unwrap().iter().any(|s| s["scope"] == "status:read"));
    let authorize = "/api/v2/oauth2/authorize?response_type=code&client_id=demo-integrator&redirect_uri=http://127.0.0.1:8765/callback&scope=status:read%20log:read%20mqtt:subscribe&state=xyz";
    // The integration user (two installations) consents to status only, on one installation.
    let (status, request) = get(&server, authorize, INTEGRATION).await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(request["requested_scopes"], json!(["status:read", "log:read", "mqtt:subscribe"]));
    let shareable: Vec<i64> =
        request["installations"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(shareable, vec![2001, 2003]);
    let consent = json!({"consent_challenge": request["consent_challenge"], "grant_scope": ["status:read"], "installations": [2003]});
    let (status, redirect) =
        call(&server, Method::POST, "/api/v2/oauth2/consent", Some(INTEGRATION), Some(consent)).await;
    assert_eq!(status, 200, "{redirect}");
    let to = redirect["redirect_to"].as_str().unwrap();
    assert!(to.starts_with("http://127.0.0.1:8765/callback?code=") && to.ends_with("&state=xyz"), "{to}");
    let code = to.split("code=").nth(1).unwrap().split('&').next().unwrap();
    let form =
        [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", "http://127.0.0.1:8765/callback")];
    let (status, _, token) = json(
        http.post(url(&server, "/api/v2/oauth2/token"))
            .basic_auth("demo-integrator", Some("demo-integrator-secret"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{token}");
    assert_eq!((token["token_type"].clone(), token["scope"].clone()), (json!("bearer"), json!("status:read")));
    let access = token["access_token"].as_str().unwrap();
    let bearer = |path: &str| http.get(url(&server, path)).bearer_auth(access).send();
    assert_eq!(bearer("/api/v2/status/2003").await.unwrap().status(), 200);
    assert_eq!(bearer("/api/v2/status/2001").await.unwrap().status(), 403, "not consented");
    assert_eq!(bearer("/api/v3beta/log/2003").await.unwrap().status(), 403, "scope not granted");
    // The code works once.
    let (status, _, again) = json(
        http.post(url(&server, "/api/v2/oauth2/token"))
            .basic_auth("demo-integrator", Some("demo-integrator-secret"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, again["error"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_grant")));
    // MQTT with the token: no mqtt scope, no subscription.
    let m = server.endpoints().mqtt.clone().unwrap();
    let mut c = mqtt_client::connected(&m.tcp, server.ca_pem(), Version::V5, "integrator", access).await;
    assert_eq!(c.subscribe(&["1003/#"], 0).await.unwrap(), vec![0x87]);
    // Refresh rotates; the consent is listed and revocable, which ends its tokens.
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", token["refresh_token"].as_str().unwrap()),
        ("client_id", "demo-integrator"),
        ("client_secret", "demo-integrator-secret"),
    ];
    let (status, _, refreshed) =
        json(http.post(url(&server, "/api/v2/oauth2/token")).form(&refresh).send().await.unwrap()).await;
    assert_eq!(status, 200, "{refreshed}");
    let (status, _, reused) =
        json(http.post(url(&server, "/api/v2/oauth2/token")).form(&refresh).send().await.unwrap()).await;
    assert_eq!((status, reused["error"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_grant")));
    let (_, consents) = get(&server, "/api/v2/user/me/security/consent", INTEGRATION).await;
    assert_eq!(consents.as_array().unwrap().len(), 1);
    assert_eq!(keys(&consents[0]), set(&["id", "oauth2_client_id", "scopes", "installations"]));
    assert_eq!(
        (consents[0]["scopes"].clone(), consents[0]["installations"].clone()),
        (json!(["status:read"]), json!([2003]))
    );
    let path = format!("/api/v2/user/13/security/consent/{}", consents[0]["id"].as_str().unwrap());
    assert_eq!(call(&server, Method::DELETE, &path, Some(INTEGRATION), None).await.0, 200);
    let new_access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(
        http.get(url(&server, "/api/v2/status/2003")).bearer_auth(new_access).send().await.unwrap().status(),
        401
    );
    assert_eq!(http.get(url(&server, "/api/v2/status/2003")).bearer_auth(access).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn oauth_consent_refusals_and_client_errors() {
    let server = MockServer::start().await;
    let http = client(&server);
    let base = "/api/v2/oauth2/authorize?response_type=code&client_id=demo-integrator&scope=status:read%20mqtt:subscribe%20mqtt:publish&redirect_uri=https://integrator.example/callback";
    assert_eq!(
        get(
            &server,
            &format!("{base}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"),
            ANNA
        )
        .await
        .0,
        200
    );
    assert_eq!(get(&server, "/api/v2/oauth2/authorize?client_id=unknown&scope=status:read", ANNA).await.0, 400);
    assert_eq!(
        get(
            &server,
            "/api/v2/oauth2/authorize?client_id=demo-integrator&scope=status:read&redirect_uri=https://evil.example/cb",
            ANNA
        )
        .await
        .0,
        400
    );
    assert_eq!(get(&server, "/api/v2/oauth2/authorize?client_id=demo-integrator&scope=devicex:write&redirect_uri=https://integrator.example/callback", ANNA).await.0, 400);
    assert_eq!(call(&server, Method::GET, base, None, None).await.0, 401, "the consent UI needs the user");
    // Anna cannot share Bertil's installation; she can refuse.
    let (_, request) = get(&server, base, ANNA).await;
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v2/oauth2/consent",
        Some(ANNA),
        Some(json!({"consent_challenge": request["consent_challenge"], "installations": [2002]})),
    )
    .await;
    assert_eq!(status, 403);
    let (_, request) = get(&server, base, ANNA).await;
    let (_, refused) = call(
        &server,
        Method::POST,
        "/api/v2/oauth2/consent",
        Some(ANNA),
        Some(json!({"consent_challenge": request["consent_challenge"], "accept": false})),
    )
    .await;
    assert!(refused["redirect_to"].as_str().unwrap().contains("error=access_denied"));
    // PKCE, parameters as strings (node-lynx), MQTT publish granted.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let (_, request) = get(
        &server,
        &format!("{base}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"),
        ANNA,
    )
    .await;
    let (_, redirect) = call(&server, Method::POST, "/api/v2/oauth2/consent", Some(ANNA), Some(json!({"consent_challenge": request["consent_challenge"], "grant_scope": "mqtt:subscribe mqtt:publish", "installations": "2001"}))).await;
    let code = redirect["redirect_to"].as_str().unwrap().split("code=").nth(1).unwrap().to_owned();
    let token_url = url(&server, "/api/v2/oauth2/token");
    let bad = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", "wrong"),
        ("client_id", "demo-integrator"),
        ("client_secret", "demo-integrator-secret"),
    ];
    let (status, _, body) = json(http.post(&token_url).form(&bad).send().await.unwrap()).await;
    assert_eq!((status, body["error"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_grant")));
    let (_, redirect) = {
        let (_, request) = get(
            &server,
            &format!("{base}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"),
            ANNA,
        )
        .await;
        call(&server, Method::POST, "/api/v2/oauth2/consent", Some(ANNA), Some(json!({"consent_challenge": request["consent_challenge"], "grant_scope": "mqtt:subscribe mqtt:publish", "installations": "2001"}))).await
    };
    let code = redirect["redirect_to"].as_str().unwrap().split("code=").nth(1).unwrap().to_owned();
    let good = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", verifier),
        ("client_id", "demo-integrator"),
        ("client_secret", "demo-integrator-secret"),
    ];
    let (status, _, token) = json(http.post(&token_url).form(&good).send().await.unwrap()).await;
    assert_eq!(status, 200, "{token}");
    let m = server.endpoints().mqtt.clone().unwrap();
    let mut c = mqtt_client::connected(
        &m.ws,
        server.ca_pem(),
        Version::V5,
        "oauth-mqtt",
        token["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(c.subscribe(&["1001/#", "+/#"], 0).await.unwrap(), vec![0, 0x87]);
    assert_eq!(c.publish("1001/obj/oauth", br#"{"value": 1}"#, 1).await.unwrap(), Some(0));
    // Wrong client secret: RFC 6749 invalid_client, 401.
    let wrong = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("client_id", "demo-integrator"),
        ("client_secret", "nope"),
    ];
    let (status, _, body) = json(http.post(&token_url).form(&wrong).send().await.unwrap()).await;
    assert_eq!((status, body["error"].clone()), (StatusCode::UNAUTHORIZED, json!("invalid_client")));
}
