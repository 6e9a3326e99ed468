//! The directory API (`openenergy.directory`, matls-dirapi.directory.energydata.org.uk): the
//! read API the package's `RaidiamDirectory` uses, behind the same checks as a resource server
//! (`resource.rs`) with scope `directory:software`.
//!
//! `GET organisations` (`{"content": [...]}`, paged like the directory), `organisations/{org}`,
//! `.../softwarestatements` (an array), `.../softwarestatements/{ss}`, `.../{ss}/certificates`
//! (the certificates this server signed for that statement: subject `OU=<org>, CN=<ss>`) and
//! `.../{ss}/assertion` (the software statement assertion, an RS256 JWT as text, verifiable with
//! the authorization server's JWKS). Keys are PascalCase as the directory writes them, and map
//! onto the package's `raidiam` dataclasses (which read `CreatedOn` as `%Y-%m-%dT%H:%M:%S.%fZ`).
//! Errors: `{"errors": [{"code", "title", "detail"}]}`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use axum::Extension;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use super::fixtures::{Fixtures, Organisation, SoftwareStatement};
use super::resource::{admit, Protected};
use super::provider::OpenEnergy;
use crate::contract::ServiceRoute;
use crate::contract::ConnInfo;
use crate::tls::{certificate_details, IssuedCertificate};

/// The scope the directory API requires.
pub const DIRECTORY_SCOPE: &str = "directory:software";

fn json_response(status: StatusCode, body: Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error(status: StatusCode, code: &str, detail: String) -> Response<Body> {
    let title = status.canonical_reason().unwrap_or("Error");
    json_response(status, json!({"errors": [{"code": code, "title": title, "detail": detail}]}))
}

/// Every path of the directory API.
pub async fn directory(
    State(oe): State<Arc<OpenEnergy>>,
    Extension(route): Extension<ServiceRoute>,
    conn: Option<Extension<ConnInfo>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let segments: Vec<String> = uri
        .path()
        .trim_matches('/')
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    if segments.first() != Some(&"organisations") {
        return error(StatusCode::NOT_FOUND, "NotFound", format!("no directory resource at {}", uri.path()));
    }
    if method != Method::GET && method != Method::HEAD {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not part of the read API the mock serves"),
        );
    }
    let what = Protected { endpoint: uri.path(), scope: Some(DIRECTORY_SCOPE), proxy_header: false };
    if let Err(refused) = admit(&oe, &route, conn.as_ref().map(|c| &c.0), &uri, &headers, &what) {
        return refused;
    }
    let fixtures = oe.fixtures();
    let f = &fixtures;
    // Lookups fail with what was not found; that becomes a 404 at the end.
    let org = |id: &str| f.organisation(id).ok_or_else(|| format!("organisation '{id}' not found"));
    let statement = |o: &'_ Organisation, id: &str| -> Result<SoftwareStatement, String> {
        o.software_statements
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .ok_or_else(|| format!("software statement '{id}' not found in organisation '{}'", o.id))
    };
    let result = match segments.as_slice() {
        ["organisations"] => Ok(organisations_page(f)),
        ["organisations", o] => org(o).map(|o| json_response(StatusCode::OK, organisation(o))),
        ["organisations", o, "softwarestatements"] => org(o).map(|o| {
            json_response(
                StatusCode::OK,
                Value::Array(o.software_statements.iter().map(|s| software_statement(o, s)).collect()),
            )
        }),
        ["organisations", o, "softwarestatements", s] => {
            org(o).and_then(|o| statement(o, s).map(|s| json_response(StatusCode::OK, software_statement(o, &s))))
        }
        ["organisations", o, "softwarestatements", s, "certificates"] => org(o).and_then(|o| {
            statement(o, s).map(|s| {
                let now = oe.ns.clock.now();
                let certs =
                    oe.ns.tls.ca.issued().into_iter().filter_map(|c| certificate(f, o, &s, &c, now)).collect();
                json_response(StatusCode::OK, Value::Array(certs))
            })
        }),
        ["organisations", o, "softwarestatements", s, "assertion"] => org(o).and_then(|o| {
            statement(o, s).map(|s| {
                let now = oe.ns.clock.unix();
                let claims = json!({
                    "iss": "Open Energy Directory (mock-server)",
                    "iat": now,
                    "jti": uuid::Uuid::new_v4().to_string(),
                    "software_id": s.id,
                    "software_client_id": s.client_id,
                    "software_client_name": s.client_name,
                    "software_client_description": s.description,
                    "software_environment": s.environment,
                    "software_mode": s.mode,
                    "software_roles": s.roles,
                    "software_status": s.status,
                    "org_id": o.id,
                    "org_name": o.name,
                    "org_status": o.status,
                    "organisation_competent_authority_claims": [],
                });
                let mut r = Response::new(Body::from(oe.signer.sign(&claims)));
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwt"));
                r
            })
        }),
        _ => Err(format!("no directory resource at {}", uri.path())),
    };
    result.unwrap_or_else(|detail| error(StatusCode::NOT_FOUND, "NotFound", detail))
}

