//! The Knoema events its checks read, as the journal records them, and the server's diagnosis
//! of a refused signature.

use crate::contract::{EventView, Run};

/// Causes the server gives for a signature made for the wrong hour (`api.denied` reason
/// `signature rejected (<cause>): ...`).
pub(super) const HOUR_CAUSES: &[&str] = &["local time instead of UTC", "clock skew", "stale hour"];

pub(super) fn knoema<'r>(run: &'r Run, kind: &'r str) -> impl Iterator<Item = &'r EventView> {
    run.of_kind(kind).filter(|e| e.provider() == "knoema")
}

/// A rejected signature's cause, from the server's diagnosis.
pub(super) fn signature_cause(e: &EventView) -> Option<&str> {
    let reason = e.str("reason")?;
    let rest = reason.strip_prefix("signature rejected (")?;
    rest.split_once(')').map(|(cause, _)| cause)
}

/// Refusals of the signed header, whatever the cause (`api.denied` with status 403).
pub(super) fn signature_denials<'r>(run: &'r Run) -> impl Iterator<Item = &'r EventView> {
    knoema(run, "api.denied").filter(|e| e.status() == 403)
}

/// Calls let through on a valid signature.
pub(super) fn signed_calls<'r>(run: &'r Run) -> impl Iterator<Item = &'r EventView> {
    knoema(run, "api.authorized").filter(|e| e.str("token_id").is_some_and(|t| t.starts_with("signature:")))
}

/// Calls let through on the OAuth token with this id.
pub(super) fn calls_with_token<'r>(run: &'r Run, token_id: &'r str) -> impl Iterator<Item = &'r EventView> {
    knoema(run, "api.authorized").filter(move |e| e.str("token_id") == Some(token_id))
}
