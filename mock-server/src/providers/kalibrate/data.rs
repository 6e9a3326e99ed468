//! The Kalibrate Data API: `GET /api/status`, queries over collections, and imports.
//!
//! In front of every route, as the real gateway: the User-Agent rule (docs/providers/kalibrate.md#user-agent-rule: python-requests'
//! default agent is rejected, 403), then the bearer token (RS256 against our key, `iss` of a
//! known tenant, `aud` of one of its APIs, `nbf`/`exp` on the virtual clock; 401 with
//! `WWW-Authenticate: Bearer` otherwise). Error bodies follow Azure API Management:
//! `{"statusCode": n, "message": "..."}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::Extension;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::aad::{v1_issuer, AccessClaims};
use super::fixtures::COLLECTIONS;
use super::provider::Kalibrate;
use super::query;
use crate::journal::EventKind;
use crate::contract::ServiceRoute;
use crate::wire::{read_body, Authorization};

pub const MAX_IMPORT_BODY: usize = 4 * 1024 * 1024;
pub const MAX_IMPORT_RECORDS: usize = 10_000;

/// Field length limits of the import endpoints (Kalibrate public portal).
const FIELD_LIMITS: &[(&str, usize)] =
    &[("brand", 100), ("siteID", 20), ("productCode", 20), ("source", 20), ("origin", 50), ("currencyUnit", 3)];

/// Import kinds: path segment → (collection, entityVariant).
const IMPORT_KINDS: &[(&str, &str, &str)] = &[
    ("ownPrice", "price", "Own"),
    ("competitorPrice", "price", "Competitor"),
    ("proposedPrice", "price", "Proposed"),
    ("costPrice", "price", "Cost"),
    ("dealerPrice", "price", "Dealer"),
    ("salesVolume", "volume", "Sales"),
];

