//! The Open Energy events its checks read, as the journal records them.

use crate::contract::{EventView, Run};

/// Open Energy events of one kind.
pub(super) fn oe<'r>(run: &'r Run, kind: &'r str) -> impl Iterator<Item = &'r EventView> {
    run.of_kind(kind).filter(|e| e.provider() == "openenergy")
}

/// Exchanges with the resource servers (data provider, directory API).
pub(super) fn resource_calls<'r>(run: &'r Run) -> impl Iterator<Item = &'r EventView> {
    run.exchanges().filter(|e| e.provider() == "openenergy" && run.profile.is_api(e.service()))
}
