//! `/__admin/runs`: the server's runs (`runs.rs`), listed, created, shown and deleted. Served in
//! front of the namespaces, on the plain HTTP listener, to requests sent to the mock itself.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::reply::error;
use crate::contract::json_response;
use crate::runs::{RunError, Runs};
use crate::wire::{read_body, BodyError};

/// `/__admin/runs`: the server's runs, listed, created, shown and deleted.
pub fn router(runs: Arc<Runs>) -> Router {
    Router::new()
        .route("/__admin/runs", get(list_runs).post(create_run))
        .route("/__admin/runs/{id}", get(show_run).delete(delete_run))
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this admin endpoint does not take that method; see /__admin/openapi.json",
            )
        })
        .with_state(runs)
}

/// The answer to a request that names a run the server does not have.
pub fn unknown_run(id: &str) -> Response<Body> {
    let message = format!(
        "there is no run '{id}' on this server: it was never created, or was deleted or evicted; create it first with POST /__admin/runs {{\"id\": \"{id}\"}}"
    );
    json_response(StatusCode::NOT_FOUND, json!({"error": "unknown_run", "message": message}))
}

pub async fn list_runs(State(runs): State<Arc<Runs>>) -> Response<Body> {
    Json(json!({"runs": runs.describe_all(), "limit": runs.limit()})).into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewRun {
    id: Option<String>,
}

/// `POST /__admin/runs` with `{"id": "job-42"}`, or no body for a generated id.
pub async fn create_run(State(runs): State<Arc<Runs>>, body: Body) -> Response<Body> {
    let bytes = match read_body(body, 64 << 10).await {
        Ok(b) => b,
        Err(e @ BodyError::TooLarge(_)) => return error(StatusCode::PAYLOAD_TOO_LARGE, "bad_request", e.to_string()),
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
    };
    let request: NewRun = if bytes.iter().all(u8::is_ascii_whitespace) {
        NewRun::default()
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("invalid JSON body: {e}; send {{\"id\": \"job-42\"}} or nothing"),
                )
            }
        }
    };
    let id = request.id.unwrap_or_else(|| format!("run-{:08x}", rand::random::<u32>()));
    match runs.create(&id).await {
        Ok(_) => {
            let mut r = (StatusCode::CREATED, Json(runs.describe(&id))).into_response();
            if let Ok(location) = HeaderValue::try_from(format!("/__admin/runs/{id}")) {
                r.headers_mut().insert(header::LOCATION, location);
            }
            r
        }
        Err(e @ RunError::Exists(_)) => error(StatusCode::CONFLICT, "run_exists", e.to_string()),
        Err(e @ RunError::BadId(_)) => error(StatusCode::BAD_REQUEST, "bad_run", e.to_string()),
        Err(e @ RunError::Fixtures(_)) => error(StatusCode::INTERNAL_SERVER_ERROR, "bad_fixtures", e.to_string()),
        Err(e @ RunError::Listeners(_)) => error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string()),
    }
}

pub async fn show_run(State(runs): State<Arc<Runs>>, Path(id): Path<String>) -> Response<Body> {
    match runs.describe(&id) {
        Some(run) => Json(run).into_response(),
        None => unknown_run(&id),
    }
}

pub async fn delete_run(State(runs): State<Arc<Runs>>, Path(id): Path<String>) -> Response<Body> {
    if runs.delete(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        unknown_run(&id)
    }
}
