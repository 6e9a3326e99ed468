//! The Opinum events its checks read, as the journal records them.

use crate::contract::{EventView, Run};

/// Opinum events of one kind.
pub(super) fn opinum<'r>(run: &'r Run, kind: &'r str) -> impl Iterator<Item = &'r EventView> {
    run.of_kind(kind).filter(|e| e.provider() == "opinum")
}

/// Calls the Data Hub API or the push service let through.
pub(super) fn authorized_calls<'r>(run: &'r Run) -> impl Iterator<Item = &'r EventView> {
    opinum(run, "api.authorized")
}

/// Calls refused because the token had expired.
pub(super) fn expired_denials<'r>(run: &'r Run) -> impl Iterator<Item = &'r EventView> {
    opinum(run, "api.denied").filter(|e| e.str("reason").is_some_and(|r| r.starts_with("token expired")))
}
