//! Kalibrate over real HTTPS: Azure AD's client-credentials token endpoint (its checks, in its
//! order, with its error bodies), then the data API (gateway rules, token validation on the
//! virtual clock, queries, imports), routing by Host header, faults, and malformed input.

mod common;

use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::*;
use mock_server::MockServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

const UNKNOWN_TENANT: &str = "00000000-0000-4000-8000-000000000001";

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

async fn post_form(
    http: &reqwest::Client,
    url: String,
    pairs: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    json(
        http.post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(pairs))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get_data(
    http: &reqwest::Client,
    server: &MockServer,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    json(http.get(data_url(server, path)).bearer_auth(token).send().await.unwrap()).await
}

fn ids(docs: &Value) -> Vec<String> {
    docs.as_array()
        .unwrap_or_else(|| panic!("not an array: {docs}"))
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A data API refusal: `{"statusCode", "message"}`, and for 401 `WWW-Authenticate: Bearer`.
fn assert_api_error(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &Value, expected: StatusCode) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["statusCode"], expected.as_u16(), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(header(headers, "content-type"), Some("application/json; charset=utf-8"));
    if expected == StatusCode::UNAUTHORIZED {
        assert_eq!(header(headers, "www-authenticate"), Some("Bearer"));
    }
}

#[tokio::test]
async fn client_credentials_token_is_a_verifiable_v1_jwt() {
    let server = MockServer::start().await;
    let http = client(&server);
    let (status, headers, body) = token_response(&http, &server, SANDPIT, READER, SANDPIT_SCOPE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(header(&headers, "content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(header(&headers, "cache-control"), Some("no-store, no-cache"));
    assert_eq!(header(&headers, "pragma"), Some("no-cache"));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body.get("refresh_token").is_none(), "client credentials never get a refresh token: {body}");
    let mut keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, vec!["access_token", "expires_in", "ext_expires_in", "token_type"]);

    let jwt = body["access_token"].as_str().unwrap();
    assert_eq!(jwt.split('.').count(), 3);
    let head = jwt_part(jwt, 0);
    assert_eq!(head["alg"], "RS256");
    assert_eq!(head["typ"], "JWT");
    assert_eq!(head["kid"], head["x5t"]);
    let claims = jwt_part(jwt, 1);
    assert_eq!(claims["aud"], SANDPIT_AUDIENCE);
    assert_eq!(claims["iss"], format!("https://sts.windows.net/{SANDPIT}/"));
    assert_eq!(claims["idp"], claims["iss"]);
    assert_eq!(claims["appid"], READER.0);
    assert_eq!(claims["appidacr"], "1");
    assert_eq!(claims["tid"], SANDPIT);
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["roles"], json!(["Read"]));
    assert_eq!(claims["sub"], claims["oid"]);
    // As Azure AD: `iat` and `nbf` five minutes before issue, `exp` the lifetime after it.
    assert_eq!(claims["nbf"], claims["iat"]);
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3599 + 300);
    assert!((claims["iat"].as_i64().unwrap() + 300 - chrono::Utc::now().timestamp()).abs() <= 5);
    for c in ["aio", "oid", "rh", "uti"] {
        assert!(claims[c].as_str().is_some_and(|v| !v.is_empty()), "claim {c}: {claims}");
    }

    // The signature verifies against the published JWKS.
    let (status, headers, jwks) = json(
        http.get(format!("{}/{SANDPIT}/discovery/v2.0/keys", server.url("kalibrate.login"))).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "cache-control"), Some("max-age=86400, private"));
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == head["kid"])
        .expect("the token's kid is in the JWKS");
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["e"], "AQAB");
    let key =
        jsonwebtoken::DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[SANDPIT_AUDIENCE]);
    validation.set_issuer(&[format!("https://sts.windows.net/{SANDPIT}/")]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation).expect("token verifies with the JWKS key");

    // Two tokens are distinct.
    let second = sandpit_token(&http, &server, READER).await;
    assert_ne!(jwt_part(&second, 1)["uti"], claims["uti"]);

    // The journal has the issue, identified by uti.
    let issued = events_of_kind(&server, "token.issued");
    assert_eq!(issued.len(), 2);
    assert_eq!(issued[0]["token_id"], claims["uti"]);
    assert_eq!(issued[0]["client_id"], READER.0);
    assert_eq!(issued[0]["audience"], SANDPIT_AUDIENCE);

    // The tenant may be named by its domain; the token still carries the GUID.
    let by_domain = token(&http, &server, SANDPIT_DOMAIN, WRITER, SANDPIT_SCOPE).await;
    let claims = jwt_part(&by_domain, 1);
    assert_eq!(claims["tid"], SANDPIT);
    assert_eq!(claims["roles"], json!(["Read", "ReadWrite"]));
}

/// One token request that must fail: (what, tenant, form, status, error, code).
struct Case {
    what: &'static str,
    tenant: &'static str,
    form: Vec<(&'static str, &'static str)>,
    status: StatusCode,
    error: &'static str,
    code: u64,
    /// Text the description must contain.
    mentions: &'static str,
}

fn case(
    what: &'static str,
    tenant: &'static str,
    form: &[(&'static str, &'static str)],
    status: u16,
    error: &'static str,
    code: u64,
    mentions: &'static str,
) -> Case {
    Case { what, tenant, form: form.to_vec(), status: StatusCode::from_u16(status).unwrap(), error, code, mentions }
}

