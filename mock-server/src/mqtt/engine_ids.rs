//! Client ids as the engine sees them, for clean sessions: a small pool reused.
//!
//! rumqttd remembers every client id it has ever seen (its "graveyard": the session of a
//! persistent client, and the metrics of a clean one, about 700 bytes), and forgets one only
//! when that id connects again. Clients that use a new id for each connection (a random id per
//! run is common) would grow it without end. A clean session has nothing worth remembering, so
//! the gate gives it an engine id from a pool instead, and takes it back when the last
//! connection under the client's id ends: the engine then knows at most as many clean ids as
//! were ever connected at once.
//!
//! Two connections with the same client id at once get the same engine id, so the engine still
//! takes the older one over (MQTT-3.1.4-2). A persistent session (clean session 0) keeps its
//! own id, which it needs to be resumed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Pool ids start so; a client's own id that starts so is not one of them but could meet one.
const POOL_PREFIX: &str = "__clean:";

#[derive(Default)]
pub struct EngineIds {
    inner: Mutex<Pool>,
}

#[derive(Default)]
struct Pool {
    /// Client id (as the space names it) to the engine id it is connected under and how many
    /// connections use it.
    live: HashMap<String, (String, usize)>,
    /// Pool ids no connection uses.
    free: Vec<String>,
    /// How many pool ids there are.
    minted: u64,
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
    /// The engine id for a connection of `client_id` (as the space names it). `pooled` (a
    /// clean session) takes one from the pool; otherwise the connection keeps its own id (a
    /// persistent session; an empty id the engine assigns). A client id connected already
    /// shares its engine id, so that the engine takes the older connection over.
    pub fn lease(self: &Arc<Self>, client_id: &str, pooled: bool) -> Lease {
        let mut pool = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let key = (!client_id.is_empty()).then(|| client_id.to_owned());
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

    #[test]
    fn clean_sessions_reuse_a_small_pool() {
        let ids = Arc::new(EngineIds::default());
        for i in 0..1000 {
            let a = ids.lease(&format!("random-{i}"), true);
            let b = ids.lease(&format!("other-{i}"), true);
            assert_ne!(a.engine_id(), b.engine_id());
        }
        assert_eq!(ids.minted(), 2, "two connections at once at most");
    }

    #[test]
    fn the_same_client_id_at_once_shares_its_engine_id_so_the_engine_takes_over() {
        let ids = Arc::new(EngineIds::default());
        let first = ids.lease("sensor-1", true);
        let second = ids.lease("sensor-1", true);
        assert_eq!(first.engine_id(), second.engine_id());
        drop(first);
        let third = ids.lease("sensor-1", true);
        assert_eq!(third.engine_id(), second.engine_id(), "still connected under it");
        drop((second, third));
        let other = ids.lease("sensor-2", true);
        assert_eq!(ids.minted(), 1, "{} reused", other.engine_id());
    }

    #[test]
    fn persistent_sessions_and_unpooled_empty_ids_keep_their_own() {
        let ids = Arc::new(EngineIds::default());
        assert_eq!(ids.lease("meter-7", false).engine_id(), "meter-7");
        assert_eq!(ids.lease("", false).engine_id(), "");
        assert_eq!(ids.minted(), 0);
    }

    #[test]
    fn empty_ids_in_the_pool_never_share() {
        let ids = Arc::new(EngineIds::default());
        let (a, b) = (ids.lease("", true), ids.lease("", true));
        assert_ne!(a.engine_id(), b.engine_id());
        drop((a, b));
        let _c = ids.lease("", true);
        assert_eq!(ids.minted(), 2);
    }
}
