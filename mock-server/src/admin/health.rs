//! `GET /__admin/health`, `/__admin/endpoints` and `/__admin/openapi.json`: is the server up,
//! where is everything, and what the admin API is.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::reply::error;
use super::state::AdminState;

/// 200 `"status": "ok"`, or 503 `"status": "failing"` with the `failures` once a part of the
/// server stopped (the MQTT engine, say): a server that cannot serve says so.
pub async fn health(State(s): State<AdminState>) -> Response {
    let failures = s.condition.failures();
    let (code, status) =
        if failures.is_empty() { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "failing") };
    let mut body = json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": s.started.elapsed().as_secs_f64(),
        "events": s.ns.journal().len(),
    });
    if !failures.is_empty() {
        body["failures"] = json!(failures);
    }
    (code, Json(body)).into_response()
}

pub async fn endpoints(State(s): State<AdminState>) -> Response {
    match s.ns.endpoints_if_bound() {
        Some(e) => Json(e).into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "starting", "listeners are still binding"),
    }
}

pub async fn openapi() -> Response {
    ([("content-type", "application/json")], include_str!("openapi.json")).into_response()
}
