//! Client ids as the engine sees them, for clean sessions: a small pool reused.
//!
//! rumqttd remembers the client ids it has seen (its "graveyard": the session of a persistent
//! client, and the metrics of a clean one, about 700 bytes), up to
//! [`MAX_SAVED_SESSIONS`](super::engine::MAX_SAVED_SESSIONS), the oldest forgotten first. Clients
//! that use a new id for each connection (a random id per run is common) would fill it and push
//! out the persistent sessions worth keeping. A clean session has nothing worth remembering, so
//! the gate gives it an engine id from a pool instead, and takes it back when the last
//! connection under the client's id ends: the engine then knows at most as many clean ids as
//! were ever connected at once.
//!
//! Two connections with the same client id at once get the same engine id, so the engine still
//! takes the older one over (MQTT-3.1.4-2). A session kept after its connection (3.1.1 clean
//! session 0, or an MQTT 5 Session Expiry Interval above 0) keeps its own id, which it needs to
//! be resumed. A clean connection of a client id that may have a kept session uses its own id
//! too, so that the engine discards that session as Clean Start asks [MQTT-3.1.2-4]; the ids
//! that may have one are remembered up to [`MAX_KEPT`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::bounded::BoundedMap;

/// Client ids remembered as maybe having a kept session in the engine (the oldest forgotten).
const MAX_KEPT: usize = 16_384;

/// Pool ids start so; a client's own id that starts so is not one of them but could meet one.
const POOL_PREFIX: &str = "__clean:";

#[derive(Default)]
pub struct EngineIds {
    inner: Mutex<Pool>,
}

struct Pool {
    /// Client id (as the space names it) to the engine id it is connected under and how many
    /// connections use it.
    live: HashMap<String, (String, usize)>,
    /// Pool ids no connection uses.
    free: Vec<String>,
    /// How many pool ids there are.
    minted: u64,
    /// Client ids whose session the engine may keep.
    kept: BoundedMap<String, ()>,
}

impl Default for Pool {
    fn default() -> Pool {
        Pool { live: HashMap::new(), free: Vec::new(), minted: 0, kept: BoundedMap::new(MAX_KEPT) }
    }
}

/// What a connection asks of its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionUse {
    /// Start afresh (3.1.1 clean session, 5 Clean Start), discarding a kept session.
    pub clean_start: bool,
    /// Keep the session after the connection ends.
    pub kept: bool,
}

/// The engine id one connection uses; given back when dropped.
pub struct Lease {
    ids: Arc<EngineIds>,
    /// The client's id, when it has one (connections with an empty id never take over).
    client_id: Option<String>,
    engine_id: String,
}

impl Lease {
    pub fn engine_id(&self) -> &str {
        &self.engine_id
    }
}

impl EngineIds {
    /// The engine id for a connection of `client_id` (as the space names it). A clean start
    /// whose session is not kept takes one from the pool, unless the id may have a kept
    /// session to discard; otherwise the connection keeps its own id (an empty one the
    /// engine assigns). A client id connected already shares its engine id, so that the
    /// engine takes the older connection over.
    pub fn lease(self: &Arc<Self>, client_id: &str, session: SessionUse) -> Lease {
        let mut pool = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let key = (!client_id.is_empty()).then(|| client_id.to_owned());
        let mut pooled = session.clean_start && !session.kept;
        if let Some(key) = &key {
            pooled &= pool.kept.get(key).is_none();
            if session.kept {
                pool.kept.insert(key.clone(), ());
            } else if !pooled {
                // The engine discards (clean start) or ends (not kept) the session it had.
                pool.kept.remove(key);
            }
        }
        let live = key.as_ref().and_then(|k| pool.live.get_mut(k));
        let engine_id = match live {
            Some((engine_id, count)) => {
                *count += 1;
                engine_id.clone()
            }
            None => {
                let engine_id = if pooled { pool.take() } else { client_id.to_owned() };
                if let Some(key) = &key {
                    pool.live.insert(key.clone(), (engine_id.clone(), 1));
                }
                engine_id
            }
        };
        Lease { ids: self.clone(), client_id: key, engine_id }
    }

