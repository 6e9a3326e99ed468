//! Knoema: the data API behind three access modes (anonymous, `client_id`, the HMAC-signed
//! `Knoema` header) and OAuth 2 (implicit and code flows), as the `knoema` Python package and
//! the C# and R clients use it (docs/providers/knoema.md).
//!
//! One service, `knoema.api`, at knoema.com's real paths. The Python package takes only a host
//! (`KNOEMA_HOST`) and calls paths from the root, so besides its prefix on the shared
//! listeners (`/knoema/api`) the service has a listener of its own where it is served at the
//! root: 127.0.0.1:8090 by default (docs/services.md#a-services-own-listener).

mod auth;
mod data;
mod errors;
mod filter;
mod fixtures;
mod oauth;
mod provider;
mod query;
mod signature;
mod store;
mod timeline;
mod upload;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use provider::Knoema;

use crate::contract::{ListenerKind, Provider, ProviderKind, Service, ServiceSpec};
use crate::namespace::{Namespace, Reset};

const API: ServiceSpec = ServiceSpec {
    name: "api",
    hosts: &["knoema.com", "www.knoema.com", "omandata.knoema.com"],
    listeners: &[ListenerKind::Https, ListenerKind::Http],
    // Served at the root here unless `--listen knoema.api=...` says otherwise.
    dedicated: Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8090)),
};

impl ProviderKind for Knoema {
    const NAME: &'static str = "knoema";
    const SERVICES: &'static [ServiceSpec] = &[API];
    type Fixtures = fixtures::Fixtures;

    fn build(ns: Arc<Namespace>) -> anyhow::Result<Self> {
        Ok(Knoema::new(ns))
    }
}

impl Provider for Knoema {
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
        vec![Service { spec: &API, router }]
    }

    fn banner(&self) -> Vec<String> {
        self.fixtures()
            .apps
            .iter()
            .map(|a| {
                let redirects = if a.redirect_uris.is_empty() { "any".to_owned() } else { a.redirect_uris.join(" ") };
                format!("app_id {} app_secret {} redirect_uri {redirects}", a.app_id, a.app_secret)
            })
            .collect()
    }
}

impl Reset for Knoema {
    fn reset(&self) {
        self.store.clear();
    }
}
