//! `POST /__admin/certificates`, the directory's CSR upload.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::reply::{error, read_admin_body};
use super::state::AdminState;
use crate::tls::{Validity, DEFAULT_CLIENT_CERT_DAYS, MAX_CSR_BYTES, MAX_VALIDITY_SECONDS};

/// `POST /__admin/certificates`, the directory's CSR upload: signs a certificate signing request
/// into an end-entity client certificate (`CertAuthority::sign_csr`: whatever the request asks
/// for, never a CA), valid from now on the virtual clock. The body is the CSR itself (PEM or
/// DER; `?validity_days=` / `?validity_seconds=`), or JSON `{"csr": PEM, "validity_days": n}`.
pub async fn sign_certificate(
    State(s): State<AdminState>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(Query(query)) = query else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "the query string is not valid URL encoding");
    };
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct CertificateRequest {
        #[serde(default)]
        csr: String,
        validity_days: Option<i64>,
        validity_seconds: Option<i64>,
    }
    let bytes = match read_admin_body(body, 4 * MAX_CSR_BYTES).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    let (csr, request) = if is_json {
        match serde_json::from_slice::<CertificateRequest>(&bytes) {
            Ok(r) => (bytes::Bytes::from(r.csr.clone().into_bytes()), r),
            Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", format!("invalid JSON body: {e}; send {{\"csr\": \"-----BEGIN CERTIFICATE REQUEST-----...\"}} or the CSR itself")),
        }
    } else {
        let number = |name: &str| query.get(name).map(|v| v.parse::<i64>().map_err(|_| name.to_owned()));
        match (number("validity_days").transpose(), number("validity_seconds").transpose()) {
            (Ok(validity_days), Ok(validity_seconds)) => {
                (bytes, CertificateRequest { csr: String::new(), validity_days, validity_seconds })
            }
            (Err(name), _) | (_, Err(name)) => {
                return error(StatusCode::BAD_REQUEST, "bad_request", format!("{name} must be a whole number"))
            }
        }
    };
    let seconds = match (request.validity_days, request.validity_seconds) {
        (Some(_), Some(_)) => {
            return error(StatusCode::BAD_REQUEST, "bad_request", "give validity_days or validity_seconds, not both")
        }
        (Some(days), None) => days.saturating_mul(86_400),
        (None, Some(seconds)) => seconds,
        (None, None) => DEFAULT_CLIENT_CERT_DAYS * 86_400,
    };
    if !(1..=MAX_VALIDITY_SECONDS).contains(&seconds) {
        return error(StatusCode::BAD_REQUEST, "bad_request", "the validity must be from 1 second to 10 years");
    }
    let validity = Validity::starting(s.ns.clock().now(), seconds);
    match s.ns.tls.ca.sign_csr(&csr, validity) {
        Ok(issued) => {
            let mut body = serde_json::to_value(&issued).unwrap_or_default();
            body["ca"] = json!(s.ns.tls.ca.cert_pem);
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "bad_csr", e.to_string()),
    }
}