    /// How many pool ids the engine has seen.
    #[cfg(test)]
    pub fn minted(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).minted
    }
}

impl Pool {
    fn take(&mut self) -> String {
        self.free.pop().unwrap_or_else(|| {
            self.minted += 1;
            format!("{POOL_PREFIX}{}", self.minted)
        })
    }

    fn give_back(&mut self, engine_id: String) {
        if engine_id.starts_with(POOL_PREFIX) {
            self.free.push(engine_id);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut pool = self.ids.inner.lock().unwrap_or_else(|e| e.into_inner());
        let engine_id = std::mem::take(&mut self.engine_id);
        let Some(key) = &self.client_id else { return pool.give_back(engine_id) };
        let Some((_, count)) = pool.live.get_mut(key) else { return };
        *count -= 1;
        if *count == 0 {
            pool.live.remove(key);
            pool.give_back(engine_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: SessionUse = SessionUse { clean_start: true, kept: false };
    const KEPT: SessionUse = SessionUse { clean_start: false, kept: true };

    #[test]
    fn a_clean_start_of_an_id_with_a_kept_session_uses_its_own_id_once() {
        let ids = Arc::new(EngineIds::default());
        drop(ids.lease("meter-7", KEPT));
        assert_eq!(ids.lease("meter-7", CLEAN).engine_id(), "meter-7", "the engine must discard it");
        assert_ne!(ids.lease("meter-7", CLEAN).engine_id(), "meter-7", "nothing kept any more");
        let five = SessionUse { clean_start: true, kept: true };
        assert_eq!(ids.lease("meter-8", five).engine_id(), "meter-8", "5: Clean Start, expiry above 0");
        let resumed_not_kept = SessionUse { clean_start: false, kept: false };
        assert_eq!(ids.lease("meter-8", resumed_not_kept).engine_id(), "meter-8");
        assert_ne!(ids.lease("meter-8", CLEAN).engine_id(), "meter-8");
    }

    #[test]
    fn clean_sessions_reuse_a_small_pool() {
        let ids = Arc::new(EngineIds::default());
        for i in 0..1000 {
            let a = ids.lease(&format!("random-{i}"), CLEAN);
            let b = ids.lease(&format!("other-{i}"), CLEAN);
            assert_ne!(a.engine_id(), b.engine_id());
        }
        assert_eq!(ids.minted(), 2, "two connections at once at most");
    }

    #[test]
    fn the_same_client_id_at_once_shares_its_engine_id_so_the_engine_takes_over() {
        let ids = Arc::new(EngineIds::default());
        let first = ids.lease("sensor-1", CLEAN);
        let second = ids.lease("sensor-1", CLEAN);
        assert_eq!(first.engine_id(), second.engine_id());
        drop(first);
        let third = ids.lease("sensor-1", CLEAN);
        assert_eq!(third.engine_id(), second.engine_id(), "still connected under it");
        drop((second, third));
        let other = ids.lease("sensor-2", CLEAN);
        assert_eq!(ids.minted(), 1, "{} reused", other.engine_id());
    }

    #[test]
    fn persistent_sessions_and_unpooled_empty_ids_keep_their_own() {
        let ids = Arc::new(EngineIds::default());
        assert_eq!(ids.lease("meter-7", KEPT).engine_id(), "meter-7");
        assert_eq!(ids.lease("", KEPT).engine_id(), "");
        assert_eq!(ids.minted(), 0);
    }

    #[test]
    fn empty_ids_in_the_pool_never_share() {
        let ids = Arc::new(EngineIds::default());
        let (a, b) = (ids.lease("", CLEAN), ids.lease("", CLEAN));
        assert_ne!(a.engine_id(), b.engine_id());
        drop((a, b));
        let _c = ids.lease("", CLEAN);
        assert_eq!(ids.minted(), 2);
    }
}
