//! `/__admin/faults`: fault rules listed, added (one or an array, each validated), removed.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::reply::{error, parse_json};
use super::state::AdminState;
use crate::faults::FaultRule;

pub async fn list_faults(State(s): State<AdminState>) -> Response {
    Json(s.ns.faults().list()).into_response()
}

/// One rule, or an array of rules.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<Value>),
    One(Value),
}

pub async fn add_faults(State(s): State<AdminState>, headers: HeaderMap, body: Body) -> Response {
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
    let added: Vec<FaultRule> = rules.into_iter().filter_map(|r| s.ns.faults().add(r).ok()).collect();
    (StatusCode::CREATED, Json(added)).into_response()
}

pub async fn clear_faults(State(s): State<AdminState>) -> Response {
    s.ns.faults().clear();
    StatusCode::NO_CONTENT.into_response()
}

pub async fn remove_fault(State(s): State<AdminState>, Path(id): Path<String>) -> Response {
    if s.ns.faults().remove(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "not_found", format!("no fault rule with id '{id}'"))
    }
}
