//! The admin API under `/__admin` (plain HTTP listener): read and clear the journal, arm and
//! disarm faults, move the virtual clock, read the loaded fixtures, reset everything, health.
//! Every answer is JSON, errors included (`{"error": ..., "message": ...}`); the OpenAPI
//! document at `/__admin/openapi.json` describes it.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock::ClockChange;
use crate::faults::FaultRule;
use crate::journal::EventFilter;
use crate::providers::Provider;
use crate::server::Endpoints;
use crate::state::Core;

#[derive(Clone)]
pub struct AdminState {
    pub core: Arc<Core>,
    pub providers: Vec<Arc<dyn Provider>>,
    pub endpoints: Arc<OnceLock<Endpoints>>,
    pub started: std::time::Instant,
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/__admin/health", get(health))
        .route("/__admin/endpoints", get(endpoints))
        .route("/__admin/events", get(events).delete(clear_events))
        .route("/__admin/faults", get(list_faults).post(add_faults).delete(clear_faults))
        .route("/__admin/faults/{id}", delete(remove_fault))
        .route("/__admin/clock", get(clock).post(set_clock))
        .route("/__admin/fixtures", get(fixtures).put(replace_fixtures))
        .route("/__admin/reset", post(reset))
        .route("/__admin/sms", get(sms).delete(clear_sms))
        .route("/__admin/certificates", post(sign_certificate))
        .route("/__admin/openapi.json", get(openapi))
        .fallback(|| async {
            error(StatusCode::NOT_FOUND, "not_found", "no such admin endpoint; see /__admin/openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this admin endpoint does not take that method; see /__admin/openapi.json",
            )
        })
        .with_state(state)
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": code, "message": message.into()}))).into_response()
}

async fn read_admin_body(body: Body, limit: usize) -> Result<bytes::Bytes, Response> {
    crate::wire::read_body(body, limit).await.map_err(|e| match e {
        crate::wire::BodyError::TooLarge(_) => error(StatusCode::PAYLOAD_TOO_LARGE, "bad_request", e.to_string()),
        crate::wire::BodyError::Unreadable(_) => error(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
    })
}

/// JSON body parsing with errors in the admin API's own shape.
async fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, Response> {
    let bytes = read_admin_body(body, 1 << 20).await?;
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.to_ascii_lowercase().contains("json"));
    if !is_json {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_request",
            "send JSON (Content-Type: application/json)",
        ));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, "bad_request", format!("invalid JSON body: {e}")))
}

async fn health(State(s): State<AdminState>) -> Response {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": s.started.elapsed().as_secs_f64(),
        "events": s.core.journal.len(),
    }))
    .into_response()
}

async fn endpoints(State(s): State<AdminState>) -> Response {
    match s.endpoints.get() {
        Some(e) => Json(e).into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "starting", "listeners are still binding"),
    }
}

async fn events(
    State(s): State<AdminState>,
    filter: Result<Query<EventFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(filter) = match filter {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", format!("query: {}", e.body_text())),
    };
    Json(json!({
        "events": s.core.journal.events(&filter),
        "next_seq": s.core.journal.next_seq(),
        "dropped": s.core.journal.dropped(),
        "capacity": s.core.journal.capacity(),
    }))
    .into_response()
}

async fn clear_events(State(s): State<AdminState>) -> Response {
    s.core.journal.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_faults(State(s): State<AdminState>) -> Response {
    Json(s.core.faults.list()).into_response()
}

/// One rule, or an array of rules.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<Value>),
    One(Value),
}

async fn add_faults(State(s): State<AdminState>, headers: HeaderMap, body: Body) -> Response {
    let values = match parse_json::<OneOrMany>(&headers, body).await {
        Ok(OneOrMany::Many(v)) => v,
        Ok(OneOrMany::One(v)) => vec![v],
        Err(r) => return r,
    };
    let mut rules = Vec::new();
    for (i, v) in values.into_iter().enumerate() {
        match serde_json::from_value::<FaultRule>(v) {
            Ok(rule) => match rule.validate() {
                Ok(()) => rules.push(rule),
                Err(e) => return error(StatusCode::BAD_REQUEST, "bad_fault", format!("rule {i}: {e}")),
            },
            Err(e) => return error(StatusCode::BAD_REQUEST, "bad_fault", format!("rule {i}: {e}")),
        }
    }
    let added: Vec<FaultRule> = rules.into_iter().filter_map(|r| s.core.faults.add(r).ok()).collect();
    (StatusCode::CREATED, Json(added)).into_response()
}

async fn clear_faults(State(s): State<AdminState>) -> Response {
    s.core.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_fault(State(s): State<AdminState>, Path(id): Path<String>) -> Response {
    if s.core.faults.remove(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "not_found", format!("no fault rule with id '{id}'"))
    }
}

