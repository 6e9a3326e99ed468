//! Checks of Opinum clients (shared/providers/opinum.md, the seed and docs.opinum.com).

mod no_credentials_in_urls;
mod no_data_lost;
mod password_grant_both_scopes;
mod reacquires_after_401;
mod renews_before_expiry;
mod standard_push_accepted;
mod token_reused;

use crate::contract::Check;
use crate::contract::EventView;
use crate::contract::Run;

pub fn all() -> Vec<&'static dyn Check> {
    vec![
        &password_grant_both_scopes::PasswordGrantBothScopes,
        &standard_push_accepted::StandardPushAccepted,
        &no_data_lost::NoDataLost,
        &token_reused::TokenReused,
        &renews_before_expiry::RenewsBeforeExpiry,
        &reacquires_after_401::ReacquiresAfter401,
        &no_credentials_in_urls::NoCredentialsInUrls,
    ]
}

/// Opinum events of one kind.
fn opinum<'r>(run: &'r Run, kind: &'r str) -> impl Iterator<Item = &'r EventView> {
    run.of_kind(kind).filter(|e| e.provider() == "opinum")
}

/// Calls the Data Hub API or the push service let through.
fn authorized_calls<'r>(run: &'r Run) -> impl Iterator<Item = &'r EventView> {
    opinum(run, "api.authorized")
}

/// Calls refused because the token had expired.
fn expired_denials<'r>(run: &'r Run) -> impl Iterator<Item = &'r EventView> {
    opinum(run, "api.denied").filter(|e| e.str("reason").is_some_and(|r| r.starts_with("token expired")))
}
