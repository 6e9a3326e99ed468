//! `GET /__admin/events` (filtered by provider, service, kind and sequence number) and `DELETE`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::reply::error;
use super::state::AdminState;
use crate::journal::{Event, EventFilter};

pub async fn events(
    State(s): State<AdminState>,
    filter: Result<Query<EventFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(filter) = match filter {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", format!("query: {}", e.body_text())),
    };
    let journal = s.ns.journal();
    let page = Page {
        events: journal.events(&filter),
        next_seq: journal.next_seq(),
        dropped: journal.dropped(),
        capacity: journal.capacity(),
    };
    Json(page).into_response()
}

/// The answer, serialized straight from the events: a full journal through `json!` built a
/// tree of maps several times the size of the text.
#[derive(Serialize)]
struct Page {
    events: Vec<Event>,
    next_seq: u64,
    dropped: u64,
    capacity: usize,
}

pub async fn clear_events(State(s): State<AdminState>) -> Response {
    s.ns.journal().clear();
    StatusCode::NO_CONTENT.into_response()
}