pub fn api_error(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    let mut r =
        Response::new(Body::from(json!({"statusCode": status.as_u16(), "message": message.into()}).to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

fn json_ok(body: Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

/// The Data API's sandpit host: what the mock's own URLs for the service stand for.
pub const SANDPIT_HOST: &str = "dev.data.thekalibratecloud.com";

/// A caller the gateway let through.
pub struct Caller {
    pub token: String,
    pub claims: AccessClaims,
}

/// The gateway's checks. On refusal, records why and returns the answer to send.
pub fn admit(
    k: &Kalibrate,
    route: &ServiceRoute,
    headers: &HeaderMap,
    endpoint: &str,
) -> Result<Caller, Response<Body>> {
    let deny = |status: StatusCode, reason: String, client_id: Option<String>, message: &str| {
        k.ns.record(
            route,
            EventKind::ApiDenied { endpoint: endpoint.to_owned(), status: status.as_u16(), reason, client_id },
        );
        api_error(status, message)
    };
    let fixtures = k.fixtures();
    let agent = headers.get(header::USER_AGENT).map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase());
    if let Some(agent) = &agent {
        if let Some(prefix) =
            fixtures.rejected_user_agents.iter().find(|p| agent.starts_with(&p.to_ascii_lowercase()))
        {
            return Err(deny(
                StatusCode::FORBIDDEN,
                format!("User-Agent starts with '{prefix}', which the gateway rejects"),
                None,
                "Forbidden: the API gateway rejects this User-Agent. Set a User-Agent of your own.",
            ));
        }
    }
    const UNAUTHORIZED: &str = "Unauthorized. Access token is missing or invalid.";
    let token = match Authorization::from_headers(headers) {
        Ok(Some(Authorization::Bearer(t))) => t,
        Ok(None) => return Err(deny(StatusCode::UNAUTHORIZED, "no Authorization header".into(), None, UNAUTHORIZED)),
        Ok(Some(_)) => {
            return Err(deny(
                StatusCode::UNAUTHORIZED,
                "Authorization is not a Bearer token".into(),
                None,
                UNAUTHORIZED,
            ))
        }
        Err(e) => return Err(deny(StatusCode::UNAUTHORIZED, e.to_string(), None, UNAUTHORIZED)),
    };
    let claims: AccessClaims = match k.signer.verify(&token).map(serde_json::from_value) {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            return Err(deny(
                StatusCode::UNAUTHORIZED,
                format!("token claims are not an Azure AD v1.0 access token: {e}"),
                None,
                UNAUTHORIZED,
            ))
        }
        Err(e) => {
            return Err(deny(StatusCode::UNAUTHORIZED, format!("token signature or format: {e}"), None, UNAUTHORIZED))
        }
    };
    let client = Some(claims.appid.clone());
    let tenant = fixtures.tenant(&claims.tid);
    if tenant.is_none() || claims.iss != v1_issuer(&claims.tid) || claims.ver != "1.0" {
        return Err(deny(
            StatusCode::UNAUTHORIZED,
            format!("issuer '{}' is not a known tenant", claims.iss),
            client,
            UNAUTHORIZED,
        ));
    }
    if !tenant.is_some_and(|t| t.apis.iter().any(|a| a.audience == claims.aud)) {
        return Err(deny(
            StatusCode::UNAUTHORIZED,
            format!("audience '{}' is not this API", claims.aud),
            client,
            UNAUTHORIZED,
        ));
    }
    // Each data host serves the API named in the audience (`api://<host>/<id>`): a production
    // token is worthless at the sandpit host and the other way round. The mock's own URLs stand
    // for the sandpit host, the real base URL they replace.
    let audience_host =
        claims.aud.strip_prefix("api://").and_then(|rest| rest.split('/').next()).filter(|h| h.contains('.'));
    let called = route.real_host.as_deref().unwrap_or(SANDPIT_HOST);
    if let Some(wanted) = audience_host {
        if !called.eq_ignore_ascii_case(wanted) {
            return Err(deny(
                StatusCode::UNAUTHORIZED,
                format!("token for '{}' presented to {called}", claims.aud),
                client,
                UNAUTHORIZED,
            ));
        }
    }
    let now = k.ns.clock.unix();
    if claims.exp <= now {
        return Err(deny(
            StatusCode::UNAUTHORIZED,
            format!("token expired {} s ago", now - claims.exp),
            client,
            UNAUTHORIZED,
        ));
    }
    if claims.nbf > now {
        return Err(deny(
            StatusCode::UNAUTHORIZED,
            format!("token not valid for another {} s", claims.nbf - now),
            client,
            UNAUTHORIZED,
        ));
    }
    k.ns.record(
        route,
        EventKind::ApiAuthorized {
            endpoint: endpoint.to_owned(),
            client_id: claims.appid.clone(),
            token_id: claims.uti.clone(),
        },
    );
    Ok(Caller { token, claims })
}

/// `GET /api/status` (docs/providers/kalibrate.md#status-endpoint): echoes what the gateway learned from the token.
///
/// `tenantId` follows Kalibrate's example (docs/providers/kalibrate.md#status-endpoint), where it is the GUID that ends the audience
/// (`api://dev.data.thekalibratecloud.com/<guid>`: Kalibrate's id for the customer), not the
/// Azure AD `tid`; an audience without a trailing GUID falls back to `tid`.
pub async fn status(
    State(k): State<Arc<Kalibrate>>,
    Extension(route): Extension<ServiceRoute>,
    headers: HeaderMap,
) -> Response<Body> {
    let caller = match admit(&k, &route, &headers, "/api/status") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let expires = Utc.timestamp_opt(caller.claims.exp, 0).single().unwrap_or_default();
    json_ok(json!({
        "token": caller.token,
        "audience": caller.claims.aud,
        "issuer": caller.claims.iss,
        "version": caller.claims.ver,
        "clientId": caller.claims.appid,
        "tenantId": customer_tenant(&caller.claims.aud).unwrap_or(&caller.claims.tid),
        "expirationTime": expires.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
    }))
}

fn customer_tenant(audience: &str) -> Option<&str> {
    audience.rsplit('/').next().filter(|last| super::fixtures::is_guid(last))
}

/// `GET /api/{collection}?query=...`
pub async fn collection(
    State(k): State<Arc<Kalibrate>>,
    Extension(route): Extension<ServiceRoute>,
    Path(collection): Path<String>,
    params: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response<Body> {
    let endpoint = format!("/api/{collection}");
    if let Err(r) = admit(&k, &route, &headers, &endpoint) {
        return r;
    }
    let name = collection.to_ascii_lowercase();
    if !COLLECTIONS.contains(&name.as_str()) {
        return api_error(
            StatusCode::NOT_FOUND,
            format!("Resource not found: no collection '{collection}'. Collections: {}.", COLLECTIONS.join(", ")),
        );
    }
    let Ok(Query(params)) = params else {
        return api_error(StatusCode::BAD_REQUEST, "The query string is not valid URL encoding.");
    };
    // Controls may also come as their own parameters.
    let mut text = params.get("query").cloned().unwrap_or_default();
    for control in ["orderBy", "direction", "limit", "offset"] {
        if let Some((_, v)) = params.iter().find(|(k, _)| k.eq_ignore_ascii_case(control)) {
            text.push_str(&format!("({control}={v})"));
        }
    }
    let query = match query::parse(&text) {
        Ok(q) => q,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, format!("Invalid query: {e}")),
    };
    let fixtures = k.fixtures();
    let empty = Vec::new();
    let docs = fixtures.documents.get(&name).unwrap_or(&empty);
    let result = k.store.with_documents(docs, &name, |it| query.run(it));
    json_ok(Value::Array(result))
}

/// `POST /api/import/{kind}`: a JSON array of records (or one record); needs ReadWrite.
pub async fn import(
    State(k): State<Arc<Kalibrate>>,
    Extension(route): Extension<ServiceRoute>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let endpoint = format!("/api/import/{kind}");
    let caller = match admit(&k, &route, &headers, &endpoint) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(&(_, collection, variant)) = IMPORT_KINDS.iter().find(|(name, _, _)| name.eq_ignore_ascii_case(&kind))
    else {
        let kinds: Vec<&str> = IMPORT_KINDS.iter().map(|k| k.0).collect();
        return api_error(
            StatusCode::NOT_FOUND,
            format!("Resource not found: no import '{kind}'. Imports: {}.", kinds.join(", ")),
        );
    };
    if !caller.claims.roles.iter().any(|r| r.eq_ignore_ascii_case("ReadWrite")) {
        k.ns.record(
            &route,
            EventKind::ApiDenied {
                endpoint,
                status: 403,
                reason: format!("token roles {:?} lack ReadWrite", caller.claims.roles),
                client_id: Some(caller.claims.appid.clone()),
            },
        );
        return api_error(StatusCode::FORBIDDEN, "Forbidden: imports need ReadWrite credentials.");
    }
    let bytes = match read_body(body, MAX_IMPORT_BODY).await {
        Ok(b) => b,
        Err(e) => return api_error(StatusCode::PAYLOAD_TOO_LARGE, format!("Invalid import: {e}.")),
    };
    let records = match parse_records(&bytes) {
        Ok(r) => r,
        Err(message) => return api_error(StatusCode::BAD_REQUEST, format!("Invalid import: {message}")),
    };
    let operation_id = uuid::Uuid::new_v4().to_string();
    let now = k.ns.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let count = records.len();
    let docs = records
        .into_iter()
        .map(|mut r| {
            let obj = r.as_object_mut().expect("checked to be objects");
            obj.entry("id").or_insert_with(|| json!(uuid::Uuid::new_v4().to_string()));
            obj.insert("entityVariant".into(), json!(variant));
            obj.insert("importedTime".into(), json!(now));
            obj.insert("operationId".into(), json!(operation_id));
            r
        })
        .collect();
    k.store.insert(collection, docs, k.fixtures().max_imported_documents);
    k.ns.record(
        &route,
        EventKind::DataWritten {
            collection: collection.into(),
            count,
            operation_id: operation_id.clone(),
            client_id: caller.claims.appid,
        },
    );
    json_ok(json!({"operationId": operation_id, "count": count}))
}

/// Checks an import body: JSON objects within the field limits.
pub fn parse_records(bytes: &[u8]) -> Result<Vec<Value>, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("the body is not JSON ({e})."))?;
    let records = match value {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => return Err("send a JSON array of records.".into()),
    };
    if records.is_empty() {
        return Err("the array is empty.".into());
    }
    if records.len() > MAX_IMPORT_RECORDS {
        return Err(format!("{} records; at most {MAX_IMPORT_RECORDS} per request.", records.len()));
    }
    for (i, r) in records.iter().enumerate() {
        let obj = r.as_object().ok_or_else(|| format!("record {i} is not a JSON object."))?;
        for (field, limit) in FIELD_LIMITS {
            let Some((name, v)) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(field)) else { continue };
            match v {
                Value::String(s) if s.chars().count() > *limit => {
                    return Err(format!(
                        "record {i}: {name} has {} characters; at most {limit} are allowed.",
                        s.chars().count()
                    ))
                }
                Value::String(_) | Value::Null => {}
                _ => return Err(format!("record {i}: {name} must be a string.")),
            }
        }
    }
    Ok(records)
}

pub async fn not_found() -> Response<Body> {
    api_error(StatusCode::NOT_FOUND, "Resource not found.")
}

pub async fn method_not_allowed() -> Response<Body> {
    api_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn import_limits_are_enforced() {
        assert!(parse_records(br#"[{"siteID":"S1","brand":"B","currencyUnit":"GBP"}]"#).is_ok());
        let e = parse_records(br#"[{"siteID":"S1"},{"currencyUnit":"POUND"}]"#).unwrap_err();
        assert!(e.contains("record 1") && e.contains("currencyUnit"), "{e}");
        assert!(parse_records(b"[]").is_err());
        assert!(parse_records(b"3").is_err());
        assert!(parse_records(b"{nope").unwrap_err().contains("not JSON"));
        assert!(parse_records(br#"[{"brand": 5}]"#).unwrap_err().contains("must be a string"));
    }

    proptest! {
        #[test]
        fn import_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_records(&body);
        }
    }
}
