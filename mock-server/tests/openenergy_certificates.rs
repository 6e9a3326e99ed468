//! The directory CA: CSRs signed into end-entity client certificates (admin endpoint, library,
//! CLI), whatever the request asks for; validity on the virtual clock; clear errors for
//! malformed requests, PEM garbage and oversized input; and the certificates listed by the
//! directory API.

mod openenergy_support;

use std::process::Command;

use mock_server::MockServer;
use openenergy_support::*;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType};
use reqwest::StatusCode;
use x509_parser::prelude::*;

fn plain() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn sign(
    server: &MockServer,
    body: reqwest::Body,
    content_type: &str,
    query: &str,
) -> (StatusCode, serde_json::Value) {
    let response = plain()
        .post(admin(server, &format!("/certificates{query}")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(response).await;
    (status, body)
}

fn pem_der(pem: &str) -> Vec<u8> {
    mock_server::tls::pem_blocks(pem).remove(0).der.unwrap()
}

#[tokio::test]
async fn a_csr_that_asks_to_be_a_ca_still_yields_an_end_entity_client_certificate() {
    let server = MockServer::start().await;
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = oe_subject(CONSUMER.organisation, CONSUMER.organisation_id, CONSUMER.id);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(3));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::Any];
    params.subject_alt_names = vec![SanType::DnsName("matls-auth.directory.energydata.org.uk".try_into().unwrap())];
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();

    let (status, body) = sign(&server, csr.into(), "application/pkcs10", "?validity_days=30").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let der = pem_der(body["certificate"].as_str().unwrap());
    let (_, cert) = parse_x509_certificate(&der).unwrap();
    let bc = cert.basic_constraints().unwrap().expect("basicConstraints present").value;
    assert!(!bc.ca, "never a CA");
    assert!(bc.path_len_constraint.is_none());
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && !ku.key_cert_sign() && !ku.crl_sign());
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth && !eku.any);
    assert!(cert.subject_alternative_name().unwrap().is_none(), "requested names are not copied");
    let ids: Vec<String> = cert.extensions().iter().map(|e| e.oid.to_id_string()).collect();
    assert!(ids.contains(&"2.5.29.35".into()) && ids.contains(&"2.5.29.14".into()), "AKI and SKI: {ids:?}");
    // Signed by the dev CA, subject kept as oe_keygen wrote it.
    let ca_der = pem_der(server.ca_pem());
    let (_, ca) = parse_x509_certificate(&ca_der).unwrap();
    assert_eq!(cert.issuer(), ca.subject());
    assert!(cert.verify_signature(Some(ca.public_key())).is_ok());
    assert_eq!(
        body["subject"],
        format!("C=UK, O={}, OU={}, CN={}", CONSUMER.organisation, CONSUMER.organisation_id, CONSUMER.id)
    );
    assert_eq!(body["ca"], server.ca_pem());
    assert_eq!(body["thumbprint"], mock_server::tls::thumbprint(&der));
    let days = (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp()) as f64 / 86_400.0;
    assert!((days - 30.0).abs() < 0.01, "{days}");

    // And it works: a token for the consumer with it.
    let creds = Credentials {
        client_id: CONSUMER.client_id.into(),
        cert_pem: body["certificate"].as_str().unwrap().into(),
        key_pem: key.serialize_pem(),
        thumbprint: body["thumbprint"].as_str().unwrap().into(),
    };
    token(&mtls_client(&server, Some(&creds)), &server, CONSUMER.client_id, None).await;
}

#[tokio::test]
async fn validity_is_on_the_virtual_clock() {
    let server = MockServer::start().await;
    server.clock().advance(chrono::Duration::days(400)).unwrap();
    let (csr, _) = csr_for(oe_subject(CONSUMER.organisation, CONSUMER.organisation_id, CONSUMER.id));
    let body = serde_json::json!({"csr": csr, "validity_seconds": 3600});
    let (status, issued) = sign(&server, body.to_string().into(), "application/json", "").await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let not_before: chrono::DateTime<chrono::Utc> = issued["not_before"].as_str().unwrap().parse().unwrap();
    let not_after: chrono::DateTime<chrono::Utc> = issued["not_after"].as_str().unwrap().parse().unwrap();
    let now = server.clock().now();
    assert!((now - chrono::Duration::seconds(60) - not_before).num_seconds().abs() <= 2, "{not_before} vs {now}");
    assert_eq!((not_after - not_before).num_seconds(), 3660);
}

