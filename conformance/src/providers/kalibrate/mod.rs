//! Kalibrate's registration: its profile (`profile.rs`) and its checks, one rule per file
//! (docs/providers/kalibrate.md).

mod custom_user_agent;
mod journal;
mod profile;
mod reacquires_after_expiry;
mod status_called;
mod token_by_client_credentials;
mod token_reused;

use crate::contract::Provider;

pub const PROVIDER: Provider = Provider {
    profile: profile::PROFILE,
    checks: &[
        &token_by_client_credentials::TokenByClientCredentials,
        &status_called::StatusCalled,
        &custom_user_agent::CustomUserAgent,
        &token_reused::TokenReused,
        &reacquires_after_expiry::ReacquiresAfterExpiry,
    ],
};
