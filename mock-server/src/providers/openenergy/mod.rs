//! Open Energy (Icebreaker One's shared data under FAPI; shared/providers/openenergy.md).
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
mod resource;
mod store;

use std::sync::Arc;

use axum::routing::{any, get, post};
use axum::Router;

pub use fixtures::Fixtures;

use crate::providers::{Provider, Service};
use crate::serve::ListenerKind;
use crate::state::Core;
use crate::tokens::JwtSigner;

const AUTH_HOSTS: &[&str] = &["matls-auth.directory.energydata.org.uk"];
const DIRECTORY_HOSTS: &[&str] = &["matls-dirapi.directory.energydata.org.uk"];
pub const HOSTNAMES: &[&str] = &["matls-auth.directory.energydata.org.uk", "matls-dirapi.directory.energydata.org.uk"];

pub struct OpenEnergy {
    core: Arc<Core>,
    /// Signs software statement assertions; published at the authorization server's `jwks_uri`.
    signer: JwtSigner,
    tokens: store::TokenStore,
}

impl OpenEnergy {
    pub fn new(core: Arc<Core>) -> anyhow::Result<Self> {
        let signer = core.signer("openenergy")?;
        Ok(OpenEnergy { core, signer, tokens: store::TokenStore::default() })
    }
}

impl Provider for OpenEnergy {
    fn name(&self) -> &'static str {
        "openenergy"
    }

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
            Service { name: "auth", hosts: AUTH_HOSTS, listeners: &[ListenerKind::Mtls], router: auth },
            Service { name: "directory", hosts: DIRECTORY_HOSTS, listeners: &[ListenerKind::Mtls], router: directory },
            Service { name: "data", hosts: &[], listeners: &[ListenerKind::Mtls, ListenerKind::Http], router: data },
        ]
    }

    fn reset(&self) {
        self.tokens.clear();
    }

    fn banner(&self, fixtures: &crate::providers::Fixtures) -> Vec<String> {
        let mut lines: Vec<String> = fixtures
            .openenergy
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
