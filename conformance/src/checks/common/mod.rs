//! Checks that hold for a client of any provider.

mod bearer_only_to_api;
mod bounded_token_requests;
mod client_outcome;
mod honours_retry_after;
mod secret_only_to_token_endpoint;

use crate::contract::Check;

pub fn all() -> Vec<&'static dyn Check> {
    vec![
        &client_outcome::ClientOutcome,
        &honours_retry_after::HonoursRetryAfter,
        &bounded_token_requests::BoundedTokenRequests,
        &secret_only_to_token_endpoint::SecretOnlyToTokenEndpoint,
        &bearer_only_to_api::BearerOnlyToApi,
    ]
}
