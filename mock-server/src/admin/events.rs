//! `GET /__admin/events` (filtered by provider, service, kind and sequence number) and `DELETE`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::reply::error;
use super::state::AdminState;
use crate::journal::EventFilter;

pub async fn events(
    State(s): State<AdminState>,
    filter: Result<Query<EventFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(filter) = match filter {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", format!("query: {}", e.body_text())),
    };
    Json(json!({
        "events": s.ns.journal().events(&filter),
        "next_seq": s.ns.journal().next_seq(),
        "dropped": s.ns.journal().dropped(),
        "capacity": s.ns.journal().capacity(),
    }))
    .into_response()
}

pub async fn clear_events(State(s): State<AdminState>) -> Response {
    s.ns.journal().clear();
    StatusCode::NO_CONTENT.into_response()
}
