//! `/__admin/clock`: the virtual clock read, and moved, set or frozen (all or nothing).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::reply::{error, parse_json};
use super::state::AdminState;
use crate::clock::ClockChange;

pub async fn clock(State(s): State<AdminState>) -> Response {
    Json(s.ns.clock().reading()).into_response()
}

/// Any combination of `set`, `offset_seconds`, `advance_seconds`, `freeze`: all or nothing.
pub async fn set_clock(State(s): State<AdminState>, headers: HeaderMap, body: Body) -> Response {
    let change: ClockChange = match parse_json(&headers, body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match s.ns.clock().apply(&change) {
        Ok(()) => Json(s.ns.clock().reading()).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "bad_request", format!("{e}; the clock was not changed")),
    }
}
