//! IoT Open's Lynx platform (shared/providers/iotopen.md): login with optional SMS 2FA, API
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
mod credentials;
mod directory;
mod errors;
mod fixtures;
mod installations;
mod log;
mod login;
mod oauth;
mod objects;
mod payload;
mod query;
mod status;
mod things;
mod values;

use std::convert::Infallible;
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, Response, StatusCode, Uri};
use axum::routing::{delete, get, post};
use axum::{Extension, Router};
use tower::ServiceExt;

pub use fixtures::Fixtures;

use crate::journal::EventKind;
use crate::mqtt::Publisher;
use crate::providers::{Provider, Service};
use crate::routing::ServiceRoute;
use crate::serve::{ConnInfo, ListenerKind};
use crate::state::Core;

use access::Access;
use directory::Directory;
use things::Which;

pub const HOSTNAMES: &[&str] = &["lynx.iotopen.se"];

pub struct IotOpen {
    core: Arc<Core>,
    directory: RwLock<Arc<Directory>>,
    credentials: Mutex<credentials::Store>,
    things: things::Things,
    values: values::Values,
    oauth: oauth::OAuthState,
    publisher: Mutex<Option<Publisher>>,
}

impl IotOpen {
    pub fn new(core: Arc<Core>) -> IotOpen {
        let io = IotOpen {
            core,
            directory: RwLock::new(Arc::new(Directory::default())),
            credentials: Mutex::new(credentials::Store::new(10)),
            things: things::Things::default(),
            values: values::Values::default(),
            oauth: oauth::OAuthState::default(),
            publisher: Mutex::new(None),
        };
        io.load();
        io
    }

    /// Everything from the fixtures again: directory, the fixture keys, objects; no tokens,
    /// values, codes or consents.
    fn load(&self) {
        let all = self.core.fixtures();
        let f = &all.iotopen;
        *self.directory.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Directory::new(f));
        let mut store = credentials::Store::new(f.max_tokens);
        for key in &f.api_keys {
            let mut c =
                credentials::Credential::new(credentials::Kind::ApiKey, key.user_id, key.name.clone(), 1_700_000_000);
            c.id = key.id;
            c.expire = key.expire;
            c.permissions = key.permissions.clone();
            c.agent = "fixtures".into();
            store.insert(&key.token, c);
        }
        *self.credentials.lock().unwrap_or_else(|e| e.into_inner()) = store;
        self.things.load(f);
        self.values.clear();
        self.oauth.clear();
    }

    fn fixtures(&self) -> Arc<crate::providers::Fixtures> {
        self.core.fixtures()
    }

    fn directory(&self) -> Arc<Directory> {
        self.directory.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn now(&self) -> i64 {
        self.core.clock.unix()
    }

    /// Virtual time in seconds with fractions (sample timestamps).
    fn now_f64(&self) -> f64 {
        self.core.clock.now().timestamp_micros() as f64 / 1e6
    }

    fn bounds(&self) -> values::Bounds {
        let f = self.fixtures();
        values::Bounds {
            max_points: f.iotopen.history_max_points_per_installation,
            retention_seconds: f.iotopen.history_retention_days as f64 * 86_400.0,
        }
    }

    fn record(&self, route: &ServiceRoute, kind: EventKind) {
        self.core.record(route, kind);
    }

    /// Publishes `{client_id}/evt/{subsystem}/{action}` with `payload`, as Lynx announces
    /// changes to objects.
    fn announce(&self, installation: i64, subsystem: &str, action: &str, payload: &serde_json::Value) {
        let Some(client_id) = self.directory().installation(installation).map(|i| i.client_id) else { return };
        if let Some(publisher) = self.publisher.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            publisher.publish(format!("{client_id}/evt/{subsystem}/{action}"), payload.to_string());
        }
    }

    /// The caller of a REST request, from its key (401 when there is none that works).
    fn authenticate(&self, ctx: &Ctx, endpoint: &str) -> Result<Caller, Response<Body>> {
        let deny = |reason: &str| {
            self.record(
                &ctx.route,
                EventKind::ApiDenied {
                    endpoint: endpoint.to_owned(),
                    status: 401,
                    reason: reason.to_owned(),
                    client_id: None,
                },
            );
            errors::unauthorized()
        };
        let token = match credentials::presented(&ctx.headers) {
            Ok(Some(t)) => t,
            Ok(None) => return Err(deny("no API key or token (X-API-Key, Bearer or Basic)")),
            Err(why) => return Err(deny(why)),
        };
        let digest = credentials::digest(&token);
        let now = self.now();
        let mut store = self.credentials.lock().unwrap_or_else(|e| e.into_inner());
        let Some(credential) = store.get(&digest) else {
            return Err(deny("unknown, revoked or logged-out key"));
        };
        if let Some(why) = credential.dead(now) {
            let why = format!("key {why}");
            store.remove(&digest);
            return Err(deny(&why));
        }
        match credential.kind {
            credentials::Kind::PendingSms { .. } => {
                return Err(deny("the SMS code has not been given yet (PUT /api/v2/auth)"))
            }
            credentials::Kind::OAuthRefresh { .. } => return Err(deny("a refresh token is not an access token")),
            _ => {}
        }
        let Some(access) = credential.access(&self.directory()) else {
            return Err(deny("the key's user no longer exists"));
        };
        let agent = ctx.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        store.touch(&digest, now, &ctx.ip, &agent);
        drop(store);
        let token_id = crate::tokens::token_id(&token);
        self.record(
            &ctx.route,
            EventKind::ApiAuthorized {
                endpoint: endpoint.to_owned(),
                client_id: access.principal.clone(),
                token_id: token_id.clone(),
            },
        );
        Ok(Caller { access, digest, token_id })
    }

    /// 403 unless the caller may do `action` on `installation`.
    fn allow(
        &self,
        ctx: &Ctx,
        caller: &Caller,
        action: &str,
        installation: i64,
        endpoint: &str,
    ) -> Result<(), Response<Body>> {
        if caller.access.can(action, installation) {
            return Ok(());
        }
        self.record(
            &ctx.route,
            EventKind::ApiDenied {
                endpoint: endpoint.to_owned(),
                status: 403,
                reason: format!("{} may not {action} on installation {installation}", caller.access.principal),
                client_id: Some(caller.access.principal.clone()),
            },
        );
        Err(errors::forbidden())
    }
}

