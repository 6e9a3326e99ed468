//! The Open Energy authorization server over real mTLS: discovery, `tls_client_auth` tokens bound
//! to the certificate, RFC 7662 introspection, JWKS, and every refusal as a JSON OAuth error.

mod openenergy_support;

use mock_server::MockServer;
use openenergy_support::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn discovery_has_the_seven_keys_fapisession_needs_and_rfc_8705_metadata() {
    let server = MockServer::start().await;
    let creds = credentials(&server, CONSUMER);
    let base = server.url("openenergy.auth");
    for issuer_url in [base.clone(), format!("{base}/")] {
        // The package: a trailing slash gets no extra one.
        let url = if issuer_url.ends_with('/') {
            format!("{issuer_url}.well-known/openid-configuration")
        } else {
            format!("{issuer_url}/.well-known/openid-configuration")
        };
        let (status, _, doc) = json(mtls_client(&server, Some(&creds)).get(url).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        for key in [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "introspection_endpoint",
            "jwks_uri",
            "scopes_supported",
            "grant_types_supported",
        ] {
            assert!(!doc[key].is_null(), "{key} missing: {doc}");
        }
        assert_eq!(doc["issuer"], base.as_str());
        assert_eq!(doc["token_endpoint"], format!("{base}/token"));
        assert_eq!(doc["introspection_endpoint"], format!("{base}/token/introspection"));
        assert!(doc["token_endpoint"].as_str().unwrap().starts_with(&server.endpoints().mtls), "the mTLS URL itself");
        assert_eq!(doc["token_endpoint_auth_methods_supported"], json!(["tls_client_auth", "private_key_jwt"]));
        assert_eq!(doc["tls_client_certificate_bound_access_tokens"], true);
        assert_eq!(doc["mtls_endpoint_aliases"]["token_endpoint"], doc["token_endpoint"]);
        assert!(doc["scopes_supported"].as_array().unwrap().contains(&json!("directory:software")));
        assert!(doc["grant_types_supported"].as_array().unwrap().contains(&json!("client_credentials")));
    }
    // Discovery needs no certificate; the JWKS is published.
    let (status, _, jwks) =
        json(mtls_client(&server, None).get(auth_url(&server, "/jwks")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    // Unknown routes answer as node-oidc-provider does.
    let (status, _, body) =
        json(mtls_client(&server, None).get(auth_url(&server, "/nope")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"].as_str().unwrap().starts_with("unrecognized route or not allowed method"));
}

#[tokio::test]
async fn a_certificate_bound_opaque_token_with_introspection() {
    let server = MockServer::start().await;
    let creds = credentials(&server, CONSUMER);
    let http = mtls_client(&server, Some(&creds));
    let (status, headers, body) =
        token_response(&http, &server, CONSUMER.client_id, Some("directory:software energy:consumption")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert_eq!(header(&headers, "pragma"), Some("no-cache"));
    assert_eq!(header(&headers, "content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "directory:software energy:consumption");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.len(), 43, "256 random bits, base64url");
    assert_eq!(token.split('.').count(), 1, "opaque, not a JWT");
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

    let issued = events_of_kind(&server, "token.issued");
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0]["bound_to"], creds.thumbprint.as_str());
    assert_eq!(issued[0]["client_id"], CONSUMER.client_id);
    assert_eq!(issued[0]["scopes"], json!(["directory:software", "energy:consumption"]));
    assert!(
        !serde_json::to_string(&server.events().all()).unwrap().contains(token),
        "the token never reaches the journal"
    );

    // A data provider introspects it with its own certificate.
    let provider = credentials(&server, PROVIDER);
    let (status, info) = introspect(&mtls_client(&server, Some(&provider)), &server, PROVIDER.client_id, token).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    let now = server.clock().unix();
    assert_eq!(info["active"], true);
    assert_eq!(info["client_id"], CONSUMER.client_id);
    assert_eq!(info["scope"], "directory:software energy:consumption");
    assert_eq!(info["token_type"], "Bearer");
    assert!((info["iat"].as_i64().unwrap() - now).abs() <= 2);
    assert_eq!(info["exp"].as_i64().unwrap() - info["iat"].as_i64().unwrap(), 600);
    assert_eq!(info["iss"], server.url("openenergy.auth").as_str());
    assert_eq!(info["cnf"], json!({"x5t#S256": creds.thumbprint}));
    assert_eq!(info["organisation_id"], CONSUMER.organisation_id);
    assert_eq!(info["organisation_name"], "Demo Energy Consumer Ltd");
    assert_eq!(info["organisation_number"], "12345678");
    assert_eq!(info["software_roles"], json!(["data-consumer"]));
    assert_eq!(info["software_description"], "Reads shared data sets under FAPI");
    assert!(info["additional_software_metadata"]["metadata"].is_object());
    let seen = events_of_kind(&server, "token.introspected");
    assert_eq!((seen[0]["client_id"].as_str(), seen[0]["active"].as_bool()), (Some(PROVIDER.client_id), Some(true)));

    // Unknown, then expired on the virtual clock: {"active": false} and nothing else.
    let provider_http = mtls_client(&server, Some(&provider));
    let (status, info) = introspect(&provider_http, &server, PROVIDER.client_id, "not-a-token").await;
    assert_eq!((status, info), (StatusCode::OK, json!({"active": false})));
    server.clock().advance(chrono::Duration::seconds(600)).unwrap();
    let (_, info) = introspect(&provider_http, &server, PROVIDER.client_id, token).await;
    assert_eq!(info, json!({"active": false}));
    assert!(events_of_kind(&server, "token.introspected").last().unwrap()["reason"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn introspection_needs_an_authenticated_client() {
    let server = MockServer::start().await;
    let creds = credentials(&server, CONSUMER);
    let t = token(&mtls_client(&server, Some(&creds)), &server, CONSUMER.client_id, None).await;
    let (status, body) = introspect(&mtls_client(&server, None), &server, PROVIDER.client_id, &t).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    let (status, body) = introspect(&mtls_client(&server, Some(&creds)), &server, PROVIDER.client_id, &t).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "a certificate of another client"
    );
    let form = [("client_id", CONSUMER.client_id)];
    let (status, _, body) = json(
        mtls_client(&server, Some(&creds))
            .post(auth_url(&server, "/token/introspection"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}

/// Asserts a JSON OAuth error with the no-store headers.
fn assert_oauth_error(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &serde_json::Value,
    want: (u16, &str),
) {
    assert_eq!((status.as_u16(), body["error"].as_str().unwrap_or_default()), want, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    assert_eq!(header(headers, "content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(header(headers, "cache-control"), Some("no-store"));
}

#[tokio::test]
async fn no_certificate_unregistered_expired_revoked_or_inactive_is_invalid_client() {
    let server = MockServer::start().await;
    // No certificate.
    let (status, headers, body) = token_response(&mtls_client(&server, None), &server, CONSUMER.client_id, None).await;
    assert_oauth_error(status, &headers, &body, (401, "invalid_client"));
    assert!(body["error_description"].as_str().unwrap().contains("no client certificate"));
    // A certificate from our CA whose subject names no software statement.
    let (csr, key_pem) = csr_for(oe_subject("Someone Else", "unknown-org", "unknown-statement"));
    let issued = server.sign_csr(csr.as_bytes(), 86_400).unwrap();
    let stranger = Credentials {
        client_id: CONSUMER.client_id.into(),
        cert_pem: issued.certificate,
        key_pem,
        thumbprint: issued.thumbprint,
    };
    let (status, headers, body) =
        token_response(&mtls_client(&server, Some(&stranger)), &server, CONSUMER.client_id, None).await;
    assert_oauth_error(status, &headers, &body, (401, "invalid_client"));
    assert!(body["error_description"].as_str().unwrap().contains("is not registered to client"), "{body}");
    // Registered, but to another client.
    let provider = credentials(&server, PROVIDER);
    let (status, headers, body) =
        token_response(&mtls_client(&server, Some(&provider)), &server, CONSUMER.client_id, None).await;
    assert_oauth_error(status, &headers, &body, (401, "invalid_client"));
    // An unknown client id, and none at all.
    let creds = credentials(&server, CONSUMER);
    let (status, headers, body) = token_response(&mtls_client(&server, Some(&creds)), &server, "nobody", None).await;
    assert_oauth_error(status, &headers, &body, (401, "invalid_client"));
    let (status, _, body) = json(
        mtls_client(&server, Some(&creds))
            .post(auth_url(&server, "/token"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status.as_u16(), body["error"].as_str()), (401, Some("invalid_client")));
    // Inactive software statement.
    let withdrawn = credentials(&server, WITHDRAWN);
    let (status, headers, body) =
        token_response(&mtls_client(&server, Some(&withdrawn)), &server, WITHDRAWN.client_id, None).await;
    assert_oauth_error(status, &headers, &body, (401, "invalid_client"));
    assert!(body["error_description"].as_str().unwrap().contains("Inactive"));
    // Expired on the virtual clock: still through the handshake, refused as invalid_client.
    let short = credentials_valid_for(&server, CONSUMER, 3600);
    let http = mtls_client(&server, Some(&short));
    token(&http, &server, CONSUMER.client_id, None).await;
    server.clock().advance(chrono::Duration::seconds(3601)).unwrap();
    let (status, headers, body) = token_response(&http, &server, CONSUMER.client_id, None).await;
    assert_oauth_error(status, &headers, &body, (401, "invalid_client"));
    assert!(body["error_description"].as_str().unwrap().contains("expired"), "{body}");
    let rejected = events_of_kind(&server, "token.rejected");
    assert_eq!(rejected.len(), 7);
    assert!(rejected.iter().all(|e| e["error"] == "invalid_client"));
}

#[tokio::test]
async fn a_certificate_expired_in_real_time_also_gets_invalid_client_not_a_tls_alert() {
    let server = MockServer::start().await;
    server.clock().advance(chrono::Duration::days(-30)).unwrap();
    let old = credentials_valid_for(&server, CONSUMER, 86_400);
    server.clock().reset();
    let (status, _, body) = token_response(&mtls_client(&server, Some(&old)), &server, CONSUMER.client_id, None).await;
    assert_eq!((status.as_u16(), body["error"].as_str()), (401, Some("invalid_client")), "{body}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_in_the_handshake() {
    let server = MockServer::start().await;
    let stranger = MockServer::start().await;
    let foreign = credentials(&stranger, CONSUMER);
    let result = mtls_client(&server, Some(&foreign))
        .post(auth_url(&server, "/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", CONSUMER.client_id)])
        .send()
        .await;
    assert!(result.is_err(), "a foreign certificate must not get through: {result:?}");
    assert!(events_of_kind(&server, "token.issued").is_empty());
}

#[tokio::test]
async fn revoked_certificates_are_refused_and_their_tokens_die() {
    let server = MockServer::start().await;
    let creds = credentials(&server, CONSUMER);
    let http = mtls_client(&server, Some(&creds));
    let t = token(&http, &server, CONSUMER.client_id, None).await;
    let revoked = fixtures_plus(&format!(
        "[[openenergy.revoked_certificates]]\nthumbprint = \"{}\"\nreason = \"key compromise\"\n",
        creds.thumbprint
    ));
    let put = reqwest::Client::new().put(admin(&server, "/fixtures")).body(revoked).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::OK, "{}", put.text().await.unwrap());
    let (status, _, body) = token_response(&http, &server, CONSUMER.client_id, None).await;
    assert_eq!((status.as_u16(), body["error"].as_str()), (401, Some("invalid_client")));
    assert!(body["error_description"].as_str().unwrap().contains("revoked: key compromise"), "{body}");
    let provider = credentials(&server, PROVIDER);
    let (_, info) = introspect(&mtls_client(&server, Some(&provider)), &server, PROVIDER.client_id, &t).await;
    assert_eq!(info, json!({"active": false}));
    // By serial, too.
    let other = credentials(&server, DIRECTORY_ONLY);
    let serial =
        mock_server::tls::certificate_details(&mock_server::tls::pem_blocks(&other.cert_pem)[0].der.clone().unwrap())
            .unwrap()
            .serial;
    let put = reqwest::Client::new()
        .put(admin(&server, "/fixtures"))
        .body(fixtures_plus(&format!("[[openenergy.revoked_certificates]]\nserial = \"{}\"\n", serial.to_uppercase())))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let (status, _, _) =
        token_response(&mtls_client(&server, Some(&other)), &server, DIRECTORY_ONLY.client_id, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_certificate_may_be_registered_by_thumbprint() {
    let server = MockServer::start().await;
    let (csr, key_pem) = csr_for(oe_subject("Anything", "any-org", "any-cn"));
    let issued = server.sign_csr(csr.as_bytes(), 86_400).unwrap();
    let creds = Credentials {
        client_id: PROVIDER.client_id.into(),
        cert_pem: issued.certificate,
        key_pem,
        thumbprint: issued.thumbprint.clone(),
    };
    let http = mtls_client(&server, Some(&creds));
    assert_eq!(token_response(&http, &server, PROVIDER.client_id, None).await.0, StatusCode::UNAUTHORIZED);
    let text = fixtures_with(
        "metadata = { publishes = [",
        &format!("certificate_thumbprints = [\"{}\"]\nmetadata = {{ publishes = [", issued.thumbprint),
    );
    let put = reqwest::Client::new().put(admin(&server, "/fixtures")).body(text).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::OK, "{}", put.text().await.unwrap());
    token(&http, &server, PROVIDER.client_id, None).await;
}

#[tokio::test]
async fn grant_type_scope_and_body_errors() {
    let server = MockServer::start().await;
    let creds = credentials(&server, DIRECTORY_ONLY);
    let http = mtls_client(&server, Some(&creds));
    let post = |form: Vec<(&'static str, &'static str)>| {
        let http = http.clone();
        let url = auth_url(&server, "/token");
        async move { json(http.post(url).form(&form).send().await.unwrap()).await }
    };
    let (s, h, b) = post(vec![("client_id", DIRECTORY_ONLY.client_id)]).await;
    assert_oauth_error(s, &h, &b, (400, "invalid_request"));
    assert_eq!(b["error_description"], "missing required parameter 'grant_type'");
    let (s, h, b) = post(vec![("grant_type", "password"), ("client_id", DIRECTORY_ONLY.client_id)]).await;
    assert_oauth_error(s, &h, &b, (400, "unsupported_grant_type"));
    let (s, h, b) = post(vec![
        ("grant_type", "client_credentials"),
        ("client_id", DIRECTORY_ONLY.client_id),
        ("scope", "energy:consumption"),
    ])
    .await;
    assert_oauth_error(s, &h, &b, (400, "invalid_scope"));
    let (s, h, b) =
        post(vec![("grant_type", "client_credentials"), ("client_id", DIRECTORY_ONLY.client_id), ("scope", "made:up")])
            .await;
    assert_oauth_error(s, &h, &b, (400, "invalid_scope"));
    let (s, h, b) = post(vec![
        ("grant_type", "client_credentials"),
        ("client_id", DIRECTORY_ONLY.client_id),
        ("client_secret", "x"),
    ])
    .await;
    assert_oauth_error(s, &h, &b, (401, "invalid_client"));
    // Scope omitted: everything the statement may have.
    let (s, _, b) = post(vec![("grant_type", "client_credentials"), ("client_id", DIRECTORY_ONLY.client_id)]).await;
    assert_eq!((s, b["scope"].as_str()), (StatusCode::OK, Some("directory:software")));
    // Not a form, a repeated parameter, an oversized body: JSON errors all the same.
    let url = auth_url(&server, "/token");
    let (s, h, b) =
        json(http.post(&url).json(&json!({"grant_type": "client_credentials"})).send().await.unwrap()).await;
    assert_oauth_error(s, &h, &b, (400, "invalid_request"));
    let (s, h, b) = json(
        http.post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=a&grant_type=b")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_oauth_error(s, &h, &b, (400, "invalid_request"));
    let (s, h, b) = json(
        http.post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; 100_000])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_oauth_error(s, &h, &b, (413, "invalid_request"));
    let (s, h, b) = json(http.get(&url).send().await.unwrap()).await;
    assert_oauth_error(s, &h, &b, (404, "invalid_request"));
}

#[tokio::test]
async fn lifetime_and_token_store_bound_come_from_fixtures() {
    let text = fixtures_with(
        "token_lifetime_seconds = 600\nmax_tokens = 10000",
        "token_lifetime_seconds = 30\nmax_tokens = 2",
    );
    let server = server_with(text).await;
    let creds = credentials(&server, CONSUMER);
    let provider = credentials(&server, PROVIDER);
    let (http, inspector) = (mtls_client(&server, Some(&creds)), mtls_client(&server, Some(&provider)));
    let (_, _, body) = token_response(&http, &server, CONSUMER.client_id, None).await;
    assert_eq!(body["expires_in"], 30);
    let first = body["access_token"].as_str().unwrap().to_owned();
    let second = token(&http, &server, CONSUMER.client_id, None).await;
    assert_eq!(introspect(&inspector, &server, PROVIDER.client_id, &first).await.1["active"], true);
    let third = token(&http, &server, CONSUMER.client_id, None).await;
    assert_eq!(
        introspect(&inspector, &server, PROVIDER.client_id, &first).await.1,
        json!({"active": false}),
        "the oldest is forgotten"
    );
    assert_eq!(introspect(&inspector, &server, PROVIDER.client_id, &second).await.1["active"], true);
    server.clock().advance(chrono::Duration::seconds(30)).unwrap();
    assert_eq!(introspect(&inspector, &server, PROVIDER.client_id, &third).await.1, json!({"active": false}));
}
