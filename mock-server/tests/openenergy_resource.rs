//! The Open Energy resource servers (data provider and directory API) over real mTLS: the six
//! checks in the package's order, `Date` and `x-fapi-interaction-id` on every response, tokens
//! in the query never accepted, data sets in JSON and CSV, and the trusted-proxy mode.

mod openenergy_support;

use base64::Engine;
use mock_server::MockServer;
use openenergy_support::*;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// Every answer of a resource server has these.
fn assert_fapi_headers(headers: &HeaderMap, interaction: Option<&str>) {
    let date = header(headers, "date").expect("Date");
    assert!(chrono::DateTime::parse_from_rfc2822(date).is_ok(), "Date {date}");
    let id = header(headers, "x-fapi-interaction-id").expect("x-fapi-interaction-id");
    match interaction {
        Some(sent) => assert_eq!(id, sent),
        None => assert!(uuid::Uuid::try_parse(id).is_ok(), "{id}"),
    }
}

/// A refusal as the package's `build_error_response` makes it, without the trailing space the
/// package leaves in the challenge.
async fn assert_refused(response: reqwest::Response, status: u16, challenge: &str) {
    assert_eq!(response.status().as_u16(), status);
    let headers = response.headers().clone();
    assert_eq!(header(&headers, "www-authenticate"), Some(challenge));
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert_eq!(header(&headers, "pragma"), Some("no-cache"));
    assert_fapi_headers(&headers, None);
    assert_eq!(response.bytes().await.unwrap().len(), 0, "empty body");
}

#[tokio::test]
async fn data_sets_in_json_and_csv_with_fapi_headers() {
    let server = MockServer::start().await;
    let creds = credentials(&server, CONSUMER);
    let http = mtls_client(&server, Some(&creds));
    let t = token(&http, &server, CONSUMER.client_id, Some("directory:software energy:consumption")).await;

    let sent = "7b2a3c1e-0000-4000-8000-000000000001";
    let response = http
        .get(data_url(&server, GRID_INTENSITY))
        .bearer_auth(&t)
        .header("x-fapi-interaction-id", sent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_fapi_headers(response.headers(), Some(sent));
    assert_eq!(header(response.headers(), "content-type"), Some("application/json; charset=utf-8"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 3);
    assert_eq!(body[0]["index"], "moderate");

    let response = http.get(data_url(&server, CONSUMPTION_CSV)).bearer_auth(&t).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_fapi_headers(response.headers(), None);
    assert_eq!(header(response.headers(), "content-type"), Some("text/csv; charset=utf-8"));
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], "postcode,year,meters,consumption_kwh,mean_kwh");
    assert_eq!(lines[1], "EC1A 1,2020,1520,5198400,3420");
    assert_eq!(lines.len(), 5);

    // The index, and the Date on the virtual clock.
    server.clock().advance(chrono::Duration::days(1)).unwrap();
    server.clock().freeze();
    let t = token(&http, &server, CONSUMER.client_id, None).await;
    let response = http.get(data_url(&server, "/")).bearer_auth(&t).send().await.unwrap();
    let date = chrono::DateTime::parse_from_rfc2822(header(response.headers(), "date").unwrap()).unwrap();
    assert_eq!(date.timestamp(), server.clock().unix());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data_sets"].as_array().unwrap().len(), 2);

    let authorized = events_of_kind(&server, "api.authorized");
    assert_eq!(authorized.len(), 3);
    assert_eq!(authorized[0]["endpoint"], GRID_INTENSITY);
    assert_eq!(authorized[0]["client_id"], CONSUMER.client_id);
}

