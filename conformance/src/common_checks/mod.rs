//! Checks that hold for a client of any provider, one rule per file. They read provider facts
//! (which request is the token request, which service is the API) from the run's profile.

mod bearer_only_to_api;
mod bounded_token_requests;
mod client_outcome;
mod honours_retry_after;
mod secret_only_to_token_endpoint;

use crate::contract::Check;

/// In the order `conformance checks` lists them, before every provider's own.
pub const CHECKS: &[&dyn Check] = &[
    &client_outcome::ClientOutcome,
    &honours_retry_after::HonoursRetryAfter,
    &bounded_token_requests::BoundedTokenRequests,
    &secret_only_to_token_endpoint::SecretOnlyToTokenEndpoint,
    &bearer_only_to_api::BearerOnlyToApi,
];
