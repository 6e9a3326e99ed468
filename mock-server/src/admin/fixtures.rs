//! `/__admin/fixtures` (read, or replaced until the next reset) and `POST /__admin/reset`.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::reply::{error, read_admin_body};
use super::state::AdminState;

pub async fn fixtures(State(s): State<AdminState>) -> Response {
    Json(json!({"source": s.ns.fixtures_source(), "fixtures": s.ns.document().to_json()})).into_response()
}

/// `PUT /__admin/fixtures` with a TOML document: validated like `check-config`, then served
/// until the next reset (which reloads the fixtures the server started with).
pub async fn replace_fixtures(State(s): State<AdminState>, body: Body) -> Response {
    let bytes = match read_admin_body(body, 4 << 20).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return error(StatusCode::BAD_REQUEST, "bad_fixtures", "the fixtures must be UTF-8 TOML text");
    };
    match s.ns.replace_fixtures_text("<PUT /__admin/fixtures>", text) {
        Ok(()) => Json(json!({"status": "replaced", "until": "the next POST /__admin/reset"})).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, "bad_fixtures", e.to_string()),
    }
}

/// `POST /__admin/reset`: fixtures reloaded from their source, then tokens, stored data,
/// events, SMS, faults and clock cleared. Nothing changes when the fixtures do not load.
pub async fn reset(State(s): State<AdminState>) -> Response {
    if let Err(e) = s.ns.reset() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_fixtures",
            format!("fixtures not reloaded, nothing was reset:\n{e}"),
        );
    }
    crate::memory::give_back();
    Json(json!({"status": "reset", "fixtures": s.ns.fixtures_source()})).into_response()
}
