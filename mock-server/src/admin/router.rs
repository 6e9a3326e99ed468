//! The routes of a namespace's admin API.

use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Router;

use super::reply::error;
use super::state::AdminState;
use super::{certificates, clock, events, faults, fixtures, health, sms, ui};

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/__admin/health", get(health::health))
        .route("/__admin/endpoints", get(health::endpoints))
        .route("/__admin/events", get(events::events).delete(events::clear_events))
        .route("/__admin/events/stream", get(events::stream))
        .route("/__admin/ui", get(ui::page))
        .route("/__admin/faults", get(faults::list_faults).post(faults::add_faults).delete(faults::clear_faults))
        .route("/__admin/faults/{id}", delete(faults::remove_fault))
        .route("/__admin/clock", get(clock::clock).post(clock::set_clock))
        .route("/__admin/fixtures", get(fixtures::fixtures).put(fixtures::replace_fixtures))
        .route("/__admin/reset", post(fixtures::reset))
        .route("/__admin/sms", get(sms::sms).delete(sms::clear_sms))
        .route("/__admin/certificates", post(certificates::sign_certificate))
        .route("/__admin/openapi.json", get(health::openapi))
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
