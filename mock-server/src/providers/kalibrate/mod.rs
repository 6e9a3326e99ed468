//! Kalibrate: the fuel-pricing Data API behind Azure AD (docs/providers/kalibrate.md).
//!
//! Two services: `login` (Azure AD v2.0 as login.microsoftonline.com: discovery, keys, instance
//! discovery, client-credentials tokens as v1.0 RS256 JWTs) and `data` (the Data API).

mod aad;
mod data;
mod errors;
mod fixtures;
mod provider;
mod query;
mod request_ids;
mod store;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use provider::Kalibrate;

use crate::contract::{ListenerKind, Provider, ProviderKind, Service, ServiceSpec};
use crate::namespace::{Namespace, Reset};

const LOGIN: ServiceSpec = ServiceSpec {
    name: "login",
    hosts: &["login.microsoftonline.com", "login.windows.net", "login.microsoft.com"],
    listeners: &[ListenerKind::Https, ListenerKind::Http],
    dedicated: None,
};
const DATA: ServiceSpec = ServiceSpec {
    name: "data",
    hosts: &[data::SANDPIT_HOST, "data.thekalibratecloud.com"],
    listeners: &[ListenerKind::Https, ListenerKind::Http],
    dedicated: None,
};

impl ProviderKind for Kalibrate {
    const NAME: &'static str = "kalibrate";
    const SERVICES: &'static [ServiceSpec] = &[LOGIN, DATA];
    type Fixtures = fixtures::Fixtures;

    fn build(ns: Arc<Namespace>) -> anyhow::Result<Self> {
        Kalibrate::new(ns)
    }
}

impl Provider for Kalibrate {
    fn services(self: Arc<Self>) -> Vec<Service> {
        let login = Router::new()
            .route("/common/discovery/instance", get(aad::instance_discovery))
            .route("/{tenant}/v2.0/.well-known/openid-configuration", get(aad::openid_configuration_v2))
            .route("/{tenant}/.well-known/openid-configuration", get(aad::openid_configuration_v1))
            .route("/{tenant}/discovery/v2.0/keys", get(aad::keys))
            .route("/{tenant}/discovery/keys", get(aad::keys))
            .route("/{tenant}/oauth2/v2.0/token", post(aad::token))
            .fallback(aad::not_found)
            .method_not_allowed_fallback(aad::method_not_allowed)
            .layer(axum::middleware::from_fn(request_ids::request_ids))
            .with_state(self.clone());
        let data = Router::new()
            .route("/api/status", get(data::status))
            .route("/api/import/{kind}", post(data::import))
            .route("/api/{collection}", get(data::collection))
            .fallback(data::not_found)
            .method_not_allowed_fallback(data::method_not_allowed)
            .with_state(self.clone());
        vec![Service { spec: &LOGIN, router: login }, Service { spec: &DATA, router: data }]
    }

    fn banner(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for t in &self.fixtures().tenants {
            for c in &t.clients {
                lines.push(format!(
                    "tenant {} client_id {} secret {} roles [{}] scope {}/.default",
                    t.id,
                    c.client_id,
                    c.secret,
                    c.roles.join(","),
                    t.apis.first().map_or("-", |a| a.audience.as_str())
                ));
            }
        }
        lines
    }
}

impl Reset for Kalibrate {
    fn reset(&self) {
        self.store.clear();
    }
}
