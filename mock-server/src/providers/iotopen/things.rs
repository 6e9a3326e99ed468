//! FunctionX and DeviceX objects (the same shape): what each installation starts with from the
//! fixtures, changed by the API, forgotten on reset. Bounded per installation.
//!
//! An object serialises to exactly `{id, type, installation_id, meta, protected_meta, created,
//! updated}` (py-lynx builds its `Function` and `Device` from these keys and no others).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

use super::access;
use super::fixtures::Fixtures;

/// Objects of one kind per installation.
pub const MAX_PER_INSTALLATION: usize = 10_000;
/// Meta keys per object.
pub const MAX_META_KEYS: usize = 256;
/// Length of a meta key or value.
pub const MAX_META_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Function,
    Device,
}

impl Which {
    /// The path segment and event subsystem: `functionx`, `devicex`.
    pub fn name(self) -> &'static str {
        match self {
            Which::Function => "functionx",
            Which::Device => "devicex",
        }
    }

    pub fn list(self) -> &'static str {
        match self {
            Which::Function => access::FUNCTIONX_LIST,
            Which::Device => access::DEVICEX_LIST,
        }
    }

    pub fn create_delete(self) -> &'static str {
        match self {
            Which::Function => access::FUNCTIONX_CREATE_DELETE,
            Which::Device => access::DEVICEX_CREATE_DELETE,
        }
    }

    pub fn update(self) -> &'static str {
        match self {
            Which::Function => access::FUNCTIONX_UPDATE,
            Which::Device => access::DEVICEX_UPDATE,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Object {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub installation_id: i64,
    pub meta: BTreeMap<String, String>,
    pub protected_meta: BTreeMap<String, String>,
    pub created: i64,
    pub updated: i64,
}

#[derive(Default)]
struct Kind {
    objects: BTreeMap<i64, Object>,
    next_id: i64,
}

#[derive(Default)]
pub struct Things {
    inner: Mutex<(Kind, Kind)>,
}

impl Things {
    pub fn load(&self, f: &Fixtures) {
        let load = |things: &[super::fixtures::Thing]| {
            let objects: BTreeMap<i64, Object> = things
                .iter()
                .map(|t| {
                    let o = Object {
                        id: t.id,
                        kind: t.kind.clone(),
                        installation_id: t.installation_id,
                        meta: t.meta.clone(),
                        protected_meta: t.protected_meta.clone(),
                        created: t.created,
                        updated: t.created,
                    };
                    (t.id, o)
                })
                .collect();
            let next_id = objects.keys().max().copied().unwrap_or(0).max(1000);
            Kind { objects, next_id }
        };
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = (load(&f.functions), load(&f.devices));
    }

    /// Runs `f` on the objects of one kind.
    pub fn with<R>(&self, which: Which, f: impl FnOnce(&mut Store<'_>) -> R) -> R {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let kind = match which {
            Which::Function => &mut guard.0,
            Which::Device => &mut guard.1,
        };
        f(&mut Store { kind })
    }
}

pub struct Store<'a> {
    kind: &'a mut Kind,
}

impl Store<'_> {
    /// The installation's objects whose meta has every `(key, value)` of `filter`, by id.
    pub fn list(&self, installation: i64, filter: &[(String, String)]) -> Vec<Object> {
        self.kind
            .objects
            .values()
            .filter(|o| o.installation_id == installation)
            .filter(|o| filter.iter().all(|(k, v)| o.meta.get(k) == Some(v)))
            .cloned()
            .collect()
    }

    pub fn get(&self, installation: i64, id: i64) -> Option<&Object> {
        self.kind.objects.get(&id).filter(|o| o.installation_id == installation)
    }

    pub fn get_mut(&mut self, installation: i64, id: i64) -> Option<&mut Object> {
        self.kind.objects.get_mut(&id).filter(|o| o.installation_id == installation)
    }

    /// Adds an object with a new id; `Err` when the installation is full.
    pub fn create(&mut self, mut object: Object) -> Result<Object, String> {
        let count = self.kind.objects.values().filter(|o| o.installation_id == object.installation_id).count();
        if count >= MAX_PER_INSTALLATION {
            return Err(format!("an installation holds at most {MAX_PER_INSTALLATION} of these"));
        }
        self.kind.next_id += 1;
        object.id = self.kind.next_id;
        self.kind.objects.insert(object.id, object.clone());
        Ok(object)
    }

    pub fn remove(&mut self, installation: i64, id: i64) -> Option<Object> {
        self.get(installation, id)?;
        self.kind.objects.remove(&id)
    }
}

/// Checks meta maps against the bounds.
pub fn check_meta(meta: &BTreeMap<String, String>) -> Result<(), String> {
    if meta.len() > MAX_META_KEYS {
        return Err(format!("at most {MAX_META_KEYS} meta keys"));
    }
    if meta.iter().any(|(k, v)| k.is_empty() || k.len() > MAX_META_LEN || v.len() > MAX_META_LEN) {
        return Err(format!("meta keys must be non-empty and keys and values at most {MAX_META_LEN} bytes"));
    }
    Ok(())
}
