//! Checks of Knoema clients (shared/providers/knoema.md and the seed knoema-authentication.txt).

mod code_exchanged;
mod exact_redirect_uri;
mod implicit_token_used;
mod oauth_state;
mod signature_across_rollover;
mod signature_construction;
mod signature_utc_hour;
mod signed_access;

use crate::contract::Check;
use crate::contract::EventView;
use crate::contract::Run;

pub fn all() -> Vec<&'static dyn Check> {
    vec![
        &signed_access::SignedAccess,
        &signature_construction::SignatureConstruction,
        &signature_utc_hour::SignatureUtcHour,
        &signature_across_rollover::SignatureAcrossRollover,
        &oauth_state::OauthState,
        &exact_redirect_uri::ExactRedirectUri,
        &code_exchanged::CodeExchanged,
        &implicit_token_used::ImplicitTokenUsed,
    ]
}

/// Causes the server gives for a signature made for the wrong hour (`api.denied` reason
/// `signature rejected (<cause>): ...`).
const HOUR_CAUSES: &[&str] = &["local time instead of UTC", "clock skew", "stale hour"];

fn knoema<'r>(run: &'r Run, kind: &'r str) -> impl Iterator<Item = &'r EventView> {
    run.of_kind(kind).filter(|e| e.provider() == "knoema")
}

/// A rejected signature's cause, from the server's diagnosis.
fn signature_cause(e: &EventView) -> Option<&str> {
    let reason = e.str("reason")?;
    let rest = reason.strip_prefix("signature rejected (")?;
    rest.split_once(')').map(|(cause, _)| cause)
}

/// Refusals of the signed header, whatever the cause (`api.denied` with status 403).
fn signature_denials<'r>(run: &'r Run) -> impl Iterator<Item = &'r EventView> {
    knoema(run, "api.denied").filter(|e| e.status() == 403)
}

/// Calls let through on a valid signature.
fn signed_calls<'r>(run: &'r Run) -> impl Iterator<Item = &'r EventView> {
    knoema(run, "api.authorized").filter(|e| e.str("token_id").is_some_and(|t| t.starts_with("signature:")))
}

/// Calls let through on the OAuth token with this id.
fn calls_with_token<'r>(run: &'r Run, token_id: &'r str) -> impl Iterator<Item = &'r EventView> {
    knoema(run, "api.authorized").filter(move |e| e.str("token_id") == Some(token_id))
}
