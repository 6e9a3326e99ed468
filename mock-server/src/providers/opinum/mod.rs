//! Opinum Data Hub (docs/providers/opinum.md): the identity server (password and refresh
//! grants, both the IdentityServer and the Keycloak token paths), the push service (standard,
//! 2019 and custom formats) and the Data Hub API.

mod api;
mod auth;
mod custom;
mod data_query;
mod errors;
mod fixtures;
mod hub;
mod identity;
mod json_input;
mod provider;
mod push;
mod push_format;
mod tokens;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use axum::Router;

pub use provider::Opinum;

use crate::contract::{ListenerKind, Provider, ProviderKind, Service, ServiceSpec};
use crate::namespace::{Namespace, Reset};

const LISTENERS: &[ListenerKind] = &[ListenerKind::Https, ListenerKind::Http];
const IDENTITY: ServiceSpec =
    ServiceSpec { name: "identity", hosts: &["identity.opinum.com", "auth.opinum.com"], listeners: LISTENERS, dedicated: None };
const API: ServiceSpec = ServiceSpec { name: "api", hosts: &["api.opinum.com"], listeners: LISTENERS, dedicated: None };
const PUSH: ServiceSpec = ServiceSpec { name: "push", hosts: &["push.opinum.com"], listeners: LISTENERS, dedicated: None };

impl ProviderKind for Opinum {
    const NAME: &'static str = "opinum";
    const SERVICES: &'static [ServiceSpec] = &[IDENTITY, API, PUSH];
    type Fixtures = fixtures::Fixtures;

    fn build(ns: Arc<Namespace>) -> anyhow::Result<Self> {
        Opinum::new(ns)
    }
}

async fn not_found() -> axum::response::Response {
    errors::problem(StatusCode::NOT_FOUND, "no such endpoint")
}

async fn method_not_allowed() -> axum::response::Response {
    errors::problem(StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not take that method")
}

impl Provider for Opinum {
    fn services(self: Arc<Self>) -> Vec<Service> {
        let identity = Router::new()
            .route("/connect/token", post(identity::token))
            .route("/connect/token/", post(identity::token))
            .route(identity::KEYCLOAK_TOKEN_PATH, post(identity::token))
            .route("/.well-known/openid-configuration", get(identity::discovery))
            .route("/.well-known/openid-configuration/jwks", get(identity::keys))
            .route("/realms/opinum/.well-known/openid-configuration", get(identity::discovery))
            .route("/realms/opinum/protocol/openid-connect/certs", get(identity::keys))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(self.clone());
        let push = Router::new()
            .route("/api/data", post(push::standard))
            .route("/api/data/", post(push::standard))
            .route("/api/standard", post(push::legacy))
            .route("/api/generic/{guid}", post(push::generic))
            .route("/api/generic/{guid}/", post(push::generic))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(self.clone());
        let api_routes = Router::new()
            .route("/sites", get(api::list_sites).post(api::create_site))
            .route("/sites/{id}", patch(api::patch_site).delete(api::delete_site))
            .route("/sources", get(api::list_sources).post(api::create_source))
            .route("/sources/{id}", put(api::put_source).patch(api::patch_source).delete(api::delete_source))
            .route(
                "/sources/{source_id}/variables/{variable_id}",
                put(api::update_variable).patch(api::update_variable),
            )
            .route("/variables", get(api::list_variables))
            .route("/variables/source/{source_id}", get(api::variables_of_source).post(api::create_variable))
            .route("/variableTypes", get(api::variable_types))
            .route("/data", get(api::get_data).delete(api::delete_data))
            .route("/storage", post(api::upload))
            .route("/storage/{id}", get(api::download))
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(self.clone());
        // Clients write both `https://api.opinum.com/sites` and `.../api/sites`.
        let api = Router::new().merge(api_routes.clone()).nest("/api", api_routes).fallback(not_found);
        vec![
            Service { spec: &IDENTITY, router: identity },
            Service { spec: &API, router: api },
            Service { spec: &PUSH, router: push },
        ]
    }

    fn banner(&self) -> Vec<String> {
        let f = self.fixtures();
        let client = f
            .clients
            .first()
            .map_or_else(|| "-".to_owned(), |c| format!("client_id {} secret {}", c.client_id, c.secret));
        f.users
            .iter()
            .map(|u| {
                let scopes = if u.data_pusher { "datahub-api push-data" } else { "datahub-api" };
                format!(
                    "{client} user {} password {} accounts {:?} scopes {scopes}",
                    u.username, u.password, u.accounts
                )
            })
            .collect()
    }
}

impl Reset for Opinum {
    fn reset(&self) {
        self.refresh.clear();
        self.hub.load(&self.fixtures());
    }
}