fn organisations_page(f: &Fixtures) -> Response<Body> {
    let content: Vec<Value> = f.organisations.iter().map(organisation).collect();
    let n = content.len();
    json_response(
        StatusCode::OK,
        json!({
            "content": content,
            "pageable": {"sort": {"sorted": false, "unsorted": true, "empty": true}, "pageNumber": 0, "pageSize": n.max(1),
                         "offset": 0, "paged": true, "unpaged": false},
            "totalPages": 1, "totalElements": n, "last": true, "size": n.max(1), "number": 0,
            "sort": {"sorted": false, "unsorted": true, "empty": true},
            "numberOfElements": n, "first": true, "empty": n == 0,
        }),
    )
}

fn organisation(o: &Organisation) -> Value {
    json!({
        "OrganisationId": o.id,
        "Status": o.status,
        "OrganisationName": o.name,
        "CreatedOn": o.created_on,
        "LegalEntityName": o.legal_entity_name.as_deref().unwrap_or(&o.name),
        "CountryOfRegistration": o.country_of_registration,
        "CompanyRegister": o.company_register,
        "RegistrationNumber": o.registration_number,
        "RegistrationId": o.registration_number,
        "RegisteredName": o.legal_entity_name.as_deref().unwrap_or(&o.name),
        "AddressLine1": o.address_line1,
        "AddressLine2": "",
        "City": o.city,
        "Postcode": o.postcode,
        "Country": o.country,
        "ParentOrganisationReference": "",
        "RequiresParticipantTermsAndConditionsSigning": false,
    })
}

fn software_statement(o: &Organisation, s: &SoftwareStatement) -> Value {
    json!({
        "ClientId": s.client_id,
        "ClientName": s.client_name,
        "Description": s.description,
        "Environment": s.environment,
        "OrganisationId": o.id,
        "SoftwareStatementId": s.id,
        "Mode": s.mode,
        "RtsClientCreated": true,
        "OnBehalfOf": "",
        "PolicyUri": "",
        "ClientUri": "",
        "LogoUri": "",
        "RedirectUri": [],
        "TermsOfServiceUri": "",
        "Version": 1,
        "Locked": false,
        "Status": s.status,
        "Roles": s.roles,
        "AdditionalSoftwareMetadata": serde_json::to_string(&s.metadata).unwrap_or_default(),
    })
}

/// A signed certificate, if it is one of this statement's TRANSPORT certificates.
fn certificate(
    f: &Fixtures,
    o: &Organisation,
    s: &SoftwareStatement,
    issued: &IssuedCertificate,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Value> {
    let details = certificate_details(&issued.der).ok()?;
    if details.attribute("OU") != Some(o.id.as_str()) || details.attribute("CN") != Some(s.id.as_str()) {
        return None;
    }
    let status = if f.revocation(&issued.thumbprint, &issued.serial).is_some() {
        "Revoked"
    } else if now >= details.not_after {
        "Expired"
    } else {
        "Active"
    };
    let strip = |b: &[u8]| URL_SAFE_NO_PAD.encode(b.iter().skip_while(|x| **x == 0).copied().collect::<Vec<u8>>());
    let parsed = x509_parser::parse_x509_certificate(&issued.der).ok();
    let (kty, n, e) = match parsed.as_ref().map(|(_, c)| c.public_key().parsed()) {
        Some(Ok(x509_parser::public_key::PublicKey::RSA(rsa))) => ("RSA", strip(rsa.modulus), strip(rsa.exponent)),
        _ => ("EC", String::new(), String::new()),
    };
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    Some(json!({
        "OrganisationId": o.id,
        "SoftwareStatementIds": [s.id],
        "ClientName": s.client_name,
        "Status": status,
        "CertificateType": "TRANSPORT",
        "ValidFromDateTime": time(details.not_before),
        "ExpiryDateTime": time(details.not_after),
        "SerialNumber": issued.serial,
        "e": e,
        "keyType": kty,
        "kid": issued.thumbprint,
        "kty": kty,
        "n": n,
        "use": "tls",
        "x5c": [STANDARD.encode(&issued.der)],
        "x5t": URL_SAFE_NO_PAD.encode(Sha1::digest(&issued.der)),
        "x5thash256": issued.thumbprint,
        "x5u": "",
        "SignedCertPath": "",
        "JwkPath": "",
        "OrgJwkPath": "",
    }))
}
