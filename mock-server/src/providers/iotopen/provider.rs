//! IoT Open in one namespace: the namespace it serves, the directory of users and
//! installations from the fixtures, every credential (API keys, login and OAuth tokens), the
//! FunctionX and DeviceX objects, current values and history, the OAuth flow's grants, and the
//! broker's publisher for server-side messages.

use std::sync::{Arc, Mutex, RwLock};

use super::credentials::{Changes, Credential, Kind, Store};
use super::directory::Directory;
use super::fixtures::Fixtures;
use super::grants::OAuthState;
use super::things::Things;
use super::values::{Bounds, Values};
use crate::contract::Publisher;
use crate::fixtures::Section;
use crate::namespace::Namespace;

pub struct IotOpen {
    pub(super) ns: Arc<Namespace>,
    pub(super) directory: RwLock<Arc<Directory>>,
    pub(super) credentials: Mutex<Store>,
    pub(super) things: Things,
    pub(super) values: Values,
    pub(super) oauth: OAuthState,
    pub(super) publisher: Mutex<Option<Arc<dyn Publisher>>>,
}

impl IotOpen {
    pub fn new(ns: Arc<Namespace>) -> IotOpen {
        let io = IotOpen {
            ns,
            directory: RwLock::new(Arc::new(Directory::default())),
            credentials: Mutex::new(Store::new(10, Changes::default())),
            things: Things::default(),
            values: Values::default(),
            oauth: OAuthState::default(),
            publisher: Mutex::new(None),
        };
        io.load();
        io
    }

    /// Everything from the fixtures again: directory, the fixture keys, objects; no tokens,
    /// values, codes or consents.
    pub(super) fn load(&self) {
        let f = self.fixtures();
        *self.directory.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Directory::new(&f));
        let changes = self.credentials.lock().unwrap_or_else(|e| e.into_inner()).changes().clone();
        let mut store = Store::new(f.max_tokens, changes);
        for key in &f.api_keys {
            let mut c =
                Credential::new(Kind::ApiKey, key.user_id, key.name.clone(), 1_700_000_000);
            c.id = key.id;
            c.expire = key.expire;
            c.permissions = key.permissions.clone();
            c.agent = "fixtures".into();
            store.insert(&key.token, c);
        }
        *self.credentials.lock().unwrap_or_else(|e| e.into_inner()) = store;
        self.things.load(&f);
        self.values.clear();
        self.oauth.clear();
    }

    /// IoT Open's table of the fixtures served now.
    pub(super) fn fixtures(&self) -> Section<Fixtures> {
        self.ns.fixtures_of()
    }

    pub(super) fn directory(&self) -> Arc<Directory> {
        self.directory.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn now(&self) -> i64 {
        self.ns.clock.unix()
    }

    /// Virtual time in seconds with fractions (sample timestamps).
    pub(super) fn now_f64(&self) -> f64 {
        self.ns.clock.now().timestamp_micros() as f64 / 1e6
    }

    pub(super) fn bounds(&self) -> Bounds {
        let f = self.fixtures();
        Bounds {
            max_points: f.history_max_points_per_installation,
            retention_seconds: f.history_retention_days as f64 * 86_400.0,
        }
    }

    /// Publishes `{client_id}/evt/{subsystem}/{action}` with `payload`, as Lynx announces
    /// changes to objects.
    pub(super) fn announce(&self, installation: i64, subsystem: &str, action: &str, payload: &serde_json::Value) {
        let Some(client_id) = self.directory().installation(installation).map(|i| i.client_id) else { return };
        if let Some(publisher) = self.publisher.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            publisher.publish(format!("{client_id}/evt/{subsystem}/{action}"), payload.to_string().into());
        }
    }
}
