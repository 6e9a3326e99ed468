//! The library API a client project's `cargo test` uses: runs (isolated namespaces on one
//! server) and proxy mode, over real sockets and real TLS with reqwest.

mod common;

use std::time::Duration;

use common::{SANDPIT, SANDPIT_SCOPE};
use mock_server::{EventFilter, FaultRule, MockServer, Namespace};
use reqwest::{Client, StatusCode};
use serde_json::Value;

const READER: (&str, &str) = common::READER;

/// A client that trusts only the dev CA and sends everything through `proxy`, if given.
fn client(ns: &Namespace, proxy: Option<&str>) -> Client {
    let ca = reqwest::Certificate::from_pem(ns.ca_pem().as_bytes()).unwrap();
    let mut b =
        Client::builder().tls_certs_only([ca]).no_proxy().user_agent("API-CLIENT").timeout(Duration::from_secs(30));
    if let Some(url) = proxy {
        b = b.proxy(reqwest::Proxy::all(url).unwrap());
    }
    b.build().unwrap()
}

async fn token_at(http: &Client, login_base: &str) -> (StatusCode, Value) {
    let form = [
        ("client_id", READER.0),
        ("client_secret", READER.1),
        ("scope", SANDPIT_SCOPE),
        ("grant_type", "client_credentials"),
    ];
    let r = http.post(format!("{login_base}/{SANDPIT}/oauth2/v2.0/token")).form(&form).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn status_at(http: &Client, data_base: &str, token: &str) -> StatusCode {
    http.get(format!("{data_base}/api/status")).bearer_auth(token).send().await.unwrap().status()
}

#[tokio::test]
async fn runs_isolate_events_tokens_faults_and_clocks() {
    let server = MockServer::start().await;
    let (a, b) = (server.run("job-a").await.unwrap(), server.run("job-b").await.unwrap());
    let http = client(&server, None);

    let (status, body) = token_at(&http, &a.url("kalibrate.login")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    a.events().assert_count("token.issued", 1);
    b.events().assert_count("token.issued", 0);
    server.events().assert_count("token.issued", 0);

    // A token is worth something only in the run that issued it.
    assert_eq!(status_at(&http, &a.url("kalibrate.data"), &token).await, StatusCode::OK);
    assert_eq!(status_at(&http, &b.url("kalibrate.data"), &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_at(&http, &server.url("kalibrate.data"), &token).await, StatusCode::UNAUTHORIZED);

    // A fault armed in b fires in b only.
    b.faults()
        .add(
            FaultRule::on("kalibrate", "login")
                .route("/*/oauth2/v2.0/token")
                .times(1)
                .status(503)
                .header("Retry-After", "1"),
        )
        .unwrap();
    assert_eq!(token_at(&http, &a.url("kalibrate.login")).await.0, StatusCode::OK);
    assert_eq!(token_at(&http, &server.url("kalibrate.login")).await.0, StatusCode::OK);
    assert_eq!(token_at(&http, &b.url("kalibrate.login")).await.0, StatusCode::SERVICE_UNAVAILABLE);
    b.events().assert_count("fault.applied", 1);
    a.events().assert_count("fault.applied", 0);

    // So does a clock step: a's token expires, the default clock does not move.
    a.clock().advance(chrono::Duration::hours(2)).unwrap();
    assert_eq!(status_at(&http, &a.url("kalibrate.data"), &token).await, StatusCode::UNAUTHORIZED);
    assert!(server.clock().reading().offset_seconds.abs() < 1.0);
    assert!(b.clock().reading().offset_seconds.abs() < 1.0);

    // Fixtures replaced in a stay in a.
    a.replace_fixtures_toml("[journal]\ncapacity = 50\n").unwrap();
    assert!(a.fixtures().kalibrate.tenants.is_empty());
    assert!(!b.fixtures().kalibrate.tenants.is_empty());
}

#[tokio::test]
async fn the_admin_api_of_a_run_is_under_its_prefix() {
    let server = MockServer::start().await;
    let run = server.run("admin-view").await.unwrap();
    let http = client(&server, None);
    token_at(&http, &run.url("kalibrate.login")).await;
    let events: Value =
        http.get(format!("{}/events?kind=token.issued", run.admin_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(events["events"].as_array().unwrap().len(), 1, "{events}");
    let listed: Value = http.get(format!("{}/runs", server.admin_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["runs"][0]["id"], "admin-view");
    assert_eq!(listed["runs"][0]["endpoints"]["admin"], run.admin_url());
}

#[tokio::test]
async fn a_dropped_run_is_gone() {
    let server = MockServer::start().await;
    let url = {
        let run = server.run("short-lived").await.unwrap();
        run.url("kalibrate.login")
    };
    let http = client(&server, None);
    let (status, body) = token_at(&http, &url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "unknown_run", "{body}");
    assert!(server.run("short-lived").await.is_ok(), "the id is free again");
}

#[tokio::test]
async fn the_run_unused_for_longest_is_evicted_at_the_limit() {
    let server = MockServer::builder().max_runs(2).start().await.unwrap();
    let http = client(&server, None);
    let r1 = server.run("r1").await.unwrap();
    let r2 = server.run("r2").await.unwrap();
    assert_eq!(token_at(&http, &r1.url("kalibrate.login")).await.0, StatusCode::OK, "r1 is used last");
    let r3 = server.run("r3").await.unwrap();
    assert_eq!(token_at(&http, &r2.url("kalibrate.login")).await.0, StatusCode::NOT_FOUND, "r2 was evicted");
    assert_eq!(token_at(&http, &r1.url("kalibrate.login")).await.0, StatusCode::OK);
    assert_eq!(token_at(&http, &r3.url("kalibrate.login")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn unchanged_urls_work_through_the_proxy_and_land_in_the_run_it_names() {
    let server = MockServer::start().await;
    let run = server.run("proxied").await.unwrap();
    let http = client(&run, Some(run.proxy_url()));
    let (status, body) = token_at(&http, "https://login.microsoftonline.com").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(status_at(&http, "https://dev.data.thekalibratecloud.com", &token).await, StatusCode::OK);
    run.events().assert_count("token.issued", 1);
    server.events().assert_count("token.issued", 0);
    let exchanges: Vec<(String, String, String)> = run
        .events()
        .matching(&EventFilter::kind("http.exchange").provider("kalibrate").service("login"))
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_owned(),
                e["host"].as_str().unwrap().to_owned(),
                e["listener"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let seen = |m: &str, h: &str, l: &str| (m.to_owned(), h.to_owned(), l.to_owned());
    assert_eq!(
        exchanges,
        [seen("CONNECT", "login.microsoftonline.com:443", "http"), seen("POST", "login.microsoftonline.com", "https")],
        "the tunnel is opened on the HTTP listener and the token request is served inside it, over TLS"
    );

    // Through the default proxy URL the same request is the default namespace's.
    let default_http = client(&server, Some(server.proxy_url()));
    assert_eq!(token_at(&default_http, "https://login.microsoftonline.com").await.0, StatusCode::OK);
    server.events().assert_count("token.issued", 1);
}

#[tokio::test]
async fn the_proxy_refuses_hosts_it_does_not_emulate() {
    let server = MockServer::start().await;
    let http = client(&server, Some(server.proxy_url()));
    let err = http.get("https://example.com/").send().await.expect_err("the tunnel is refused");
    assert!(err.is_connect() || err.to_string().contains("403") || format!("{err:?}").contains("403"), "{err:?}");
    let plain = http.get("http://example.com/").send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::FORBIDDEN);
    let body: Value = plain.json().await.unwrap();
    assert_eq!(body["error"], "proxy_refused");
    let refused: Vec<Value> = server
        .events()
        .of_kind("http.exchange")
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .filter(|e| e["status"] == 403)
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
}

#[tokio::test]
async fn wait_for_reports_the_journal_when_nothing_comes() {
    let server = MockServer::start().await;
    let err =
        server.events().wait_for(&EventFilter::kind("token.issued"), Duration::from_millis(50)).await.unwrap_err();
    assert!(err.contains("no event matched") && err.contains("(no events)"), "{err}");
    let http = client(&server, None);
    token_at(&http, &server.url("kalibrate.login")).await;
    let issued = server
        .events()
        .wait_for(&EventFilter::kind("token.").provider("kalibrate"), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(issued.kind.name(), "token.issued");
    assert!(server.events().listing().contains("token.issued kalibrate.login"), "{}", server.events().listing());
}

#[tokio::test]
async fn bad_run_requests_get_admin_errors() {
    let server = MockServer::start().await;
    let http = client(&server, None);
    let runs = format!("{}/runs", server.admin_url());
    let answer = |r: reqwest::Response| async move { (r.status(), r.json::<Value>().await.unwrap_or(Value::Null)) };
    let (status, body) = answer(http.post(&runs).body("{not json").send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")), "{body}");
    let (status, body) = answer(http.post(&runs).json(&serde_json::json!({"id": 42})).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) =
        answer(http.post(&runs).json(&serde_json::json!({"id": "x", "extra": 1})).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown fields are refused: {body}");
    let (status, body) = answer(http.post(&runs).body(vec![b' '; 70 << 10]).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let (status, body) = answer(http.put(&runs).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")),
        "{body}"
    );
    let (status, body) =
        answer(http.get(format!("{}/__run/{}/x", server.endpoints().http, "é")).send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_run")), "{body}");
    assert!(server.run("bad id").await.is_err());
    let listed: Value = http.get(&runs).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["runs"], serde_json::json!([]), "nothing was created");
}
