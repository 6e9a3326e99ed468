//! Knoema's OAuth 2 over real TLS: the consent page and its form, the implicit and code flows
//! with their redirects, deny, redirect URI matching, single-use short-lived codes on the
//! virtual clock, the token endpoint's string `expires_in` and `incorrect_client_credentials`,
//! refresh tokens, token expiry.

mod knoema_support;

use chrono::Duration;
use knoema_support::*;
use mock_server::MockServer;
use reqwest::StatusCode;
use serde_json::Value;

fn base(server: &MockServer) -> String {
    format!("{}/knoema/api", server.endpoints().https)
}

fn authorize_url(server: &MockServer, pairs: &[(&str, &str)]) -> String {
    let q = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    format!("{}/oauth/authorize?{q}", base(server))
}

async fn location(server: &MockServer, url: String) -> String {
    let r = client(server).get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND, "{:?}", r.text().await);
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The value of `name` in the query or fragment of `url`.
fn param(url: &str, name: &str) -> Option<String> {
    let tail = url.split_once(['?', '#']).map(|(_, t)| t)?;
    form_urlencoded::parse(tail.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn code(server: &MockServer, redirect: &str, app: &str) -> String {
    let url = authorize_url(
        server,
        &[
            ("response_type", "code"),
            ("client_id", app),
            ("redirect_uri", redirect),
            ("scope", "read"),
            ("consent", "auto-approve"),
        ],
    );
    param(&location(server, url).await, "code").expect("a code")
}

async fn exchange(server: &MockServer, pairs: &[(&str, &str)]) -> (StatusCode, Value) {
    json(client(server).get(format!("{}/oauth/token", base(server))).query(pairs).send().await.unwrap()).await
}

#[tokio::test]
async fn consent_page_is_real_html_and_its_form_answers() {
    let server = MockServer::start().await;
    let http = client(&server);
    let url = authorize_url(
        &server,
        &[
            ("response_type", "token"),
            ("client_id", APP),
            ("redirect_uri", REDIRECT),
            ("scope", "read <b>"),
            ("state", "s1"),
        ],
    );
    let (status, headers, page) = body(http.get(url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(
        page.starts_with("<!DOCTYPE html>") && page.contains("<form method=\"post\" action=\"authorize\""),
        "{page}"
    );
    assert!(page.contains("read &lt;b&gt;") && !page.contains("read <b>"), "values are escaped");
    assert!(page.contains("demo.user@example.com") && page.contains("Demo app"));
    let request = page.split("name=\"request\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let answer = |decision: &'static str, request: String| {
        let http = http.clone();
        let url = format!("{}/oauth/authorize", base(&server));
        async move { http.post(url).form(&[("request", request.as_str()), ("decision", decision)]).send().await.unwrap() }
    };
    let r = answer("approve", request.clone()).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with(&format!("{REDIRECT}#access_token=")), "{loc}");
    assert_eq!(param(&loc, "expires_in").as_deref(), Some("86400"));
    assert_eq!(param(&loc, "state").as_deref(), Some("s1"));
    // The same page cannot be answered twice.
    let again = answer("approve", request).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let issued = events(&server, "token.issued");
    assert_eq!(issued.len(), 1);
    assert_eq!((issued[0]["grant"].as_str(), issued[0]["client_id"].as_str()), (Some("implicit"), Some(APP)));
    // The token reads private data.
    let token = param(&loc, "access_token").unwrap();
    let (status, v) = json(
        http.get(format!("{}/api/1.0/meta/dataset/DEMOSALES", api(&server))).bearer_auth(&token).send().await.unwrap(),
    )
    .await;
    assert_eq!((status, v["id"].as_str()), (StatusCode::OK, Some("DEMOSALES")));
}

#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let server = MockServer::start().await;
    let token = authorize_url(
        &server,
        &[
            ("response_type", "token"),
            ("client_id", APP),
            ("redirect_uri", REDIRECT),
            ("consent", "auto-deny"),
            ("state", "x"),
        ],
    );
    assert_eq!(
        location(&server, token).await,
        format!("{REDIRECT}#error=access_denied&error_description=The+resource+owner+denied+the+request&state=x")
    );
    let code = authorize_url(
        &server,
        &[("response_type", "code"), ("client_id", APP), ("redirect_uri", REDIRECT), ("consent", "auto-deny")],
    );
    assert_eq!(
        location(&server, code).await,
        format!("{REDIRECT}?error=access_denied&error_description=The+resource+owner+denied+the+request")
    );
    assert!(events(&server, "token.rejected").iter().all(|e| e["error"] == "access_denied"));
}

#[tokio::test]
async fn code_flow_single_use_short_lived_codes_and_refresh() {
    let server = MockServer::start().await;
    let c = code(&server, REDIRECT, APP).await;
    let pairs = |code: &str| {
        vec![
            ("grant_type", "authorization_code"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect::<Vec<_>>()
    };
    let as_ref = |p: &Vec<(&'static str, String)>| p.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let query = pairs(&c);
    let r = client(&server).get(format!("{}/oauth/token", base(&server))).query(&as_ref(&query)).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    let (status, token) = json(r).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["expires_in"], "86400", "a string, as Knoema sends it");
    assert_eq!(token["scope"], "read");
    let access = token["access_token"].as_str().unwrap().to_owned();

    // Reused: invalid_grant, and the tokens it gave are revoked.
    let r = client(&server).get(format!("{}/oauth/token", base(&server))).query(&as_ref(&query)).send().await.unwrap();
    let (status, err) = json(r).await;
    assert_eq!((status, err["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let status = client(&server)
        .get(format!("{}/api/1.0/meta/dataset/IMFWEO2024Oct", api(&server)))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Codes live code_lifetime_seconds (600) on the virtual clock.
    let late = code(&server, REDIRECT, APP).await;
    server.clock().advance(Duration::seconds(601)).unwrap();
    let (status, err) = exchange(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("code", &late),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!((status, err["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert!(events(&server, "token.rejected").last().unwrap()["reason"].as_str().unwrap().contains("expired 1 s ago"));

    // Refresh: a new access token; expired ones are refused on the virtual clock.
    let fresh = code(&server, REDIRECT, APP).await;
    let (_, token) = exchange(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("code", &fresh),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let refresh = token["refresh_token"].as_str().unwrap().to_owned();
    server.clock().advance(Duration::seconds(86_400)).unwrap();
    let status = client(&server)
        .get(format!("{}/api/1.0/meta/dataset/IMFWEO2024Oct", api(&server)))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(last_reason(&server).contains("expired"));
    let (status, renewed) = exchange(
        &server,
        &[("grant_type", "refresh_token"), ("client_id", APP), ("client_secret", SECRET), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let status = client(&server)
        .get(format!("{}/api/1.0/meta/dataset/IMFWEO2024Oct", api(&server)))
        .bearer_auth(renewed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    let grants: Vec<String> =
        events(&server, "token.issued").iter().map(|e| e["grant"].as_str().unwrap().to_owned()).collect();
    assert_eq!(grants, ["authorization_code", "authorization_code", "refresh_token"]);
}

#[tokio::test]
async fn token_endpoint_errors() {
    let server = MockServer::start().await;
    let c = code(&server, REDIRECT, APP).await;
    // (form, status, error)
    type Case<'a> = (Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("grant_type", "authorization_code"), ("client_id", APP), ("client_secret", "nope"), ("code", &c)],
            StatusCode::UNAUTHORIZED,
            "incorrect_client_credentials",
        ),
        (
            vec![("grant_type", "authorization_code"), ("client_id", "ghost"), ("client_secret", SECRET), ("code", &c)],
            StatusCode::UNAUTHORIZED,
            "incorrect_client_credentials",
        ),
        (
            vec![("grant_type", "authorization_code"), ("client_secret", SECRET), ("code", &c)],
            StatusCode::UNAUTHORIZED,
            "incorrect_client_credentials",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", OPEN_APP.0),
                ("client_secret", OPEN_APP.1),
                ("code", &c),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", APP),
                ("client_secret", SECRET),
                ("code", &c),
                ("redirect_uri", "https://client.example.com/other"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", APP),
                ("client_secret", SECRET),
                ("code", "made-up"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            vec![("grant_type", "password"), ("client_id", APP), ("client_secret", SECRET)],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (vec![("client_id", APP)], StatusCode::BAD_REQUEST, "invalid_request"),
    ];
    for (pairs, want_status, want_error) in cases {
        let (status, body) = exchange(&server, &pairs).await;
        assert_eq!((status, body["error"].as_str()), (want_status, Some(want_error)), "{pairs:?}: {body}");
        if want_error == "incorrect_client_credentials" {
            assert_eq!(
                body,
                serde_json::json!({"error": "incorrect_client_credentials"}),
                "exactly Knoema's documented body (docs/providers/knoema.md#token-endpoint)"
            );
        }
    }
    // None of those used the code up: it still works once.
    let (status, _) = exchange(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("code", &c),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // A form POST is read as well.
    let d = code(&server, REDIRECT, APP).await;
    let r = client(&server)
        .post(format!("{}/oauth/token", base(&server)))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("code", &d),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn redirect_uri_must_match_the_registered_one_exactly() {
    let server = MockServer::start().await;
    let http = client(&server);
    for bad in [
        "https://client.example.com/callback/",
        "https://attacker.example/callback",
        "https://client.example.com/callback#x",
        "not-a-uri",
    ] {
        let url = authorize_url(
            &server,
            &[("response_type", "code"), ("client_id", APP), ("redirect_uri", bad), ("consent", "auto-approve")],
        );
        let r = http.get(url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.headers().get("location").is_none(), "never redirected to {bad}");
    }
    // Omitted: the one registered URI is used; the exchange then needs none.
    let url = authorize_url(&server, &[("response_type", "code"), ("client_id", APP), ("consent", "auto-approve")]);
    let loc = location(&server, url).await;
    assert!(loc.starts_with(&format!("{REDIRECT}?code=")));
    let (status, _) = exchange(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("code", &param(&loc, "code").unwrap()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Unknown app and unsupported response type.
    let r = http
        .get(authorize_url(&server, &[("response_type", "code"), ("client_id", "ghost"), ("redirect_uri", REDIRECT)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let loc = location(
        &server,
        authorize_url(&server, &[("response_type", "id_token"), ("client_id", APP), ("redirect_uri", REDIRECT)]),
    )
    .await;
    assert_eq!(param(&loc, "error").as_deref(), Some("unsupported_response_type"));
    // An app without registered URIs takes any absolute one, and the exchange must repeat it.
    let c = code(&server, "https://one.example/cb", OPEN_APP.0).await;
    let (status, err) = exchange(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", OPEN_APP.0),
            ("client_secret", OPEN_APP.1),
            ("code", &c),
            ("redirect_uri", "https://two.example/cb"),
        ],
    )
    .await;
    assert_eq!((status, err["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
}
