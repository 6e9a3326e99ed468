//! The IoT Open events its checks read, as the journal records them.

use crate::contract::{EventView, Run};

/// IoT Open events of one kind.
pub(super) fn iotopen<'r>(run: &'r Run, kind: &'r str) -> impl Iterator<Item = &'r EventView> {
    run.of_kind(kind).filter(|e| e.provider() == "iotopen")
}
