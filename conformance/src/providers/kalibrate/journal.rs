//! The Kalibrate events its checks read, as the journal records them.

use crate::contract::{EventView, Run};

/// Data API calls the gateway let through.
pub(super) fn authorized_calls<'r>(run: &'r Run) -> impl Iterator<Item = &'r EventView> {
    run.of_kind("api.authorized").filter(|e| e.provider() == "kalibrate")
}
