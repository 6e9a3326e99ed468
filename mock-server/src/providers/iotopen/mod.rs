//! IoT Open's Lynx platform (docs/providers/iotopen.md): login with optional SMS 2FA, API
//! keys, OAuth 2 with a consent step, installation-scoped REST (installations, FunctionX,
//! DeviceX, status, v3beta log) and the MQTT real-time API behind the shared gate
//! (`crate::mqtt`), with one authorization for both ([`access`]).
//!
//! One service, `iotopen.api` (real host `lynx.iotopen.se`). Paths are matched after
//! collapsing repeated slashes (go-lynx asks for `//api/v2/ping`) and request lines longer than
//! `max_url_bytes` get 414 before any routing (go-lynx then retries status and log as POST).

mod access;
mod apikeys;
mod broker;
mod caller;
mod credentials;
mod directory;
mod errors;
mod fixtures;
mod grants;
mod installations;
mod log;
mod login;
mod oauth;
mod objects;
mod payload;
mod provider;
mod query;
mod scopes;
mod status;
mod things;
mod values;

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, Uri};
use axum::routing::{delete, get, post};
use axum::{Extension, Router};
use tower::ServiceExt;

pub use provider::IotOpen;

use crate::contract::{Authority, ListenerKind, Provider, ProviderKind, Service, ServiceSpec};
use crate::namespace::{Namespace, Reset};

use things::Which;

const API: ServiceSpec = ServiceSpec {
    name: "api",
    hosts: &["lynx.iotopen.se"],
    listeners: &[ListenerKind::Https, ListenerKind::Http],
    dedicated: None,
};

impl ProviderKind for IotOpen {
    const NAME: &'static str = "iotopen";
    const SERVICES: &'static [ServiceSpec] = &[API];
    type Fixtures = fixtures::Fixtures;

    fn build(ns: Arc<Namespace>) -> anyhow::Result<Self> {
        Ok(IotOpen::new(ns))
    }
}

async fn ping() -> Response<Body> {
    errors::message(StatusCode::OK, "pong")
}

fn things_routes(which: Which) -> Router<Arc<IotOpen>> {
    let base = format!("/api/v2/{}", which.name());
    Router::new()
        .route(&format!("{base}/{{installation}}"), get(objects::list).post(objects::create))
        .route(
            &format!("{base}/{{installation}}/{{id}}"),
            get(objects::get_one).put(objects::update).delete(objects::remove),
        )
        .route(
            &format!("{base}/{{installation}}/{{id}}/meta/{{key}}"),
            get(objects::get_meta).post(objects::create_meta).put(objects::update_meta).delete(objects::delete_meta),
        )
        .layer(Extension(which))
}

/// Collapses runs of `/` (`//api/v2/ping` → `/api/v2/ping`).
fn collapse_slashes(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    if !path.contains("//") {
        return None;
    }
    let mut collapsed = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && collapsed.ends_with('/')) {
            collapsed.push(c);
        }
    }
    let text = match uri.query() {
        Some(q) => format!("{collapsed}?{q}"),
        None => collapsed,
    };
    text.parse().ok()
}

impl Provider for IotOpen {
    fn services(self: Arc<Self>) -> Vec<Service> {
        let api = Router::new()
            .route("/api/v2/ping", get(ping))
            .route("/api/v2/auth", post(login::login).put(login::challenge).delete(login::logout))
            .route("/api/v2/user/me", get(apikeys::me))
            .route("/api/v2/user/{user}/security/token", get(apikeys::list).post(apikeys::create))
            .route("/api/v2/user/{user}/security/token/{id}", delete(apikeys::revoke))
            .route("/api/v2/user/{user}/security/consent", get(oauth::consents))
            .route("/api/v2/user/{user}/security/consent/{id}", delete(oauth::revoke_consent))
            .route("/api/v2/oauth2/scope", get(oauth::scopes))
            .route("/api/v2/oauth2/authorize", get(oauth::authorize))
            .route("/api/v2/oauth2/consent", post(oauth::consent))
            .route("/api/v2/oauth2/token", post(oauth::token))
            .route("/api/v2/installationinfo", get(installations::info_list))
            .route("/api/v2/installationinfo/{client_id}", get(installations::info_one))
            .route("/api/v2/installation", get(installations::rows))
            .route("/api/v2/installation/{id}", get(installations::row))
            .route("/api/v2/status/{installation}", get(status::get_status).post(status::post_status))
            .route("/api/v3beta/log/{installation}", get(log::get_log).post(log::post_log))
            .merge(things_routes(Which::Function))
            .merge(things_routes(Which::Device))
            .fallback(errors::not_found_fallback)
            .method_not_allowed_fallback(errors::method_not_allowed)
            .with_state(self.clone());
        let io = self.clone();
        let outer = tower::service_fn(move |mut req: Request<Body>| {
            let api = api.clone();
            let max = io.fixtures().max_url_bytes;
            async move {
                let line = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
                if line > max {
                    return Ok::<_, Infallible>(errors::message(StatusCode::URI_TOO_LONG, "Request-URI Too Long"));
                }
                if let Some(uri) = collapse_slashes(req.uri()) {
                    *req.uri_mut() = uri;
                }
                api.oneshot(req).await
            }
        });
        let router = Router::new().fallback_service(outer);
        vec![Service { spec: &API, router }]
    }

    fn banner(&self) -> Vec<String> {
        let f = self.fixtures();
        let mut lines: Vec<String> = f
            .users
            .iter()
            .map(|u| {
                let sms = if u.sms_login { format!(" (SMS 2FA to {})", u.mobile) } else { String::new() };
                format!("user {} password {}{sms} installations {:?}", u.email, u.password, u.installations)
            })
            .collect();
        lines.extend(f.api_keys.iter().map(|k| format!("API key {} ({}, user {})", k.token, k.name, k.user_id)));
        lines.extend(f.oauth_clients.iter().map(|c| {
            format!("OAuth client {} secret {} redirect {}", c.client_id, c.secret, c.redirect_uris.join(" "))
        }));
        lines
    }

    fn mqtt_authority(self: Arc<Self>) -> Option<Arc<dyn Authority>> {
        Some(Arc::new(broker::Broker::new(self)))
    }
}

impl Reset for IotOpen {
    fn reset(&self) {
        self.load();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slashes_collapse_and_queries_stay() {
        let uri: Uri = "//api/v2//ping?a=b//c".parse().unwrap();
        assert_eq!(collapse_slashes(&uri).unwrap().to_string(), "/api/v2/ping?a=b//c");
        assert!(collapse_slashes(&"/api/v2/ping".parse().unwrap()).is_none());
    }
}
