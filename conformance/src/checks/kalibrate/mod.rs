//! Checks of Kalibrate clients (shared/providers/kalibrate.md and the seed).

mod custom_user_agent;
mod reacquires_after_expiry;
mod status_called;
mod token_by_client_credentials;
mod token_reused;

use crate::contract::Check;

pub fn all() -> Vec<&'static dyn Check> {
    vec![
        &token_by_client_credentials::TokenByClientCredentials,
        &status_called::StatusCalled,
        &custom_user_agent::CustomUserAgent,
        &token_reused::TokenReused,
        &reacquires_after_expiry::ReacquiresAfterExpiry,
    ]
}

/// Data API calls the gateway let through.
fn authorized_calls<'r>(run: &'r crate::contract::Run) -> impl Iterator<Item = &'r crate::contract::EventView> {
    run.of_kind("api.authorized").filter(|e| e.provider() == "kalibrate")
}