#[tokio::test]
async fn token_endpoint_errors_come_in_azure_ads_order_and_shape() {
    let server = MockServer::start().await;
    let http = client(&server);
    const GT: (&str, &str) = ("grant_type", "client_credentials");
    let id = |c: (&'static str, &'static str)| ("client_id", c.0);
    let secret = |c: (&'static str, &'static str)| ("client_secret", c.1);
    const SCOPE: (&str, &str) = ("scope", SANDPIT_SCOPE);
    let cases = vec![
        case("no grant_type", SANDPIT, &[id(READER), secret(READER), SCOPE], 400, "invalid_request", 900144, "'grant_type'"),
        case("empty grant_type", SANDPIT, &[("grant_type", ""), id(READER), secret(READER), SCOPE], 400, "invalid_request", 900144, "'grant_type'"),
        case("no grant_type beats unknown tenant", UNKNOWN_TENANT, &[id(READER)], 400, "invalid_request", 900144, "'grant_type'"),
        case("no client_id", SANDPIT, &[GT, secret(READER), SCOPE], 400, "invalid_request", 900144, "'client_id'"),
        case("no client_id beats unknown tenant", UNKNOWN_TENANT, &[GT], 400, "invalid_request", 900144, "'client_id'"),
        case("unknown tenant", UNKNOWN_TENANT, &[GT, id(READER), secret(READER), SCOPE], 400, "invalid_tenant", 90002, UNKNOWN_TENANT),
        case("unknown tenant beats unknown client", UNKNOWN_TENANT, &[GT, ("client_id", "nobody")], 400, "invalid_tenant", 90002, "not found"),
        case("unknown domain tenant", "nobody.onmicrosoft.com", &[GT, id(READER)], 400, "invalid_tenant", 90002, "nobody.onmicrosoft.com"),
        case("malformed tenant", "not_a_tenant", &[GT, id(READER), secret(READER), SCOPE], 400, "invalid_request", 900023, "not_a_tenant"),
        case("unknown client", SANDPIT, &[GT, ("client_id", "11111111-2222-3333-4444-555555555555"), secret(READER), SCOPE], 400, "unauthorized_client", 700016, "11111111-2222-3333-4444-555555555555"),
        case("unknown client beats no secret", SANDPIT, &[GT, ("client_id", "nobody")], 400, "unauthorized_client", 700016, "nobody"),
        case("client of another tenant", SANDPIT, &[GT, id(PROD_READER), secret(PROD_READER), ("scope", PROD_SCOPE)], 400, "unauthorized_client", 700016, SANDPIT_DOMAIN),
        case("no secret", SANDPIT, &[GT, id(READER), SCOPE], 401, "invalid_client", 7000218, "'client_secret'"),
        case("no secret beats no scope", SANDPIT, &[GT, id(READER)], 401, "invalid_client", 7000218, "client_secret"),
        case("wrong secret", SANDPIT, &[GT, id(READER), ("client_secret", "sandpit-read-secreT"), SCOPE], 401, "invalid_client", 7000215, READER.0),
        case("another client's secret", SANDPIT, &[GT, id(READER), secret(WRITER), SCOPE], 401, "invalid_client", 7000215, "Invalid client secret"),
        case("wrong secret beats bad scope", SANDPIT, &[GT, id(READER), ("client_secret", "x"), ("scope", "nonsense")], 401, "invalid_client", 7000215, "Invalid client secret"),
        case("expired secret", SANDPIT, &[GT, id(EXPIRED), secret(EXPIRED), SCOPE], 401, "invalid_client", 7000222, "expired"),
        case("wrong secret of an expired client", SANDPIT, &[GT, id(EXPIRED), ("client_secret", "nope"), SCOPE], 401, "invalid_client", 7000215, "Invalid client secret"),
        case("expired secret beats bad scope", SANDPIT, &[GT, id(EXPIRED), secret(EXPIRED), ("scope", "nonsense")], 401, "invalid_client", 7000222, EXPIRED.0),
        case("no scope", SANDPIT, &[GT, id(READER), secret(READER)], 400, "invalid_request", 900144, "'scope'"),
        case("scope without /.default", SANDPIT, &[GT, id(READER), secret(READER), ("scope", SANDPIT_AUDIENCE)], 400, "invalid_scope", 1002012, SANDPIT_AUDIENCE),
        case("delegated scope", SANDPIT, &[GT, id(READER), secret(READER), ("scope", "openid profile")], 400, "invalid_scope", 1002012, "/.default"),
        case("unknown resource", SANDPIT, &[GT, id(READER), secret(READER), ("scope", "https://graph.microsoft.com/.default")], 400, "invalid_scope", 70011, "graph.microsoft.com"),
        case("another tenant's resource", SANDPIT, &[GT, id(READER), secret(READER), ("scope", PROD_SCOPE)], 400, "invalid_scope", 70011, PROD_SCOPE),
        case("two resources", SANDPIT, &[GT, id(READER), secret(READER), ("scope", "api://dev.data.thekalibratecloud.com/c770a337-3c7e-4bbe-a8cb-2fbc9601b94f/.default https://graph.microsoft.com/.default")], 400, "invalid_scope", 70011, "scope"),
        case("other grant type", SANDPIT, &[("grant_type", "password"), id(READER), secret(READER), SCOPE], 400, "unsupported_grant_type", 70003, "'password'"),
        case("bad scope beats other grant type", SANDPIT, &[("grant_type", "password"), id(READER), secret(READER), ("scope", "x")], 400, "invalid_scope", 1002012, "x"),
        case("refresh_token grant", SANDPIT, &[("grant_type", "refresh_token"), id(READER), secret(READER), SCOPE], 400, "unsupported_grant_type", 70003, "refresh_token"),
    ];
    let n = cases.len();
    for c in cases {
        let (status, headers, body) = post_form(&http, token_url(&server, c.tenant), &c.form).await;
        assert_eq!(status, c.status, "{}: {body}", c.what);
        assert_aad_error(&headers, &body, c.error, c.code);
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(c.mentions), "{}: '{description}' should mention '{}'", c.what, c.mentions);
    }
    // Each refusal is journaled with its code; no token was issued.
    let rejected = events_of_kind(&server, "token.rejected");
    assert_eq!(rejected.len(), n);
    assert!(events_of_kind(&server, "token.issued").is_empty());
    assert_eq!(rejected[0]["code"], 900144);
    assert_eq!(rejected[3]["client_id"], Value::Null, "no client_id was sent");
    assert_eq!(rejected[5]["code"], 90002);
    assert_eq!(rejected[5]["client_id"], READER.0);
    assert_eq!(rejected[5]["error"], "invalid_tenant");

    // The correlation id echoes MSAL's client-request-id.
    let correlation = "0b9f4c8e-33e1-4d55-9a55-2f3c1d7e0a11";
    let r = http
        .post(token_url(&server, SANDPIT))
        .header("client-request-id", correlation)
        .form(&[GT, id(READER)])
        .send()
        .await
        .unwrap();
    let (status, headers, body) = json(r).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_aad_error(&headers, &body, "invalid_client", 7000218);
    assert_eq!(body["correlation_id"], correlation);
}