#[tokio::test]
async fn an_rsa_key_and_csr_made_as_oe_keygen_makes_them_get_a_working_certificate() {
    let server = MockServer::start().await;
    let (csr, key_pem) = rsa_csr_for(oe_subject(CONSUMER.organisation, CONSUMER.organisation_id, CONSUMER.id));
    let (status, body) = sign(&server, csr.into(), "text/plain", "").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let creds = Credentials {
        client_id: CONSUMER.client_id.into(),
        cert_pem: body["certificate"].as_str().unwrap().into(),
        key_pem,
        thumbprint: body["thumbprint"].as_str().unwrap().into(),
    };
    let http = mtls_client(&server, Some(&creds));
    let t = token(&http, &server, CONSUMER.client_id, Some("directory:software")).await;
    let response = http.get(data_url(&server, GRID_INTENSITY)).bearer_auth(&t).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let issued = events_of_kind(&server, "token.issued");
    assert_eq!(issued[0]["bound_to"], creds.thumbprint.as_str());
}

#[tokio::test]
async fn malformed_csrs_pem_garbage_and_oversized_inputs_get_clear_errors() {
    let server = MockServer::start().await;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "empty"),
        (b"hello, I am not a CSR".to_vec(), "no PEM block"),
        (b"-----BEGIN CERTIFICATE REQUEST-----\n%%%% not base64 %%%%\n-----END CERTIFICATE REQUEST-----\n".to_vec(), "not valid base64"),
        (b"-----BEGIN CERTIFICATE REQUEST-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END CERTIFICATE REQUEST-----\n".to_vec(), "not a PKCS#10"),
        (b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n".to_vec(), "no '-----END CERTIFICATE REQUEST-----' line"),
        (vec![0x30, 0x82, 0xff, 0xff, 0x01], "not a PKCS#10"),
        (vec![0xff; 300], "neither PEM text nor DER"),
    ];
    for (body, expected) in cases {
        let (status, answer) = sign(&server, body.clone().into(), "application/pkcs10", "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{expected}: {answer}");
        assert_eq!(answer["error"], "bad_csr", "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(expected), "{expected:?} not in {message:?}");
    }

    // A private key sent by mistake: named, never echoed.
    let key = KeyPair::generate().unwrap().serialize_pem();
    let (status, answer) = sign(&server, key.clone().into(), "text/plain", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("PRIVATE KEY") && message.contains("keep it to yourself"), "{message}");
    assert!(!message.contains(&key[30..70]));

    // A CSR whose signature no longer matches.
    let (csr, _) = csr_for(oe_subject("Org", "org", "statement"));
    let mut der = pem_der(&csr);
    let at = der.windows(9).position(|w| w == b"statement").unwrap();
    der[at] = b'S';
    let (status, answer) = sign(&server, der.into(), "application/pkcs10", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["message"].as_str().unwrap().contains("signature does not verify"), "{answer}");

    // Oversized: 413 from the body limit, or bad_csr past the CSR limit.
    let (status, answer) = sign(&server, vec![b'A'; 200 * 1024].into(), "text/plain", "").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["error"], "bad_request");
    let (status, answer) = sign(&server, vec![b'A'; 20 * 1024].into(), "text/plain", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["message"].as_str().unwrap().contains("a few kilobytes"), "{answer}");

    // Bad parameters.
    let (csr, _) = csr_for(oe_subject("Org", "org", "statement"));
    for (body, content_type, query) in [
        (
            serde_json::json!({"csr": csr, "validity_days": 1, "validity_seconds": 1}).to_string(),
            "application/json",
            "",
        ),
        (serde_json::json!({"certificate_request": csr}).to_string(), "application/json", ""),
        ("{not json".to_owned(), "application/json", ""),
        (csr.clone(), "text/plain", "?validity_days=many"),
        (csr.clone(), "text/plain", "?validity_days=0"),
        (csr.clone(), "text/plain", "?validity_days=100000"),
    ] {
        let (status, answer) = sign(&server, body.into(), content_type, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"], "bad_request", "{answer}");
    }
}

