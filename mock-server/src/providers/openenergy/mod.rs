//! Open Energy (Icebreaker One's shared data under FAPI; docs/providers/openenergy.md).
//!
//! Three services, all on the mTLS listener, where the client certificate is requested and its
//! chain checked against the dev CA, which plays the directory CA (certificates come from CSRs
//! through `POST /__admin/certificates` or `mock-server certs sign-csr`):
//! - `auth` (matls-auth.directory.energydata.org.uk): discovery, `client_credentials` with
//!   `tls_client_auth`, opaque tokens bound to the certificate, RFC 7662 introspection, JWKS;
//! - `directory` (matls-dirapi.directory.energydata.org.uk): the directory read API;
//! - `data`: a data provider serving the fixtures' data sets under FAPI's resource checks (also
//!   on the HTTP listener, for its trusted-proxy mode).

mod authorization;
mod client_auth;
mod data;
mod directory;
mod errors;
mod fixtures;
mod introspection;
mod provider;
mod resource;
mod store;

use std::sync::Arc;

use axum::routing::{any, get, post};
use axum::Router;

pub use provider::OpenEnergy;

use crate::contract::{ListenerKind, Provider, ProviderKind, Service, ServiceSpec};
use crate::namespace::{Namespace, Reset};

const AUTH: ServiceSpec = ServiceSpec {
    name: "auth",
    // The discovery document fetched at matls-auth names `auth.` as its issuer: every host a
    // served document names is served, so a client that follows it reaches the mock too.
    hosts: &["matls-auth.directory.energydata.org.uk", "auth.directory.energydata.org.uk"],
    listeners: &[ListenerKind::Mtls],
    dedicated: None,
};
const DIRECTORY: ServiceSpec = ServiceSpec {
    name: "directory",
    hosts: &["matls-dirapi.directory.energydata.org.uk"],
    listeners: &[ListenerKind::Mtls],
    dedicated: None,
};
/// A data provider has no host of its own; also on the HTTP listener, for its trusted-proxy mode.
const DATA: ServiceSpec =
    ServiceSpec { name: "data", hosts: &[], listeners: &[ListenerKind::Mtls, ListenerKind::Http], dedicated: None };

impl ProviderKind for OpenEnergy {
    const NAME: &'static str = "openenergy";
    const SERVICES: &'static [ServiceSpec] = &[AUTH, DIRECTORY, DATA];
    type Fixtures = fixtures::Fixtures;

    fn build(ns: Arc<Namespace>) -> anyhow::Result<Self> {
        OpenEnergy::new(ns)
    }
}

impl Provider for OpenEnergy {
    fn services(self: Arc<Self>) -> Vec<Service> {
        let auth = Router::new()
            .route("/.well-known/openid-configuration", get(authorization::discovery))
            .route("/.well-known/oauth-authorization-server", get(authorization::discovery))
            .route("/token", post(authorization::token))
            .route("/token/introspection", post(introspection::introspect))
            .route("/jwks", get(authorization::jwks))
            .route("/auth", any(authorization::authorize))
            .fallback(authorization::not_found)
            .method_not_allowed_fallback(authorization::not_found)
            .with_state(self.clone());
        let fapi = axum::middleware::from_fn_with_state(self.clone(), resource::fapi_headers);
        let directory = Router::new().fallback(directory::directory).layer(fapi.clone()).with_state(self.clone());
        let data =
            Router::new().route("/", get(data::index)).fallback(data::data_set).layer(fapi).with_state(self.clone());
        vec![
            Service { spec: &AUTH, router: auth },
            Service { spec: &DIRECTORY, router: directory },
            Service { spec: &DATA, router: data },
        ]
    }

    fn banner(&self) -> Vec<String> {
        let fixtures = self.fixtures();
        let mut lines: Vec<String> = fixtures
            .statements()
            .map(|r| {
                format!(
                    "client_id {} [{}] certificate subject OU={} CN={} scopes {}",
                    r.statement.client_id,
                    r.statement.status,
                    r.organisation.id,
                    r.statement.id,
                    r.statement.scopes.join(" ")
                )
            })
            .collect();
        if !lines.is_empty() {
            lines.push(
                "get a certificate: POST a CSR to /__admin/certificates, or `mock-server certs sign-csr`".to_owned(),
            );
        }
        lines
    }
}

impl Reset for OpenEnergy {
    fn reset(&self) {
        self.tokens.clear();
    }
}
