//! Kalibrate: the fuel-pricing Data API behind Azure AD (shared/providers/kalibrate.md).
//!
//! Two services: `login` (Azure AD v2.0 as login.microsoftonline.com: discovery, keys, instance
//! discovery, client-credentials tokens as v1.0 RS256 JWTs) and `data` (the Data API).

mod aad;
mod data;
mod errors;
mod fixtures;
mod query;
mod store;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use fixtures::Fixtures;

use crate::providers::{Provider, Service};
use crate::serve::ListenerKind;
use crate::state::Core;
use crate::tokens::JwtSigner;

const LOGIN_HOSTS: &[&str] = &["login.microsoftonline.com", "login.windows.net", "login.microsoft.com"];
const DATA_HOSTS: &[&str] = &["dev.data.thekalibratecloud.com", "data.thekalibratecloud.com"];
pub const HOSTNAMES: &[&str] = &[
    "login.microsoftonline.com",
    "login.windows.net",
    "login.microsoft.com",
    "dev.data.thekalibratecloud.com",
    "data.thekalibratecloud.com",
];

pub struct Kalibrate {
    core: Arc<Core>,
    signer: JwtSigner,
    store: store::Store,
}

impl Kalibrate {
    pub fn new(core: Arc<Core>) -> anyhow::Result<Self> {
        let signer = core.signer("kalibrate")?;
        Ok(Kalibrate { core, signer, store: store::Store::default() })
    }
}

impl Provider for Kalibrate {
    fn name(&self) -> &'static str {
        "kalibrate"
    }

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
            .with_state(self.clone());
        let data = Router::new()
            .route("/api/status", get(data::status))
            .route("/api/import/{kind}", post(data::import))
            .route("/api/{collection}", get(data::collection))
            .fallback(data::not_found)
            .method_not_allowed_fallback(data::method_not_allowed)
            .with_state(self.clone());
        vec![
            Service {
                name: "login",
                hosts: LOGIN_HOSTS,
                listeners: &[ListenerKind::Https, ListenerKind::Http],
                router: login,
            },
            Service {
                name: "data",
                hosts: DATA_HOSTS,
                listeners: &[ListenerKind::Https, ListenerKind::Http],
                router: data,
            },
        ]
    }

    fn reset(&self) {
        self.store.clear();
    }

    fn banner(&self, fixtures: &crate::providers::Fixtures) -> Vec<String> {
        let mut lines = Vec::new();
        for t in &fixtures.kalibrate.tenants {
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