/// Who called, once the key passed.
pub struct Caller {
    pub access: Access,
    /// Digest of the presented token (the key it is stored under).
    pub digest: String,
    pub token_id: String,
}

/// What handlers need of a request besides its body.
pub struct Ctx {
    pub route: ServiceRoute,
    pub headers: HeaderMap,
    pub ip: String,
    pub query: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let route = parts.extensions.get::<ServiceRoute>().cloned().unwrap_or_else(|| ServiceRoute {
            provider: "iotopen",
            service: "api",
            listener: ListenerKind::Http,
            base_url: String::new(),
            prefix: String::new(),
            real_host: None,
        });
        let ip = parts.extensions.get::<ConnInfo>().map(|c| c.remote.ip().to_string()).unwrap_or_default();
        Ok(Ctx { route, headers: parts.headers.clone(), ip, query: parts.uri.query().map(str::to_owned) })
    }
}

/// A numeric path segment, or 400 naming it.
fn id(name: &str, raw: &str) -> Result<i64, Response<Body>> {
    raw.parse::<i64>().map_err(|_| errors::bad_request(format!("{name} must be a number, not '{raw}'")))
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
    fn name(&self) -> &'static str {
        "iotopen"
    }

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
            let max = io.fixtures().iotopen.max_url_bytes;
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
        vec![Service { name: "api", hosts: HOSTNAMES, listeners: &[ListenerKind::Https, ListenerKind::Http], router }]
    }

    fn reset(&self) {
        self.load();
    }

    fn banner(&self, fixtures: &crate::providers::Fixtures) -> Vec<String> {
        let f = &fixtures.iotopen;
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

    fn mqtt_authority(self: Arc<Self>) -> Option<Arc<dyn crate::mqtt::Authority>> {
        Some(Arc::new(broker::Broker::new(self)))
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
