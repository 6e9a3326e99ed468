//! `/__admin/sms`: the text messages the mock sent (SMS login codes), read and cleared.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::reply::error;
use super::state::AdminState;
use crate::outbox::SmsFilter;

/// `GET /__admin/sms?provider=&to=&since=`: the text messages the mock sent (SMS login codes).
pub async fn sms(
    State(s): State<AdminState>,
    filter: Result<Query<SmsFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(filter) = match filter {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", format!("query: {}", e.body_text())),
    };
    Json(json!({"messages": s.ns.sms().messages(&filter)})).into_response()
}

pub async fn clear_sms(State(s): State<AdminState>) -> Response {
    s.ns.sms().clear();
    StatusCode::NO_CONTENT.into_response()
}
