//! Opinum's registration: its profile (`profile.rs`) and its checks, one rule per file
//! (docs/providers/opinum.md and docs.opinum.com).

mod journal;
mod no_credentials_in_urls;
mod no_data_lost;
mod password_grant_both_scopes;
mod profile;
mod reacquires_after_401;
mod renews_before_expiry;
mod standard_push_accepted;
mod token_reused;

use crate::contract::Provider;

pub const PROVIDER: Provider = Provider {
    profile: profile::PROFILE,
    checks: &[
        &password_grant_both_scopes::PasswordGrantBothScopes,
        &standard_push_accepted::StandardPushAccepted,
        &no_data_lost::NoDataLost,
        &token_reused::TokenReused,
        &renews_before_expiry::RenewsBeforeExpiry,
        &reacquires_after_401::ReacquiresAfter401,
        &no_credentials_in_urls::NoCredentialsInUrls,
    ],
};