#[tokio::test]
async fn the_six_checks_in_the_packages_order() {
    let server = MockServer::start().await;
    let creds = credentials(&server, CONSUMER);
    let http = mtls_client(&server, Some(&creds));
    let url = data_url(&server, CONSUMPTION_CSV);
    let full = token(&http, &server, CONSUMER.client_id, Some("directory:software energy:consumption")).await;

    // 1. No client certificate, even with a valid token.
    let anonymous = mtls_client(&server, None);
    assert_refused(anonymous.get(&url).bearer_auth(&full).send().await.unwrap(), 401, "Bearer").await;
    // 2. No Authorization; not a bearer token.
    assert_refused(http.get(&url).send().await.unwrap(), 401, "Bearer").await;
    assert_refused(http.get(&url).basic_auth("a", Some("b")).send().await.unwrap(), 401, "Bearer").await;
    // 3. Unknown token: invalid_token, with the endpoint's scope.
    let invalid = "Bearer error=\"invalid_token\", scope=\"energy:consumption\"";
    assert_refused(http.get(&url).bearer_auth("nope").send().await.unwrap(), 401, invalid).await;
    // The scheme is case-insensitive, as in the package.
    let ok = http.get(&url).header("authorization", format!("bEaReR {full}")).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    // 5. The token with a different (also valid, registered) certificate.
    let other = credentials(&server, CONSUMER);
    let thief = mtls_client(&server, Some(&other));
    assert_refused(thief.get(&url).bearer_auth(&full).send().await.unwrap(), 401, invalid).await;
    let denied = events_of_kind(&server, "api.denied");
    assert!(denied.last().unwrap()["reason"].as_str().unwrap().contains("bound to certificate"), "{denied:?}");
    // 6. A token without the scope: 403 insufficient_scope.
    let narrow = token(&http, &server, CONSUMER.client_id, Some("directory:software")).await;
    assert_refused(
        http.get(&url).bearer_auth(&narrow).send().await.unwrap(),
        403,
        "Bearer error=\"insufficient_scope\", scope=\"energy:consumption\"",
    )
    .await;
    // A data set without a scope of its own: a challenge without scope, as the package writes it.
    assert_refused(
        http.get(data_url(&server, "/")).bearer_auth("nope").send().await.unwrap(),
        401,
        "Bearer error=\"invalid_token\"",
    )
    .await;
    // 4. Expired on the virtual clock, and issued in the future when the clock goes back.
    server.clock().advance(chrono::Duration::seconds(601)).unwrap();
    assert_refused(http.get(&url).bearer_auth(&full).send().await.unwrap(), 401, invalid).await;
    let fresh = token(&http, &server, CONSUMER.client_id, None).await;
    server.clock().advance(chrono::Duration::seconds(-120)).unwrap();
    assert_refused(http.get(&url).bearer_auth(&fresh).send().await.unwrap(), 401, invalid).await;
    assert!(events_of_kind(&server, "api.denied").last().unwrap()["reason"]
        .as_str()
        .unwrap()
        .contains("issued in the future"));

    let statuses: Vec<u64> =
        events_of_kind(&server, "api.denied").iter().map(|e| e["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![401, 401, 401, 401, 401, 403, 401, 401, 401]);
}

#[tokio::test]
async fn a_token_in_the_query_string_is_never_accepted() {
    let server = MockServer::start().await;
    let creds = credentials(&server, CONSUMER);
    let http = mtls_client(&server, Some(&creds));
    let t = token(&http, &server, CONSUMER.client_id, None).await;
    let url = data_url(&server, GRID_INTENSITY);
    let challenge = "Bearer error=\"invalid_request\", scope=\"directory:software\"";
    assert_refused(http.get(&url).query(&[("access_token", &t)]).send().await.unwrap(), 401, challenge).await;
    // Not even beside a valid header.
    assert_refused(http.get(&url).query(&[("access_token", &t)]).bearer_auth(&t).send().await.unwrap(), 401, challenge)
        .await;
    let denied = events_of_kind(&server, "api.denied");
    assert!(denied.iter().all(|e| e["reason"].as_str().unwrap().contains("query string")));
    let exchanges = events_of_kind(&server, "http.exchange");
    assert!(exchanges.iter().all(|e| !e.to_string().contains(&t)), "the query token is redacted in the journal");
}

#[tokio::test]
async fn unknown_paths_and_methods_still_carry_the_fapi_headers() {
    let server = MockServer::start().await;
    let http = mtls_client(&server, None);
    let response =
        http.get(data_url(&server, "/datasets/none")).header("x-fapi-interaction-id", "abc").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_fapi_headers(response.headers(), Some("abc"));
    let response = http.post(data_url(&server, GRID_INTENSITY)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_fapi_headers(response.headers(), None);
}

#[tokio::test]
async fn the_directory_api_needs_the_directory_scope() {
    let server = MockServer::start().await;
    let creds = credentials(&server, CONSUMER);
    let http = mtls_client(&server, Some(&creds));
    let t = token(&http, &server, CONSUMER.client_id, Some("directory:software")).await;
    let (status, headers, body) =
        json(http.get(directory_url(&server, "/organisations")).bearer_auth(&t).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_fapi_headers(&headers, None);
    assert_eq!(body["totalElements"], 2);
    assert_eq!(body["content"][0]["OrganisationId"], CONSUMER.organisation_id);
    assert_eq!(body["content"][0]["CreatedOn"], "2021-03-01T10:00:00.000Z");
    let path = format!("/organisations/{}/softwarestatements", CONSUMER.organisation_id);
    let (status, _, body) = json(http.get(directory_url(&server, &path)).bearer_auth(&t).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["ClientId"] == CONSUMER.client_id && s["SoftwareStatementId"] == CONSUMER.id));
    // The software statement assertion: a JWT signed with the key of the AS's JWKS.
    let path = format!("/organisations/{}/softwarestatements/{}/assertion", CONSUMER.organisation_id, CONSUMER.id);
    let response = http.get(directory_url(&server, &path)).bearer_auth(&t).send().await.unwrap();
    assert_eq!(header(response.headers(), "content-type"), Some("application/jwt"));
    let jwt = response.text().await.unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["software_client_id"], CONSUMER.client_id);
    assert_eq!(claims["org_id"], CONSUMER.organisation_id);
    let (_, _, jwks) = json(http.get(auth_url(&server, "/jwks")).send().await.unwrap()).await;
    let header_json: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header_json["kid"], jwks["keys"][0]["kid"]);
    // 404s in the directory's error shape; a token without the scope: 403.
    let (status, _, body) =
        json(http.get(directory_url(&server, "/organisations/nope")).bearer_auth(&t).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["errors"][0]["code"], "NotFound");
    let narrow = token(&http, &server, CONSUMER.client_id, Some("energy:consumption")).await;
    let response = http.get(directory_url(&server, "/organisations")).bearer_auth(&narrow).send().await.unwrap();
    assert_refused(response, 403, "Bearer error=\"insufficient_scope\", scope=\"directory:software\"").await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_certificate_comes_in_x_oe_client_cert() {
    let server = server_with(fixtures_with("trusted_proxies = []", "trusted_proxies = [\"127.0.0.1\"]")).await;
    let creds = credentials(&server, CONSUMER);
    let t = token(&mtls_client(&server, Some(&creds)), &server, CONSUMER.client_id, None).await;
    // The proxy terminated TLS and talks plain HTTP to the data provider.
    let proxy = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}/openenergy/data{GRID_INTENSITY}", server.endpoints().http);
    let der = mock_server::tls::pem_blocks(&creds.cert_pem).remove(0).der.unwrap();
    // nginx's $ssl_client_cert: PEM folded over lines starting with a tab, which reaches the
    // application with the line breaks gone and the tabs left.
    let nginx = creds.cert_pem.trim_end().replace('\n', "\t");
    let gunicorn = base64::engine::general_purpose::STANDARD.encode(&der);
    for forwarded in [nginx, gunicorn] {
        let response = proxy.get(&url).bearer_auth(&t).header("x-oe-client-cert", &forwarded).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{forwarded}");
        assert_fapi_headers(response.headers(), None);
    }
    // Another client's certificate in the header: the binding check still applies.
    let other = credentials(&server, CONSUMER);
    let response = proxy
        .get(&url)
        .bearer_auth(&t)
        .header("x-oe-client-cert", other.cert_pem.replace('\n', "\t"))
        .send()
        .await
        .unwrap();
    assert_refused(response, 401, "Bearer error=\"invalid_token\", scope=\"directory:software\"").await;
    // A certificate not from the directory CA, or garbage: no certificate.
    let stranger = MockServer::start().await;
    let foreign = credentials(&stranger, CONSUMER);
    for bad in [foreign.cert_pem.replace('\n', "\t"), "garbage".to_owned()] {
        let response = proxy.get(&url).bearer_auth(&t).header("x-oe-client-cert", bad).send().await.unwrap();
        assert_refused(response, 401, "Bearer").await;
    }
    // Without that trust the header is ignored.
    let untrusting = MockServer::start().await;
    let creds = credentials(&untrusting, CONSUMER);
    let t = token(&mtls_client(&untrusting, Some(&creds)), &untrusting, CONSUMER.client_id, None).await;
    let url = format!("{}/openenergy/data{GRID_INTENSITY}", untrusting.endpoints().http);
    let response = proxy
        .get(&url)
        .bearer_auth(&t)
        .header("x-oe-client-cert", creds.cert_pem.replace('\n', "\t"))
        .send()
        .await
        .unwrap();
    assert_refused(response, 401, "Bearer").await;
    let denied = events_of_kind(&untrusting, "api.denied");
    assert!(denied[0]["reason"].as_str().unwrap().contains("not a trusted proxy"), "{denied:?}");
}