#[tokio::test]
async fn secret_may_come_as_http_basic() {
    let server = MockServer::start().await;
    let http = client(&server);
    let basic = |user: &str, password: &str| format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
    let r = http
        .post(token_url(&server, SANDPIT))
        .header("authorization", basic(WRITER.0, WRITER.1))
        .form(&[("grant_type", "client_credentials"), ("scope", SANDPIT_SCOPE)])
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(jwt_part(body["access_token"].as_str().unwrap(), 1)["appid"], WRITER.0);

    // Wrong Basic password: the same refusal as a wrong form secret.
    let r = http
        .post(token_url(&server, SANDPIT))
        .header("authorization", basic(WRITER.0, "nope"))
        .form(&[("grant_type", "client_credentials"), ("scope", SANDPIT_SCOPE)])
        .send()
        .await
        .unwrap();
    let (status, headers, body) = json(r).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_aad_error(&headers, &body, "invalid_client", 7000215);

    // Basic with a client_id in the form too (MSAL does both).
    let r = http
        .post(token_url(&server, SANDPIT))
        .header("authorization", basic(READER.0, READER.1))
        .form(&[("grant_type", "client_credentials"), ("client_id", READER.0), ("scope", SANDPIT_SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Undecodable Basic credentials are a 400, not a 500.
    let r = http
        .post(token_url(&server, SANDPIT))
        .header("authorization", "Basic !!!not-base64")
        .form(&[("grant_type", "client_credentials"), ("scope", SANDPIT_SCOPE)])
        .send()
        .await
        .unwrap();
    let (status, headers, body) = json(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_aad_error(&headers, &body, "invalid_request", 90023);
}

#[tokio::test]
async fn api_status_echoes_the_token() {
    let server = MockServer::start().await;
    let http = client(&server);
    let jwt = sandpit_token(&http, &server, READER).await;
    let claims = jwt_part(&jwt, 1);
    let (status, headers, body) = get_data(&http, &server, "/api/status", &jwt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(header(&headers, "content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(body["token"], jwt.as_str());
    assert_eq!(body["audience"], SANDPIT_AUDIENCE);
    assert_eq!(body["issuer"], format!("https://sts.windows.net/{SANDPIT}/"));
    assert_eq!(body["version"], "1.0");
    assert_eq!(body["clientId"], READER.0);
    assert_eq!(
        body["tenantId"], "c770a337-3c7e-4bbe-a8cb-2fbc9601b94f",
        "the GUID that ends the audience, as in Kalibrate's example (docs/providers/kalibrate.md#status-endpoint)"
    );
    let exp = chrono::DateTime::from_timestamp(claims["exp"].as_i64().unwrap(), 0).unwrap();
    assert_eq!(body["expirationTime"], exp.format("%Y-%m-%dT%H:%M:%S+00:00").to_string());
    assert!(chrono::DateTime::parse_from_rfc3339(body["expirationTime"].as_str().unwrap()).is_ok());

    let authorized = events_of_kind(&server, "api.authorized");
    assert_eq!(authorized.len(), 1);
    assert_eq!(authorized[0]["endpoint"], "/api/status");
    assert_eq!(authorized[0]["client_id"], READER.0);
    assert_eq!(authorized[0]["token_id"], claims["uti"]);
    assert_eq!(authorized[0]["service"], "data");
}

#[tokio::test]
async fn gateway_rejects_the_python_requests_user_agent_on_the_data_api_only() {
    let server = MockServer::start().await;
    let http = client(&server);
    // Azure AD accepts python-requests (MSAL uses it).
    let r = http
        .post(token_url(&server, SANDPIT))
        .header("user-agent", "python-requests/2.31.0")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", READER.0),
            ("client_secret", READER.1),
            ("scope", SANDPIT_SCOPE),
        ])
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(r).await;
    assert_eq!(status, StatusCode::OK);
    let jwt = body["access_token"].as_str().unwrap().to_owned();

    for agent in ["python-requests/2.31.0", "Python-Requests/2.0"] {
        let r = http
            .get(data_url(&server, "/api/status"))
            .bearer_auth(&jwt)
            .header("user-agent", agent)
            .send()
            .await
            .unwrap();
        let (status, headers, body) = json(r).await;
        assert_api_error(status, &headers, &body, StatusCode::FORBIDDEN);
    }
    // The gate comes before the token check.
    let r =
        http.get(data_url(&server, "/api/price")).header("user-agent", "python-requests/2.31.0").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Other agents pass.
    for agent in ["my-app/1.0 python-requests/2.31.0", "python-requests-oauthlib"] {
        let r = http
            .get(data_url(&server, "/api/status"))
            .bearer_auth(&jwt)
            .header("user-agent", agent)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{agent}");
    }
    let denied = events_of_kind(&server, "api.denied");
    assert_eq!(denied.len(), 3);
    assert_eq!(denied[0]["status"], 403);
    assert!(denied[0]["reason"].as_str().unwrap().contains("python-requests/"), "{}", denied[0]);
}

/// A JWT with Kalibrate's claims signed by a key that is not the server's.
fn foreign_token(claims: &Value) -> String {
    let pem =
        rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap().serialize_pem();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.typ = Some("JWT".into());
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()).unwrap()
}

#[tokio::test]
async fn missing_garbled_foreign_and_expired_tokens_get_401_bearer() {
    let server = MockServer::start().await;
    let http = client(&server);
    let jwt = sandpit_token(&http, &server, READER).await;
    let claims = jwt_part(&jwt, 1);

    let r = http.get(data_url(&server, "/api/status")).send().await.unwrap();
    let (status, headers, body) = json(r).await;
    assert_api_error(status, &headers, &body, StatusCode::UNAUTHORIZED);

    // Tampered claims with the original signature.
    let mut longer = claims.clone();
    longer["exp"] = json!(claims["exp"].as_i64().unwrap() + 86_400);
    let parts: Vec<&str> = jwt.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(longer.to_string()), parts[2]);
    // Unsigned (alg none).
    let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let foreign = foreign_token(&claims);

    let bad_headers = [
        "Bearer garbage".to_owned(),
        "Bearer a.b.c".to_owned(),
        "Bearer".to_owned(),
        "Bearer two words".to_owned(),
        format!("Basic {}", STANDARD.encode(format!("{}:{}", READER.0, READER.1))),
        jwt.clone(),
        format!("Bearer {tampered}"),
        format!("Bearer {none}"),
        format!("Bearer {foreign}"),
    ];
    for value in &bad_headers {
        let r = http.get(data_url(&server, "/api/status")).header("authorization", value).send().await.unwrap();
        let (status, headers, body) = json(r).await;
        assert_api_error(status, &headers, &body, StatusCode::UNAUTHORIZED);
        assert!(body.get("token").is_none());
    }
    let denied = events_of_kind(&server, "api.denied");
    assert_eq!(denied.len(), 1 + bad_headers.len());
    assert!(denied.iter().all(|e| e["status"] == 401));
    assert!(denied[0]["reason"].as_str().unwrap().contains("no Authorization"), "{}", denied[0]);

    // Still valid now; expired once the virtual clock passes `exp`.
    let (status, _, _) = get_data(&http, &server, "/api/status", &jwt).await;
    assert_eq!(status, StatusCode::OK);
    server.clock().advance(chrono::Duration::seconds(3599)).unwrap();
    let (status, headers, body) = get_data(&http, &server, "/api/status", &jwt).await;
    assert_api_error(status, &headers, &body, StatusCode::UNAUTHORIZED);
    let last = events_of_kind(&server, "api.denied").pop().unwrap();
    assert!(last["reason"].as_str().unwrap().contains("expired"), "{last}");
    assert_eq!(last["client_id"], READER.0);
    // Other endpoints too.
    let (status, _, _) = get_data(&http, &server, "/api/price", &jwt).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Back in time before `nbf` (five minutes before issue): not yet valid.
    server.clock().advance(chrono::Duration::seconds(-3599 - 420)).unwrap();
    let (status, headers, body) = get_data(&http, &server, "/api/status", &jwt).await;
    assert_api_error(status, &headers, &body, StatusCode::UNAUTHORIZED);
    let last = events_of_kind(&server, "api.denied").pop().unwrap();
    assert!(last["reason"].as_str().unwrap().contains("not valid for another"), "{last}");
    server.clock().reset();
    let (status, _, _) = get_data(&http, &server, "/api/status", &jwt).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_production_token_is_valid_at_the_production_host() {
    let server = MockServer::start().await;
    let http = client(&server);
    let prod = token(&http, &server, PROD, PROD_READER, PROD_SCOPE).await;
    assert_eq!(jwt_part(&prod, 1)["aud"], PROD_AUDIENCE);
    let r = http
        .get(format!("{}/api/status", server.endpoints().https))
        .header("host", "data.thekalibratecloud.com")
        .bearer_auth(&prod)
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["audience"], PROD_AUDIENCE);
    assert_eq!(body["tenantId"], "4d2c8b1a-9e7f-4a6b-b5c3-2e1d0f9a8b7c");
    assert_eq!(body["issuer"], format!("https://sts.windows.net/{PROD}/"));
}

#[tokio::test]
async fn a_production_token_is_refused_by_the_sandpit_api() {
    let server = MockServer::start().await;
    let http = client(&server);
    let prod = token(&http, &server, PROD, PROD_READER, PROD_SCOPE).await;
    let r = http
        .get(format!("{}/api/status", server.endpoints().https))
        .header("host", "dev.data.thekalibratecloud.com")
        .bearer_auth(&prod)
        .send()
        .await
        .unwrap();
    let (status, headers, body) = json(r).await;
    assert_api_error(status, &headers, &body, StatusCode::UNAUTHORIZED);
    let sandpit = sandpit_token(&http, &server, READER).await;
    let r = http
        .get(format!("{}/api/status", server.endpoints().https))
        .header("host", "data.thekalibratecloud.com")
        .bearer_auth(&sandpit)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// The service's mock URLs stand for the sandpit host, the real base URL they replace: there a
/// production token is refused as at `dev.data.thekalibratecloud.com`.
#[tokio::test]
async fn the_mock_url_of_the_data_api_is_the_sandpit() {
    let server = MockServer::start().await;
    let http = client(&server);
    let prod = token(&http, &server, PROD, PROD_READER, PROD_SCOPE).await;
    let (status, headers, body) = get_data(&http, &server, "/api/status", &prod).await;
    assert_api_error(status, &headers, &body, StatusCode::UNAUTHORIZED);
    let reason = events_of_kind(&server, "api.denied").pop().unwrap()["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("presented to dev.data.thekalibratecloud.com"), "{reason}");
    let sandpit = sandpit_token(&http, &server, READER).await;
    assert_eq!(get_data(&http, &server, "/api/status", &sandpit).await.0, StatusCode::OK);
}

/// `/api/status` at the production host.
async fn production_status(
    http: &reqwest::Client,
    server: &MockServer,
    jwt: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let r = http
        .get(format!("{}/api/status", server.endpoints().https))
        .header("host", "data.thekalibratecloud.com")
        .bearer_auth(jwt)
        .send()
        .await
        .unwrap();
    json(r).await
}

#[tokio::test]
async fn tokens_for_an_api_or_tenant_gone_from_the_reloaded_fixtures_are_refused() {
    let dir = std::env::temp_dir().join(format!(
        "mock-server-fixtures-test-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("fixtures.toml");
    std::fs::write(&file, DEFAULT_FIXTURES).unwrap();
    let server = MockServer::builder().fixtures_file(&file).start().await.unwrap();
    let http = client(&server);
    let sandpit = sandpit_token(&http, &server, READER).await;
    let prod = token(&http, &server, PROD, PROD_READER, PROD_SCOPE).await;
    let (status, _, body) = get_data(&http, &server, "/api/status", &sandpit).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = production_status(&http, &server, &prod).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The sandpit API gets another application ID URI; the production tenant another id.
    let changed = DEFAULT_FIXTURES
        .replacen(SANDPIT_AUDIENCE, "api://dev.data.thekalibratecloud.com/00000000-0000-4000-8000-000000000abc", 1)
        .replacen(PROD, "3b1e5c9a-6f2d-4e8b-a7c4-0d9f8e7a6b5d", 1);
    assert!(!changed.contains(SANDPIT_AUDIENCE) && !changed.contains(PROD));
    std::fs::write(&file, &changed).unwrap();
    let (status, _, body) = json(http.post(admin(&server, "/reset")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["fixtures"], file.display().to_string());

    let (status, headers, body) = get_data(&http, &server, "/api/status", &sandpit).await;
    assert_api_error(status, &headers, &body, StatusCode::UNAUTHORIZED);
    let (status, headers, body) = production_status(&http, &server, &prod).await;
    assert_api_error(status, &headers, &body, StatusCode::UNAUTHORIZED);
    let reasons: Vec<String> =
        events_of_kind(&server, "api.denied").iter().map(|e| e["reason"].as_str().unwrap().to_owned()).collect();
    assert_eq!(reasons.len(), 2);
    assert!(reasons[0].contains("audience"), "{reasons:?}");
    assert!(reasons[1].contains("not a known tenant"), "{reasons:?}");

    // A broken file: reset refuses and keeps the fixtures it has.
    std::fs::write(&file, "[kalibrate\n").unwrap();
    let (status, _, body) = json(http.post(admin(&server, "/reset")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "bad_fixtures");
    assert!(body["message"].as_str().unwrap().contains("fixtures.toml"), "{body}");
    let (_, _, body) = json(http.get(admin(&server, "/fixtures")).send().await.unwrap()).await;
    assert_eq!(body["fixtures"]["kalibrate"]["tenants"][1]["id"], "3b1e5c9a-6f2d-4e8b-a7c4-0d9f8e7a6b5d");
    assert!(!server.events().all().is_empty(), "a refused reset clears nothing");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn queries_filter_order_and_page_and_name_the_bad_clause() {
    let server = MockServer::start().await;
    let http = client(&server);
    let jwt = sandpit_token(&http, &server, READER).await;

    let portal = "/api/price?query=(entityVariant=Proposed)+(status.exported=true)+(exportedTime>=2020-06-01)+(orderBy=exportedTime)+(direction=descending)";
    let (status, _, docs) = get_data(&http, &server, portal, &jwt).await;
    assert_eq!(status, StatusCode::OK, "{docs}");
    assert_eq!(ids(&docs), vec!["price-0002"]);
    assert_eq!(docs[0]["entityVariant"], "Proposed");

    let cases: &[(&str, &[&str])] = &[
        ("/api/price", &["price-0001", "price-0002", "price-0003", "price-0004", "price-0005"]),
        ("/api/price?query=(entityVariant=Proposed)+(orderBy=price)", &["price-0004", "price-0003", "price-0002"]),
        (
            "/api/price?query=(entityVariant=proposed)(orderBy=price)(direction=descending)",
            &["price-0002", "price-0003", "price-0004"],
        ),
        ("/api/price?query=(entityVariant=Proposed)&orderBy=price&limit=1", &["price-0004"]),
        ("/api/price?query=(orderBy=price)(limit=2)(offset=1)", &["price-0003", "price-0002"]),
        ("/api/price?query=(price>1.45)", &["price-0001", "price-0005"]),
        ("/api/price?query=(price<=1.389)", &["price-0003", "price-0004"]),
        ("/api/price?query=(siteID!=S0001)", &["price-0005"]),
        ("/api/price?query=(source=null)(productCode=ULG95)", &["price-0001", "price-0002"]),
        ("/api/site?query=(name@=ring)", &["site-0002"]),
        ("/api/Product?query=(productCode=DSL)", &["product-dsl"]),
        ("/api/volume", &[]),
    ];
    for (path, expected) in cases {
        let (status, _, docs) = get_data(&http, &server, path, &jwt).await;
        assert_eq!(status, StatusCode::OK, "{path}: {docs}");
        assert_eq!(ids(&docs), *expected, "{path}");
    }

    let bad: &[(&str, &[&str])] = &[
        ("/api/price?query=(price>>3)", &["clause 1", "(price>>3)"]),
        ("/api/price?query=(siteID=S0001)+(limit=ten)", &["clause 2", "(limit=ten)", "whole number"]),
        ("/api/price?query=(siteID=S0001", &["clause 1", "missing ')'"]),
        ("/api/price?query=siteID=S0001", &["clause 1", "expected '('"]),
        ("/api/price?query=(direction=up)", &["direction", "ascending or descending"]),
        ("/api/price?query=(=3)", &["property name"]),
        ("/api/price?query=(siteID~S0001)", &["'~' is not an operator"]),
        ("/api/price?query=(limit=100000)", &["limit is at most"]),
        ("/api/price?query=(a=1)&limit=-1", &["clause 2", "limit"]),
    ];
    for (path, needles) in bad {
        let (status, headers, body) = get_data(&http, &server, path, &jwt).await;
        assert_api_error(status, &headers, &body, StatusCode::BAD_REQUEST);
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with("Invalid query: "), "{path}: {message}");
        for needle in *needles {
            assert!(message.contains(needle), "{path}: '{message}' should mention '{needle}'");
        }
    }

    // An unknown collection is a 404 that lists the real ones.
    let (status, headers, body) = get_data(&http, &server, "/api/prices", &jwt).await;
    assert_api_error(status, &headers, &body, StatusCode::NOT_FOUND);
    assert!(body["message"].as_str().unwrap().contains("pricerequest"), "{body}");
    let (status, headers, body) = get_data(&http, &server, "/api/price/extra", &jwt).await;
    assert_api_error(status, &headers, &body, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn imports_need_readwrite_and_become_queryable() {
    let server = MockServer::start().await;
    let http = client(&server);
    let writer = sandpit_token(&http, &server, WRITER).await;
    let reader = sandpit_token(&http, &server, READER).await;
    let records = json!([
        {"siteID": "S0042", "productCode": "ULG95", "price": 1.509, "currencyUnit": "GBP", "brand": "Imported"},
        {"siteID": "S0042", "productCode": "DSL", "price": 1.489, "currencyUnit": "GBP"}
    ]);

    // Read-only credentials: 403, nothing written.
    let r =
        http.post(data_url(&server, "/api/import/ownPrice")).bearer_auth(&reader).json(&records).send().await.unwrap();
    let (status, headers, body) = json(r).await;
    assert_api_error(status, &headers, &body, StatusCode::FORBIDDEN);
    assert!(body["message"].as_str().unwrap().contains("ReadWrite"), "{body}");
    let denied = events_of_kind(&server, "api.denied");
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["status"], 403);
    assert_eq!(denied[0]["client_id"], READER.0);
    assert_eq!(denied[0]["endpoint"], "/api/import/ownPrice");
    let (_, _, docs) = get_data(&http, &server, "/api/price?query=(siteID=S0042)", &writer).await;
    assert_eq!(docs, json!([]));

    // ReadWrite: written, and queryable by any reader.
    let r =
        http.post(data_url(&server, "/api/import/ownPrice")).bearer_auth(&writer).json(&records).send().await.unwrap();
    let (status, _, body) = json(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["count"], 2);
    let operation = body["operationId"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::try_parse(&operation).is_ok());
    let (status, _, docs) = get_data(&http, &server, "/api/price?query=(siteID=S0042)+(orderBy=price)", &reader).await;
    assert_eq!(status, StatusCode::OK);
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["productCode"], "DSL");
    for d in docs {
        assert_eq!(d["entityVariant"], "Own");
        assert_eq!(d["operationId"], operation.as_str());
        assert!(d["id"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(d["importedTime"].is_string());
    }
    let (_, _, all) = get_data(&http, &server, "/api/price?query=(entityVariant=Own)", &reader).await;
    assert_eq!(all.as_array().unwrap().len(), 3, "one fixture Own price plus two imported");

    let written = events_of_kind(&server, "data.written");
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["collection"], "price");
    assert_eq!(written[0]["count"], 2);
    assert_eq!(written[0]["operation_id"], operation.as_str());
    assert_eq!(written[0]["client_id"], WRITER.0);

    // Competitor prices keep their variant; volumes go to their own collection.
    let r = http
        .post(data_url(&server, "/api/import/competitorPrice"))
        .bearer_auth(&writer)
        .json(&json!({"id": "mine-1", "siteID": "C0999", "price": 1.4}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, _, docs) = get_data(&http, &server, "/api/price?query=(siteID=C0999)", &reader).await;
    assert_eq!(ids(&docs), vec!["mine-1"]);
    assert_eq!(docs[0]["entityVariant"], "Competitor");
    let r = http
        .post(data_url(&server, "/api/import/salesVolume"))
        .bearer_auth(&writer)
        .json(&json!([{"siteID": "S0001", "volume": 1200}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, _, docs) = get_data(&http, &server, "/api/volume", &reader).await;
    assert_eq!(docs.as_array().unwrap().len(), 1);

    // Field limits and shapes.
    let invalid: &[(Value, &str)] = &[
        (json!([{"currencyUnit": "POUND"}]), "currencyUnit"),
        (json!([{"siteID": "S".repeat(21)}]), "siteID"),
        (json!([{"brand": 5}]), "must be a string"),
        (json!([]), "empty"),
        (json!(["x"]), "not a JSON object"),
        (json!(3), "array"),
    ];
    for (body, needle) in invalid {
        let r =
            http.post(data_url(&server, "/api/import/ownPrice")).bearer_auth(&writer).json(body).send().await.unwrap();
        let (status, headers, answer) = json(r).await;
        assert_api_error(status, &headers, &answer, StatusCode::BAD_REQUEST);
        assert!(answer["message"].as_str().unwrap().contains(needle), "{body}: {answer}");
    }
    let r =
        http.post(data_url(&server, "/api/import/nonsense")).bearer_auth(&writer).json(&records).send().await.unwrap();
    let (status, headers, body) = json(r).await;
    assert_api_error(status, &headers, &body, StatusCode::NOT_FOUND);
    assert_eq!(events_of_kind(&server, "data.written").len(), 3, "refused imports write nothing");
}

#[tokio::test]
async fn routing_by_real_host_header_and_json_404_for_unknown_prefix() {
    let server = MockServer::start().await;
    let http = client(&server);
    let base = server.endpoints().https.clone();

    // As login.microsoftonline.com, at the real paths.
    let r = http
        .post(format!("{base}/{SANDPIT}/oauth2/v2.0/token"))
        .header("host", "login.microsoftonline.com")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", READER.0),
            ("client_secret", READER.1),
            ("scope", SANDPIT_SCOPE),
        ])
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let jwt = body["access_token"].as_str().unwrap().to_owned();
    let exchange = events_of_kind(&server, "http.exchange").pop().unwrap();
    assert_eq!(exchange["host"], "login.microsoftonline.com");
    assert_eq!(exchange["path"], format!("/{SANDPIT}/oauth2/v2.0/token"));
    assert_eq!(exchange["service"], "login");
    assert_eq!(exchange["status"], 200);

    // Discovery points back at the host the client used.
    let r = http
        .get(format!("{base}/{SANDPIT_DOMAIN}/v2.0/.well-known/openid-configuration"))
        .header("host", "login.microsoftonline.com")
        .send()
        .await
        .unwrap();
    let (status, headers, doc) = json(r).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(header(&headers, "cache-control"), Some("max-age=86400, private"));
    assert_eq!(doc["token_endpoint"], format!("https://login.microsoftonline.com/{SANDPIT}/oauth2/v2.0/token"));
    assert_eq!(doc["jwks_uri"], format!("https://login.microsoftonline.com/{SANDPIT}/discovery/v2.0/keys"));
    assert_eq!(doc["issuer"], format!("https://login.microsoftonline.com/{SANDPIT}/v2.0"));
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_post", "private_key_jwt", "client_secret_basic"])
    );
    // Through the prefix it points at the prefixed URL.
    let (status, _, doc) = json(
        http.get(format!("{}/{SANDPIT}/v2.0/.well-known/openid-configuration", server.url("kalibrate.login")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["token_endpoint"], format!("{}/{SANDPIT}/oauth2/v2.0/token", server.url("kalibrate.login")));
    // Unknown tenant in discovery.
    let (status, headers, body) = json(
        http.get(format!("{base}/{UNKNOWN_TENANT}/v2.0/.well-known/openid-configuration"))
            .header("host", "login.microsoftonline.com")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_aad_error(&headers, &body, "invalid_tenant", 90002);

    // As dev.data.thekalibratecloud.com.
    let r = http
        .get(format!("{base}/api/status"))
        .header("host", "dev.data.thekalibratecloud.com")
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["clientId"], READER.0);
    // With a port in the Host header too.
    let r = http
        .get(format!("{base}/api/status"))
        .header("host", "dev.data.thekalibratecloud.com:443")
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // An unknown path on the login service: Azure AD's shape, 404.
    let (status, headers, body) = json(
        http.get(format!("{base}/{SANDPIT}/oauth2/v2.0/nothing"))
            .header("host", "login.microsoftonline.com")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_aad_error(&headers, &body, "invalid_request", 90023);

    // Neither a known host nor a known prefix: JSON 404 listing the services.
    for path in ["/nope/nothing", "/kalibrate/nothing/api/status", "/", "/api/status"] {
        let (status, headers, body) = json(http.get(format!("{base}{path}")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(header(&headers, "content-type").is_some_and(|c| c.starts_with("application/json")));
        assert_eq!(body["error"], "not_found", "{path}: {body}");
        let services: Vec<&str> = body["services"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        assert!(services.contains(&"/kalibrate/login") && services.contains(&"/kalibrate/data"), "{body}");
    }
    // An unknown Host falls back to prefix routing.
    let r = http
        .get(format!("{base}/kalibrate/data/api/status"))
        .header("host", "example.com")
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_503_fault_with_retry_after_fires_exactly_once_then_normal() {
    let server = MockServer::start().await;
    let http = client(&server);
    let (status, _, added) = json(
        http.post(admin(&server, "/faults"))
            .json(&json!([
                {"provider": "kalibrate", "service": "login", "method": "POST", "route": "/*/oauth2/v2.0/token", "times": 1,
                 "action": {"status": 503, "headers": {"Retry-After": "7"}, "body": {"error": "temporarily_unavailable"}}},
                {"provider": "kalibrate", "service": "data", "action": {"status": 500}}
            ]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let rule_id = added[0]["id"].as_str().unwrap().to_owned();

    // Discovery (GET) does not match the rule.
    let r = http.get(format!("{}/{SANDPIT}/discovery/v2.0/keys", server.url("kalibrate.login"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let (status, headers, body) = token_response(&http, &server, SANDPIT, READER, SANDPIT_SCOPE).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&headers, "retry-after"), Some("7"));
    assert_eq!(header(&headers, "content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(body, json!({"error": "temporarily_unavailable"}));
    assert!(events_of_kind(&server, "token.issued").is_empty(), "the provider was not called");

    for _ in 0..2 {
        let (status, headers, body) = token_response(&http, &server, SANDPIT, READER, SANDPIT_SCOPE).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(header(&headers, "retry-after").is_none());
    }
    let (_, _, rules) = json(http.get(admin(&server, "/faults")).send().await.unwrap()).await;
    let rule = rules.as_array().unwrap().iter().find(|r| r["id"] == rule_id.as_str()).unwrap();
    assert_eq!(rule["matched"], 3);
    assert_eq!(rule["fired"], 1);

    let applied = admin_events(&http, &server, "kind=fault.applied").await;
    assert_eq!(applied.len(), 1, "{applied:#?}");
    assert_eq!(applied[0]["rule_id"], rule_id.as_str());
    assert_eq!(applied[0]["method"], "POST");
    assert_eq!(applied[0]["path"], format!("/kalibrate/login/{SANDPIT}/oauth2/v2.0/token"));
    assert_eq!(applied[0]["action"], "status 503");
    assert_eq!(applied[0]["service"], "login");
    let exchanges = admin_events(&http, &server, "kind=http.exchange&service=login").await;
    let statuses: Vec<u64> = exchanges.iter().map(|e| e["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![200, 503, 200, 200]);
    assert_eq!(exchanges[1]["retry_after"], "7", "the journal notes the Retry-After the client was given");
    assert!(exchanges[2].get("retry_after").is_none(), "{}", exchanges[2]);

    // The data rule fires forever, a string body would be text; this one has none.
    let jwt = sandpit_token(&http, &server, READER).await;
    for _ in 0..2 {
        let r = http.get(data_url(&server, "/api/status")).bearer_auth(&jwt).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.text().await.unwrap(), "");
    }
}

#[tokio::test]
async fn a_clock_step_fault_expires_the_token_between_two_calls() {
    let server = MockServer::start().await;
    let http = client(&server);
    let jwt = sandpit_token(&http, &server, READER).await;
    // The second status call moves the clock an hour on before it is handled.
    let (status, _, _) = json(
        http.post(admin(&server, "/faults"))
            .json(&json!({"service": "data", "route": "/api/status", "after": 1, "times": 1, "action": {"advance_clock_seconds": 3600}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = get_data(&http, &server, "/api/status", &jwt).await;
    assert_eq!(status, StatusCode::OK);
    let before = server.clock().now();
    let (status, headers, body) = get_data(&http, &server, "/api/status", &jwt).await;
    assert_api_error(status, &headers, &body, StatusCode::UNAUTHORIZED);
    assert!(server.clock().now() - before >= chrono::Duration::seconds(3600));
    let applied = events_of_kind(&server, "fault.applied");
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["action"], "advance clock 3600s");
    // A new token works on the moved clock.
    let fresh = sandpit_token(&http, &server, READER).await;
    let (status, _, _) = get_data(&http, &server, "/api/status", &fresh).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_journal_notes_where_a_secret_travelled_never_its_value() {
    let server = MockServer::start().await;
    let http = client(&server);
    // A secret in the query string of the data API (a client bug the journal must reveal).
    let r = http
        .get(data_url(&server, &format!("/api/status?client_secret={}", READER.1)))
        .header("x-api-secret", READER.1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Properly, in the token request body: not noted (bodies are not searched).
    sandpit_token(&http, &server, READER).await;
    let exchanges = events_of_kind(&server, "http.exchange");
    assert_eq!(exchanges.len(), 2);
    assert_eq!(exchanges[0]["secret_in"], json!(["query:client_secret", "header:x-api-secret"]));
    assert_eq!(exchanges[0]["query"]["client_secret"], "***");
    assert!(exchanges[1].get("secret_in").is_none(), "{}", exchanges[1]);
    let text = serde_json::to_string(&server.events().all()).unwrap();
    assert!(!text.contains(READER.1), "the journal never holds a secret");
}

#[tokio::test]
async fn drop_connection_fault_yields_a_connection_error_once() {
    let server = MockServer::start().await;
    let http = fresh_client(&server);
    let jwt = sandpit_token(&http, &server, READER).await;
    let (status, _, _) = json(
        http.post(admin(&server, "/faults"))
            .json(&json!({"provider": "kalibrate", "service": "data", "route": "/api/status", "times": 1, "action": {"drop_connection": true}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let result = http.get(data_url(&server, "/api/status")).bearer_auth(&jwt).send().await;
    let err = result.expect_err("the connection is dropped without an answer");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    assert!(err.is_request() || err.is_connect() || err.is_body(), "{err:?}");

    let (status, _, body) = get_data(&http, &server, "/api/status", &jwt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let applied = events_of_kind(&server, "fault.applied");
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["action"], "drop connection");
    assert_eq!(applied[0]["path"], "/kalibrate/data/api/status");
}

#[tokio::test]
async fn a_dropped_connection_is_not_journaled_as_200() {
    let server = MockServer::start().await;
    let http = fresh_client(&server);
    server
        .faults()
        .add(serde_json::from_value(json!({"service": "data", "action": {"drop_connection": true}})).unwrap())
        .unwrap();
    assert!(http.get(data_url(&server, "/api/status")).send().await.is_err());
    let exchange = events_of_kind(&server, "http.exchange").pop().unwrap();
    assert_eq!(exchange["status"], 0, "no response was sent: {exchange}");
}

#[tokio::test]
async fn delay_and_truncate_faults() {
    let server = MockServer::start().await;
    let http = fresh_client(&server);
    server
        .faults()
        .add(
            serde_json::from_value(
                json!({"service": "login", "route": "/*/discovery/v2.0/keys", "times": 1, "action": {"delay_ms": 400}}),
            )
            .unwrap(),
        )
        .unwrap();
    let keys = format!("{}/{SANDPIT}/discovery/v2.0/keys", server.url("kalibrate.login"));
    let started = Instant::now();
    let r = http.get(&keys).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "a delay alone still calls the provider");
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
    assert!(r.json::<Value>().await.unwrap()["keys"].is_array());

    server
        .faults()
        .add(serde_json::from_value(json!({"service": "login", "route": "/*/discovery/v2.0/keys", "times": 1, "action": {"truncate_body": true}})).unwrap())
        .unwrap();
    let r = http.get(&keys).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.is_err(), "the body is cut short");
    let r = http.get(&keys).send().await.unwrap();
    assert!(r.json::<Value>().await.is_ok(), "then whole again");
}

#[tokio::test]
async fn malformed_token_requests_get_aad_errors_never_a_500() {
    let server = MockServer::start().await;
    let http = client(&server);
    let url = token_url(&server, SANDPIT);

    // Empty body, no Content-Type.
    let (status, headers, body) = json(http.post(&url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_aad_error(&headers, &body, "invalid_request", 900144);
    // Empty form.
    let (status, headers, body) =
        json(http.post(&url).header("content-type", "application/x-www-form-urlencoded").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_aad_error(&headers, &body, "invalid_request", 900144);
    // A JSON body with every parameter: not a form, so no grant_type.
    let r = http
        .post(&url)
        .json(&json!({"grant_type": "client_credentials", "client_id": READER.0, "client_secret": READER.1, "scope": SANDPIT_SCOPE}))
        .send()
        .await
        .unwrap();
    let (status, headers, body) = json(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_aad_error(&headers, &body, "invalid_request", 900144);
    assert!(body["error_description"].as_str().unwrap().contains("'grant_type'"));
    // A form body sent as text/plain.
    let r = http
        .post(&url)
        .header("content-type", "text/plain")
        .body(form(&[("grant_type", "client_credentials")]))
        .send()
        .await
        .unwrap();
    let (status, headers, body) = json(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_aad_error(&headers, &body, "invalid_request", 900144);
    // Form Content-Type with parameters is still a form.
    let r = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded; charset=UTF-8")
        .body(form(&[
            ("grant_type", "client_credentials"),
            ("client_id", READER.0),
            ("client_secret", READER.1),
            ("scope", SANDPIT_SCOPE),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // 1 MB body: 413 in Azure AD's shape.
    let mut big = form(&[("grant_type", "client_credentials"), ("client_id", READER.0)]);
    big.push_str("&padding=");
    big.push_str(&"a".repeat(1 << 20));
    let r = http.post(&url).header("content-type", "application/x-www-form-urlencoded").body(big).send().await.unwrap();
    let (status, headers, body) = json(r).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_aad_error(&headers, &body, "invalid_request", 90023);
    assert!(body["error_description"].as_str().unwrap().contains("larger than"), "{body}");

    // Invalid UTF-8 in a form.
    let mut bytes = b"grant_type=client_credentials&client_id=".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    let r =
        http.post(&url).header("content-type", "application/x-www-form-urlencoded").body(bytes).send().await.unwrap();
    let (status, headers, body) = json(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_aad_error(&headers, &body, "invalid_request", 90023);
    assert!(body["error_description"].as_str().unwrap().contains("UTF-8"), "{body}");
    // Percent-encoded invalid UTF-8 decodes lossily: a client id that does not exist.
    let (status, headers, body) = json(
        http.post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&client_id=%FF%FE")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_aad_error(&headers, &body, "unauthorized_client", 700016);
    // A repeated parameter.
    let r = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&grant_type=password")
        .send()
        .await
        .unwrap();
    let (status, headers, body) = json(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_aad_error(&headers, &body, "invalid_request", 90023);
    assert!(body["error_description"].as_str().unwrap().contains("more than once"), "{body}");
    // Garbage bytes.
    let garbage: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let r =
        http.post(&url).header("content-type", "application/x-www-form-urlencoded").body(garbage).send().await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let (_, headers, body) = json(r).await;
    assert!(body["error_codes"].is_array(), "{body}");
    assert_eq!(header(&headers, "content-type"), Some("application/json; charset=utf-8"));
    // A tenant segment with odd characters.
    let (status, headers, body) = post_form(
        &http,
        token_url(&server, "%00%2F..%2F"),
        &[("grant_type", "client_credentials"), ("client_id", READER.0)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_aad_error(&headers, &body, "invalid_request", 900023);
}

#[tokio::test]
async fn malformed_data_requests_are_json_errors_never_a_500() {
    let server = MockServer::start().await;
    let http = client(&server);
    let writer = sandpit_token(&http, &server, WRITER).await;

    // Odd query strings.
    for path in [
        "/api/price?query=%ZZ",
        "/api/price?query=%FF%FE",
        "/api/price?query=",
        "/api/price?&&&=",
        "/api/price?query=(a=%28%29)",
    ] {
        let (status, _, body) = get_data(&http, &server, path, &writer).await;
        assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{path}: {status} {body}");
    }
    let (status, headers, body) = get_data(&http, &server, "/api/price?query=((((", &writer).await;
    assert_api_error(status, &headers, &body, StatusCode::BAD_REQUEST);

    // Imports: not JSON, invalid UTF-8, empty, too large.
    let url = data_url(&server, "/api/import/ownPrice");
    let bodies: Vec<(Vec<u8>, StatusCode)> = vec![
        (b"{nope".to_vec(), StatusCode::BAD_REQUEST),
        (vec![0xff, 0xfe, b'[', b']'], StatusCode::BAD_REQUEST),
        (Vec::new(), StatusCode::BAD_REQUEST),
        (b"grant_type=x".to_vec(), StatusCode::BAD_REQUEST),
        (format!("[{}]", vec![r#"{"siteID":"S1"}"#; 10_001].join(",")).into_bytes(), StatusCode::BAD_REQUEST),
        (format!(r#"[{{"note":"{}"}}]"#, "x".repeat(5 << 20)).into_bytes(), StatusCode::PAYLOAD_TOO_LARGE),
    ];
    for (body, expected) in bodies {
        let len = body.len();
        let r = http
            .post(&url)
            .bearer_auth(&writer)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, headers, answer) = json(r).await;
        assert_api_error(status, &headers, &answer, expected);
        assert!(answer["message"].as_str().unwrap().starts_with("Invalid import: "), "{len} bytes: {answer}");
    }
    assert!(events_of_kind(&server, "data.written").is_empty());
    // Unknown paths on the data service.
    for path in ["/", "/api", "/nothing"] {
        let (status, headers, body) =
            json(http.get(data_url(&server, path)).bearer_auth(&writer).send().await.unwrap()).await;
        assert_api_error(status, &headers, &body, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn wrong_method_on_the_token_endpoint_answers_in_aad_shape() {
    let server = MockServer::start().await;
    let http = client(&server);
    let r = http.get(token_url(&server, SANDPIT)).send().await.unwrap();
    assert!(r.status().is_client_error());
    let (_, _, body) = json(r).await;
    assert!(body["error_codes"].is_array(), "{body}");
}
