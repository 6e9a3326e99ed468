//! Knoema's access modes over real sockets, on a frozen virtual clock: anonymous, `client_id`
//! (query and header), the signed `Knoema` header (current and previous UTC hour accepted,
//! every rejection a 403 whose journal event names the likely cause), OAuth bearer tokens, the
//! optional anonymous limit, and malformed headers (never a 500).

mod knoema_support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Duration;
use knoema_support::*;
use mock_server::MockServer;
use reqwest::StatusCode;

const PRIVATE: &str = "/api/1.0/meta/dataset/DEMOSALES";
const PUBLIC: &str = "/api/1.0/meta/dataset/IMFWEO2024Oct";

async fn get_with(server: &MockServer, path: &str, authorization: &str) -> (StatusCode, String) {
    let r = client(server)
        .get(format!("{}{path}", api(server)))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    let (status, _, text) = body(r).await;
    (status, text)
}

#[tokio::test]
async fn signed_header_accepts_the_current_and_previous_utc_hour() {
    let server = MockServer::start().await;
    let now = freeze_at(&server, "2024-01-02T03:20:00Z");
    for at in [now, now - Duration::hours(1)] {
        let (status, text) = get_with(&server, PRIVATE, &signed(APP, SECRET, at)).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(text.contains("\"id\":\"DEMOSALES\""));
    }
    let authorized = events(&server, "api.authorized");
    assert_eq!(authorized.len(), 2);
    assert!(authorized.iter().all(|e| e["client_id"] == APP && e["token_id"] == "signature:02-01-24-03"));
    // The hour turns: what was current is now the previous hour, still accepted; one more
    // hour and it is stale.
    server.clock().advance(Duration::hours(1)).unwrap();
    assert_eq!(get_with(&server, PRIVATE, &signed(APP, SECRET, now)).await.0, StatusCode::OK);
    server.clock().advance(Duration::hours(1)).unwrap();
    assert_eq!(get_with(&server, PRIVATE, &signed(APP, SECRET, now)).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn each_rejected_signature_is_403_and_the_journal_names_the_cause() {
    let server = MockServer::start().await;
    let now = freeze_at(&server, "2024-01-02T03:20:00Z");
    let swapped = format!("Knoema {APP}:{}:1.2", STANDARD.encode(hmac_sha1(SECRET.as_bytes(), hour(now).as_bytes())));
    let hex: String = hmac_sha1(hour(now).as_bytes(), SECRET.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let us_date = format!(
        "Knoema {APP}:{}:1.2",
        STANDARD.encode(hmac_sha1(now.format("%m-%d-%y-%H").to_string().as_bytes(), SECRET.as_bytes()))
    );
    let cases = [
        (signed(APP, SECRET, now - Duration::hours(2)), "stale hour", "'02-01-24-01' (2 hours ago)"),
        (swapped, "key and message swapped", "Knoema keys the HMAC with the hour"),
        (signed(APP, "wrong-secret", now), "wrong secret", "the app secret is probably wrong"),
        (signed(APP, SECRET, now + Duration::hours(3)), "local time instead of UTC", "UTC+3"),
        (signed(APP, OPEN_APP.1, now), "another app's secret", "another app"),
        (format!("Knoema {APP}:{hex}:1.2"), "wrong encoding", "is hex"),
        (us_date, "wrong date format", "month and day swapped"),
        (signed(APP, SECRET, now).replace(":1.2", ":2.0"), "is not 1.2", "':1.2'"),
        (signed("ghost", SECRET, now), "unknown app 'ghost'", "signed header"),
    ];
    for (header, cause, detail) in cases {
        let (status, text) = get_with(&server, PUBLIC, &header).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{cause}: {text}");
        assert_eq!(
            text, r#"{"Message":"Authorization has been denied for this request."}"#,
            "the answer gives no reason"
        );
        let reason = last_reason(&server);
        assert!(reason.contains(cause) && reason.contains(detail), "expected {cause:?} / {detail:?} in {reason}");
    }
    let denied = events(&server, "api.denied");
    assert_eq!(denied.len(), 9);
    assert!(denied.iter().all(|e| e["status"] == 403 && e["endpoint"] == "/api/1.0/meta/dataset/{id}"));
    // Neither the secret nor a hash is ever journaled.
    let all = serde_json::to_string(&server.events().all()).unwrap();
    assert!(!all.contains(SECRET) && !all.contains(&hex));
}

#[tokio::test]
async fn client_id_in_query_or_header_sees_public_data_only() {
    let server = MockServer::start().await;
    let http = client(&server);
    let root = api(&server);
    let (status, v) = json(http.get(format!("{root}{PUBLIC}?client_id={APP}")).send().await.unwrap()).await;
    assert_eq!((status, v["id"].as_str()), (StatusCode::OK, Some("IMFWEO2024Oct")));
    let (status, text) = get_with(&server, PUBLIC, &format!("Knoema {APP}")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, v) = json(http.get(format!("{root}{PRIVATE}?client_id={APP}")).send().await.unwrap()).await;
    assert_eq!((status, v.as_str()), (StatusCode::OK, Some(NO_DATASET)));
    let status = http.get(format!("{root}{PUBLIC}?client_id=nobody")).send().await.unwrap().status();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(last_reason(&server).contains("client_id 'nobody' is not a known app"));
    assert!(events(&server, "api.authorized").iter().any(|e| e["client_id"] == APP && e["token_id"] == "client_id"));
}

#[tokio::test]
async fn malformed_authorization_headers_are_403_never_500() {
    let server = MockServer::start().await;
    for header in
        ["Knoema", "Knoema a:b", "Knoema a:b:c:d", "Basic dXNlcjpwYXNz", "Knoema  demo-app", "Knoema :x:1.2", "Bearer"]
    {
        let (status, text) = get_with(&server, PUBLIC, header).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{header}: {text}");
    }
    let raw = reqwest::header::HeaderValue::from_bytes(b"Knoema \xff\xfe:x:1.2").unwrap();
    let status = client(&server)
        .get(format!("{}{PUBLIC}", api(&server)))
        .header("authorization", raw)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(last_reason(&server).contains("not printable ASCII"));
}

#[tokio::test]
async fn bearer_tokens_unknown_or_expired_are_401() {
    let server = MockServer::start().await;
    let (status, _) = get_with(&server, PUBLIC, "Bearer not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(last_reason(&server).contains("unknown or revoked"));
    let http = client(&server);
    let status = http.get(format!("{}{PUBLIC}?access_token=nope", api(&server))).send().await.unwrap().status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn anonymous_limit_when_configured() {
    let fixtures = include_str!("../fixtures/default.toml").replacen(
        "anonymous_request_limit = 0",
        "anonymous_request_limit = 3",
        1,
    );
    let server = MockServer::builder().fixtures_toml(fixtures).start().await.unwrap();
    let http = client(&server);
    let url = format!("{}{PUBLIC}", api(&server));
    for _ in 0..3 {
        assert_eq!(http.get(&url).send().await.unwrap().status(), StatusCode::OK);
    }
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "3600");
    // Signed apps are not counted.
    let now = chrono::Utc::now();
    assert_eq!(
        http.get(&url).header("authorization", signed(APP, SECRET, now)).send().await.unwrap().status(),
        StatusCode::OK
    );
    // The next UTC day starts afresh.
    server.clock().advance(Duration::days(1)).unwrap();
    assert_eq!(http.get(&url).send().await.unwrap().status(), StatusCode::OK);
}