async fn clock(State(s): State<AdminState>) -> Response {
    Json(s.core.clock.reading()).into_response()
}

/// Any combination of `set`, `offset_seconds`, `advance_seconds`, `freeze`: all or nothing.
async fn set_clock(State(s): State<AdminState>, headers: HeaderMap, body: Body) -> Response {
    let change: ClockChange = match parse_json(&headers, body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match s.core.clock.apply(&change) {
        Ok(()) => Json(s.core.clock.reading()).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "bad_request", format!("{e}; the clock was not changed")),
    }
}

async fn fixtures(State(s): State<AdminState>) -> Response {
    Json(json!({"source": s.core.source.name(), "fixtures": *s.core.fixtures()})).into_response()
}

/// `PUT /__admin/fixtures` with a TOML document: validated like `check-config`, then served
/// until the next reset (which reloads the fixtures the server started with).
async fn replace_fixtures(State(s): State<AdminState>, body: Body) -> Response {
    let bytes = match read_admin_body(body, 4 << 20).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return error(StatusCode::BAD_REQUEST, "bad_fixtures", "the fixtures must be UTF-8 TOML text");
    };
    match crate::config::parse("<PUT /__admin/fixtures>", text) {
        Ok(fixtures) => {
            replace_fixtures_of(&s.core, &s.providers, fixtures);
            Json(json!({"status": "replaced", "until": "the next POST /__admin/reset"})).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "bad_fixtures", e.to_string()),
    }
}

async fn reset(State(s): State<AdminState>) -> Response {
    if let Err(e) = reset_namespace(&s.core, &s.providers) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_fixtures",
            format!("fixtures not reloaded, nothing was reset:\n{e}"),
        );
    }
    Json(json!({"status": "reset", "fixtures": s.core.source.name()})).into_response()
}

/// Serves `fixtures` until the next reset; runtime state (stored data, tokens) restarts from them.
pub fn replace_fixtures_of(core: &Core, providers: &[Arc<dyn Provider>], fixtures: crate::config::Fixtures) {
    core.replace_fixtures(fixtures);
    for p in providers {
        p.reset();
    }
}

/// `POST /__admin/reset`: fixtures reloaded from their source, then tokens, stored data,
/// events, SMS, faults and clock cleared. Nothing changes when the fixtures do not load.
pub fn reset_namespace(core: &Core, providers: &[Arc<dyn Provider>]) -> Result<(), crate::config::ConfigError> {
    core.reload_fixtures()?;
    for p in providers {
        p.reset();
    }
    core.journal.clear();
    core.sms.clear();
    core.faults.clear();
    core.clock.reset();
    Ok(())
}

/// `POST /__admin/certificates`, the directory's CSR upload: signs a certificate signing request
/// into an end-entity client certificate (`CertAuthority::sign_csr`: whatever the request asks
/// for, never a CA), valid from now on the virtual clock. The body is the CSR itself (PEM or
/// DER; `?validity_days=` / `?validity_seconds=`), or JSON `{"csr": PEM, "validity_days": n}`.
async fn sign_certificate(
    State(s): State<AdminState>,
    query: Result<Query<std::collections::HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
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
    let bytes = match read_admin_body(body, 4 * crate::tls::MAX_CSR_BYTES).await {
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
        (None, None) => crate::tls::DEFAULT_CLIENT_CERT_DAYS * 86_400,
    };
    if !(1..=crate::tls::MAX_VALIDITY_SECONDS).contains(&seconds) {
        return error(StatusCode::BAD_REQUEST, "bad_request", "the validity must be from 1 second to 10 years");
    }
    let validity = crate::tls::Validity::starting(s.core.clock.now(), seconds);
    match s.core.tls.ca.sign_csr(&csr, validity) {
        Ok(issued) => {
            let mut body = serde_json::to_value(&issued).unwrap_or_default();
            body["ca"] = json!(s.core.tls.ca.cert_pem);
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "bad_csr", e.to_string()),
    }
}

/// `GET /__admin/sms?provider=&to=&since=`: the text messages the mock sent (SMS login codes).
async fn sms(
    State(s): State<AdminState>,
    filter: Result<Query<crate::outbox::SmsFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(filter) = match filter {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", format!("query: {}", e.body_text())),
    };
    Json(json!({"messages": s.core.sms.messages(&filter)})).into_response()
}

async fn clear_sms(State(s): State<AdminState>) -> Response {
    s.core.sms.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn openapi() -> Response {
    ([("content-type", "application/json")], include_str!("admin_openapi.json")).into_response()
}
