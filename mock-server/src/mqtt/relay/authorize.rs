//! What a session may do, with the engine's own limit asked first: rumqttd's router slices the
//! first byte of a topic as a string, so a topic (or filter) starting with a non-ASCII
//! character would panic its router thread ([`topics::engine_safe`]). The gate refuses those
//! before the session is asked; the session's answer decides the rest. PUBLISH topics and
//! wills are judged by [`may_publish`], SUBSCRIBE filters by [`may_subscribe`] (a shared
//! subscription by the filter it wraps, for the engine; the session gets it as sent).

use crate::contract::{topics, Session};

/// Why a topic the engine cannot route is refused (see [`topics::engine_safe`]).
const UNSAFE: &str = "topics starting with a non-ASCII character are not routed";

/// `Err(reason)` denies a PUBLISH (or a will) to `topic`.
pub(super) fn may_publish(session: &dyn Session, topic: &str) -> Result<(), String> {
    if topics::engine_safe(topic) {
        session.may_publish(topic)
    } else {
        Err(UNSAFE.to_owned())
    }
}

/// `Err(reason)` denies a SUBSCRIBE filter.
pub(super) fn may_subscribe(session: &dyn Session, filter: &str) -> Result<(), String> {
    if topics::engine_safe(topics::unshared(filter)) {
        session.may_subscribe(filter)
    } else {
        Err(UNSAFE.to_owned())
    }
}
