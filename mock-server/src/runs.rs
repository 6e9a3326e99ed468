//! Runs: namespaces of their own on one server, for parallel jobs (docs/runs.md). A run is a
//! whole namespace (`namespace.rs`): clock, journal, faults, outbox, fixtures and every
//! provider's runtime state, built from the fixtures the server started with, with MQTT
//! listeners of its own. Runs share only the listeners, the TLS material and the signing keys.
//!
//! Runs are created and deleted through `/__admin/runs` (never implicitly, so that a typo is an
//! error and not a silent new namespace) or `MockServer::run`; at most [`Runs::limit`] live at
//! once, and creating one more evicts the one idle longest (no request named it, no event was
//! journaled). Which run a request names is the front door's first question
//! (`front/run_selection.rs`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::assembly::{self, Shared};
use crate::front::door::Door;
use crate::namespace::Namespace;

/// How many runs may live at once unless the server is told otherwise.
pub const DEFAULT_LIMIT: usize = 64;

/// Why a run cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("'{0}' is not a run id: use 1 to 64 letters, digits, '.', '_' or '-' (not '.' or '..' alone)")]
    BadId(String),
    #[error("run '{0}' exists already; DELETE /__admin/runs/{0} first, or pick another id")]
    Exists(String),
    #[error("the server's fixtures no longer load: {0}")]
    Fixtures(String),
    #[error("the run's MQTT listeners could not be bound: {0}")]
    Listeners(String),
}

struct Entry {
    door: Arc<Door>,
    created: DateTime<Utc>,
    last_used: Instant,
    /// Stops the run's MQTT listeners (and with them its MQTT connections).
    stop: Arc<watch::Sender<bool>>,
}

impl Entry {
    fn describe(&self, id: &str) -> Value {
        let ns = self.door.namespace();
        json!({
            "id": id,
            "created": self.created,
            "idle_seconds": self.last_active().elapsed().as_secs_f64(),
            "events": ns.journal().len(),
            "endpoints": ns.endpoints_if_bound(),
        })
    }

    /// The last time anything happened in the run: a request named it, or it recorded an
    /// event (MQTT traffic names no run in a request, but is journaled).
    fn last_active(&self) -> Instant {
        self.door.namespace().journal().last_recorded().map_or(self.last_used, |at| at.max(self.last_used))
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The default namespace's door and the named runs'.
pub struct Runs {
    pub default: Arc<Door>,
    named: Mutex<BTreeMap<String, Entry>>,
    limit: usize,
    shared: Arc<Shared>,
}

impl Runs {
    pub fn new(default: Arc<Door>, shared: Arc<Shared>, limit: usize) -> Runs {
        Runs { default, named: Mutex::default(), limit: limit.max(1), shared }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Creates run `id` (a fresh namespace, with MQTT listeners of its own). Evicts the run
    /// idle longest when full.
    pub async fn create(&self, id: &str) -> Result<Arc<Door>, RunError> {
        check_id(id)?;
        if self.named.lock().unwrap().contains_key(id) {
            return Err(RunError::Exists(id.to_owned()));
        }
        // Built outside the lock: a new namespace parses fixtures and mounts every provider.
        let ns = Arc::new(self.default.namespace().for_run(id).map_err(|e| RunError::Fixtures(e.to_string()))?);
        let stop = Arc::new(watch::channel(false).0);
        let server = self.default.namespace().endpoints_if_bound().cloned();
        let door = assembly::run(ns, id, server.as_ref(), &self.shared, &stop).await.map_err(|e| match e {
            assembly::RunFailure::Build(e) => RunError::Fixtures(format!("{e:#}")),
            assembly::RunFailure::Listeners(e) => RunError::Listeners(format!("{e:#}")),
        })?;
        let entry = Entry { door: door.clone(), created: Utc::now(), last_used: Instant::now(), stop };
        let mut named = self.named.lock().unwrap();
        if named.contains_key(id) {
            return Err(RunError::Exists(id.to_owned()));
        }
        while named.len() >= self.limit {
            let Some(idle) = named.iter().min_by_key(|(_, e)| e.last_active()).map(|(k, _)| k.clone()) else { break };
            named.remove(&idle);
            tracing::warn!(run = %idle, "run evicted: {} runs is the limit and it was idle longest", self.limit);
        }
        named.insert(id.to_owned(), entry);
        tracing::info!(run = %id, "run created");
        Ok(door)
    }

    /// The door of run `id`, marked as used now.
    pub fn get(&self, id: &str) -> Option<Arc<Door>> {
        let mut named = self.named.lock().unwrap();
        let entry = named.get_mut(id)?;
        entry.last_used = Instant::now();
        Some(entry.door.clone())
    }

    pub fn delete(&self, id: &str) -> bool {
        let removed = self.named.lock().unwrap().remove(id).is_some();
        if removed {
            tracing::info!(run = %id, "run deleted");
        }
        removed
    }

    /// Run `id` as `GET /__admin/runs/{id}` shows it.
    pub fn describe(&self, id: &str) -> Option<Value> {
        self.named.lock().unwrap().get(id).map(|entry| entry.describe(id))
    }

    /// Every run, as `GET /__admin/runs` lists them.
    pub fn describe_all(&self) -> Vec<Value> {
        self.named.lock().unwrap().iter().map(|(id, entry)| entry.describe(id)).collect()
    }
}

/// A run id: 1 to 64 letters, digits, `.`, `_` or `-`.
pub fn check_id(id: &str) -> Result<(), RunError> {
    // `.` and `..` are dot segments: a client normalising `/__run/../x` would land elsewhere.
    let dots = id == "." || id == "..";
    let ok =
        !dots && (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(RunError::BadId(id.chars().take(80).collect()))
    }
}

/// A run on a server, for a Rust test: a namespace of its own (events, faults, clock,
/// fixtures, tokens), made by `MockServer::run` and deleted when dropped.
pub struct Run {
    namespace: Arc<Namespace>,
    runs: Arc<Runs>,
    id: String,
}

impl Run {
    pub(crate) fn new(namespace: Arc<Namespace>, runs: Arc<Runs>, id: String) -> Run {
        Run { namespace, runs, id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl std::ops::Deref for Run {
    type Target = Namespace;

    fn deref(&self) -> &Namespace {
        &self.namespace
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.runs.delete(&self.id);
    }
}
