//! Knoema: the data API behind three access modes (anonymous, `client_id`, the HMAC-signed
//! `Knoema` header) and OAuth 2 (implicit and code flows), as the `knoema` Python package and
//! the C# and R clients use it (shared/providers/knoema.md, seed knoema-authentication.txt).
//!
//! One service, `knoema.api`, at knoema.com's real paths. The Python package takes only a host
//! (`KNOEMA_HOST`) and calls paths from the root, so besides its prefix on the shared
//! listeners (`/knoema/api`) the service has a listener of its own where it is served at the
//! root: 127.0.0.1:8090 by default (DESIGN.md routing rule 4).

mod auth;
mod data;
mod errors;
mod filter;
mod fixtures;
mod oauth;
mod query;
mod signature;
mod store;
mod timeline;
mod upload;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use fixtures::Fixtures;

use crate::providers::{Provider, Service};
use crate::serve::ListenerKind;
use crate::state::Core;

pub const HOSTNAMES: &[&str] = &["knoema.com", "www.knoema.com", "omandata.knoema.com"];

/// Where the service is served at the root unless `--listen knoema.api=...` says otherwise.
pub const DEDICATED_ADDRESS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8090);

pub struct Knoema {
    core: Arc<Core>,
    store: store::Store,
}

impl Knoema {
    pub fn new(core: Arc<Core>) -> Self {
        Knoema { core, store: store::Store::default() }
    }

    /// The dataset `id` (any case) as `caller` may see it: fixture datasets not deleted since
    /// the last reset and uploaded ones; private ones only for signed apps and token holders.
    fn dataset(&self, id: &str, caller: &auth::Caller) -> Option<fixtures::Dataset> {
        let key = id.to_ascii_lowercase();
        let uploaded = store::with(&self.store.datasets, store::MAX_UPLOADED_DATASETS, |m| m.get(&key).cloned());
        let ds = uploaded.or_else(|| {
            if self.store.deleted.lock().unwrap().contains(&key) {
                return None;
            }
            self.core.fixtures().knoema.datasets.iter().find(|d| d.id.eq_ignore_ascii_case(id)).cloned()
        })?;
        (!ds.private || caller.is_authenticated()).then_some(ds)
    }

    /// Every dataset `caller` may see.
    fn datasets(&self, caller: &auth::Caller) -> Vec<fixtures::Dataset> {
        let fixtures = self.core.fixtures();
        let mut ids: Vec<String> = fixtures.knoema.datasets.iter().map(|d| d.id.clone()).collect();
        store::with(&self.store.datasets, store::MAX_UPLOADED_DATASETS, |m| {
            ids.extend(m.values().map(|d| d.id.clone()))
        });
        ids.iter().filter_map(|id| self.dataset(id, caller)).collect()
    }
}

impl Provider for Knoema {
    fn name(&self) -> &'static str {
        "knoema"
    }

    fn services(self: Arc<Self>) -> Vec<Service> {
        let router = Router::new()
            .route("/oauth/authorize", get(oauth::authorize).post(oauth::consent_answer))
            .route("/oauth/token", get(oauth::token).post(oauth::token))
            .route("/api/1.0/meta/dataset/{id}", get(data::meta))
            .route("/api/1.0/meta/dataset/{id}/dimension/{dim}", get(data::dimension))
            .route("/api/1.0/meta/dataset/{id}/daterange", get(data::daterange))
            .route("/api/1.0/meta/dataset/{id}/delete", post(upload::delete))
            .route("/api/1.0/meta/verifydataset", post(upload::verify_dataset))
            .route("/api/2.0/data", post(data::data_v2))
            .route("/api/1.2/data/raw/", post(data::raw))
            .route("/api/1.2/data/raw", post(data::raw))
            .route("/api/1.0/data/raw/", get(data::raw_next))
            .route("/api/1.0/data/raw", get(data::raw_next))
            .route("/api/1.0/data/pivot/", post(data::pivot))
            .route("/api/1.0/data/pivot", post(data::pivot))
            .route("/api/1.0/data/mnemonics", get(data::mnemonics))
            .route("/api/1.0/frontend/tags", get(data::tags))
            .route("/api/1.0/upload/post", post(upload::post))
            .route("/api/1.0/upload/verify", get(upload::verify_upload))
            .route("/api/1.0/upload/save", post(upload::save))
            .route("/api/1.0/upload/status", get(upload::status))
            .fallback(errors::not_found)
            .method_not_allowed_fallback(errors::method_not_allowed)
            .with_state(self.clone());
        vec![Service { name: "api", hosts: HOSTNAMES, listeners: &[ListenerKind::Https, ListenerKind::Http], router }]
    }

    fn reset(&self) {
        self.store.clear();
    }

    fn banner(&self, fixtures: &crate::providers::Fixtures) -> Vec<String> {
        fixtures
            .knoema
            .apps
            .iter()
            .map(|a| {
                let redirects = if a.redirect_uris.is_empty() { "any".to_owned() } else { a.redirect_uris.join(" ") };
                format!("app_id {} app_secret {} redirect_uri {redirects}", a.app_id, a.app_secret)
            })
            .collect()
    }

    fn dedicated_listeners(&self) -> Vec<(&'static str, SocketAddr)> {
        vec![("api", DEDICATED_ADDRESS)]
    }
}