#[tokio::test]
async fn the_cli_signs_with_the_ca_the_server_uses() {
    let dir = std::env::temp_dir().join(format!("oe-cli-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_mock-server");
    let (csr, key_pem) = csr_for(oe_subject(CONSUMER.organisation, CONSUMER.organisation_id, CONSUMER.id));
    let csr_path = dir.join("oe.csr");
    std::fs::write(&csr_path, &csr).unwrap();
    let out = dir.join("oe.pem");
    let run = Command::new(bin)
        .args(["certs", "sign-csr", "--days", "7", "--certs-dir"])
        .arg(dir.join("certs"))
        .arg("--out")
        .arg(&out)
        .arg(&csr_path)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let summary = String::from_utf8_lossy(&run.stderr);
    assert!(summary.contains(&format!("CN={}", CONSUMER.id)) && summary.contains("x5t#S256"), "{summary}");
    let cert_pem = std::fs::read_to_string(&out).unwrap();
    let cert_der = pem_der(&cert_pem);
    let (_, cert) = parse_x509_certificate(&cert_der).unwrap();
    assert!(!cert.basic_constraints().unwrap().unwrap().value.ca);

    // A server on the same certs directory accepts it.
    let server = MockServer::builder().certs_dir(dir.join("certs")).start().await.unwrap();
    let creds = Credentials {
        client_id: CONSUMER.client_id.into(),
        thumbprint: mock_server::tls::thumbprint(&pem_der(&cert_pem)),
        cert_pem,
        key_pem,
    };
    token(&mtls_client(&server, Some(&creds)), &server, CONSUMER.client_id, None).await;

    // Garbage: exit 2 with the reason; nothing on stdout.
    let garbage = dir.join("garbage.csr");
    std::fs::write(&garbage, "not a csr").unwrap();
    let run = Command::new(bin)
        .args(["certs", "sign-csr", "--certs-dir"])
        .arg(dir.join("certs"))
        .arg(&garbage)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stdout.is_empty());
    assert!(String::from_utf8_lossy(&run.stderr).contains("no PEM block"), "{}", String::from_utf8_lossy(&run.stderr));
    server.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_directory_lists_the_certificates_signed_for_a_statement() {
    let server = MockServer::start().await;
    let mine = credentials(&server, CONSUMER);
    let _other = credentials(&server, PROVIDER);
    let http = mtls_client(&server, Some(&mine));
    let t = token(&http, &server, CONSUMER.client_id, Some("directory:software")).await;
    let path = format!("/organisations/{}/softwarestatements/{}/certificates", CONSUMER.organisation_id, CONSUMER.id);
    let (status, _, body) = json(http.get(directory_url(&server, &path)).bearer_auth(&t).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let certs = body.as_array().unwrap();
    assert_eq!(certs.len(), 1, "{body}");
    assert_eq!(certs[0]["x5thash256"], mine.thumbprint.as_str());
    assert_eq!(certs[0]["Status"], "Active");
    assert_eq!(certs[0]["CertificateType"], "TRANSPORT");
    assert_eq!(certs[0]["kty"], "EC");
    server.clock().advance(chrono::Duration::days(366)).unwrap();
    let fresh = credentials(&server, CONSUMER);
    let http = mtls_client(&server, Some(&fresh));
    let t = token(&http, &server, CONSUMER.client_id, Some("directory:software")).await;
    let (_, _, body) = json(http.get(directory_url(&server, &path)).bearer_auth(&t).send().await.unwrap()).await;
    let statuses: Vec<&str> = body.as_array().unwrap().iter().map(|c| c["Status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["Expired", "Active"]);
}
