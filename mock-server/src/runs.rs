//! Namespaces for parallel runs on one server. A run is a whole world of its own: clock,
//! journal, faults, outbox, fixtures and every provider's runtime state (tokens, stored data),
//! built from the fixtures the server started with. Runs share only the listeners, the TLS
//! material and the signing keys (a signed token names its run and no other run accepts it).
//!
//! A request belongs to a run when it names it, in the first of these that it has:
//! - the path prefix `/__run/{id}`, stripped before routing (service URLs and the admin API
//!   alike: `/__run/{id}/__admin/events`); what a client configured with a base URL uses;
//! - the `X-Mock-Run: {id}` header;
//! - the proxy credentials' user name (`HTTPS_PROXY=http://{id}:any@127.0.0.1:8080`), for
//!   unchanged clients in proxy mode: a tunnel stays in the run its `CONNECT` named.
//!
//! MQTT clients name a run by where they connect: every run has MQTT listeners of its own (its
//! endpoints' `mqtt`), in front of the one engine, under the run's prefix there (`mqtt::space`).
//!
//! Everything else belongs to the default namespace, which is what a server without runs is.
//! Runs are created and deleted through `/__admin/runs` (never implicitly, so that a typo is an
//! error and not a silent new world); at most [`Runs::limit`] live at once, and creating one
//! more evicts the one idle longest (no request named it, no event journaled).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use std::time::Instant;
use tokio::sync::watch;

use anyhow::Result;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::admin::{self, AdminState};
use crate::providers::{self, Provider};
use crate::proxy::Proxy;
use crate::routing::{json_response, Dispatcher, RunPrefix};
use crate::server::Endpoints;
use crate::state::Core;

/// The header that names a run.
pub const RUN_HEADER: &str = "x-mock-run";
/// The path prefix that names a run: `/__run/{id}/...`.
pub const RUN_PATH: &str = "/__run/";
/// How many runs may live at once unless the server is told otherwise.
pub const DEFAULT_LIMIT: usize = 64;

/// One namespace: its state, its providers, and the dispatcher that serves them.
pub struct World {
    pub core: Arc<Core>,
    pub providers: Vec<Arc<dyn Provider>>,
    pub dispatcher: Arc<Dispatcher>,
    pub endpoints: Arc<OnceLock<Endpoints>>,
}

impl World {
    /// Builds the providers of `core` and a dispatcher (with its own admin API) for them.
    pub fn build(
        core: Arc<Core>,
        proxy: Arc<Proxy>,
        endpoints: Arc<OnceLock<Endpoints>>,
        started: Instant,
    ) -> Result<World> {
        let providers = providers::build(&core)?;
        let admin = admin::router(AdminState {
            core: core.clone(),
            providers: providers.clone(),
            endpoints: endpoints.clone(),
            started,
        });
        let services =
            providers.iter().flat_map(|p| p.clone().services().into_iter().map(move |s| (p.name(), s))).collect();
        let dispatcher = Arc::new(Dispatcher::new(core.clone(), services, admin, proxy));
        Ok(World { core, providers, dispatcher, endpoints })
    }

    /// What `POST /__admin/reset` does in this namespace.
    pub fn reset(&self) -> Result<(), crate::config::ConfigError> {
        admin::reset_namespace(&self.core, &self.providers)
    }

    /// What `PUT /__admin/fixtures` does in this namespace.
    pub fn replace_fixtures(&self, fixtures: crate::config::Fixtures) {
        admin::replace_fixtures_of(&self.core, &self.providers, fixtures)
    }
}

struct Entry {
    world: Arc<World>,
    created: DateTime<Utc>,
    last_used: Instant,
    /// Stops the run's MQTT listeners (and with them its MQTT connections).
    stop: Arc<watch::Sender<bool>>,
}

impl Entry {
    fn describe(&self, id: &str) -> Value {
        json!({
            "id": id,
            "created": self.created,
            "idle_seconds": self.last_active().elapsed().as_secs_f64(),
            "events": self.world.core.journal.len(),
            "endpoints": self.world.endpoints.get(),
        })
    }

    /// The last time anything happened in the run: a request named it, or it recorded an
    /// event (MQTT traffic names no run in a request, but is journaled).
    fn last_active(&self) -> Instant {
        self.world.core.journal.last_recorded().map_or(self.last_used, |at| at.max(self.last_used))
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The default namespace and the named runs; the front door of every HTTP listener.
pub struct Runs {
    pub default: Arc<World>,
    named: Mutex<BTreeMap<String, Entry>>,
    limit: usize,
    proxy: Arc<Proxy>,
    started: Instant,
    /// Where runs get their MQTT listeners, once the server's MQTT is up.
    mqtt: OnceLock<crate::mqtt::MqttHub>,
    /// The server's shutdown signal: runs' MQTT listeners stop with it.
    shutdown: watch::Receiver<bool>,
}

impl Runs {
    pub fn new(
        default: Arc<World>,
        proxy: Arc<Proxy>,
        limit: usize,
        started: Instant,
        shutdown: watch::Receiver<bool>,
    ) -> Runs {
        Runs { default, named: Mutex::default(), limit: limit.max(1), proxy, started, mqtt: OnceLock::new(), shutdown }
    }

    /// Gives runs MQTT listeners of their own from now on.
    pub fn set_mqtt(&self, hub: crate::mqtt::MqttHub) {
        let _ = self.mqtt.set(hub);
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Creates run `id` (a fresh world, with MQTT listeners of its own). Evicts the run unused
    /// for longest when full.
    pub async fn create(&self, id: &str) -> Result<Arc<World>, RunError> {
        check_id(id)?;
        if self.named.lock().unwrap().contains_key(id) {
            return Err(RunError::Exists(id.to_owned()));
        }
        // Built outside the lock: a new world parses fixtures and mounts every provider.
        let core = Arc::new(self.default.core.for_run(id).map_err(|e| RunError::Fixtures(e.to_string()))?);
        let stop = Arc::new(watch::channel(false).0);
        let mut endpoints = self.default.endpoints.get().map(|server| run_endpoints(server, id));
        let endpoints_cell = Arc::new(OnceLock::new());
        let world = Arc::new(
            World::build(core.clone(), self.proxy.clone(), endpoints_cell.clone(), self.started)
                .map_err(|e| RunError::Fixtures(e.to_string()))?,
        );
        if let (Some(hub), Some(authority)) = (self.mqtt.get(), providers::mqtt_authority(&world.providers)) {
            let (mqtt, _tasks) = hub
                .open(core, authority, crate::mqtt::space::Space::run(id), stop.subscribe())
                .await
                .map_err(|e| RunError::Listeners(format!("{e:#}")))?;
            if let Some(endpoints) = endpoints.as_mut() {
                endpoints.mqtt = Some(mqtt);
            }
            tokio::spawn(stop_with_server(stop.clone(), self.shutdown.clone()));
        }
        if let Some(endpoints) = endpoints {
            let _ = endpoints_cell.set(endpoints);
        }
        let entry = Entry { world: world.clone(), created: Utc::now(), last_used: Instant::now(), stop };
        let mut named = self.named.lock().unwrap();
        if named.contains_key(id) {
            return Err(RunError::Exists(id.to_owned()));
        }
        while named.len() >= self.limit {
            let Some(idle) = named.iter().min_by_key(|(_, e)| e.last_active()).map(|(k, _)| k.clone()) else { break };
            named.remove(&idle);
            tracing::warn!(run = %idle, "run evicted: {} runs is the limit and it was idle longest", self.limit);
        }
        named.insert(id.to_owned(), entry);
        tracing::info!(run = %id, "run created");
        Ok(world)
    }

    /// The world of run `id`, marked as used now.
    pub fn get(&self, id: &str) -> Option<Arc<World>> {
        let mut named = self.named.lock().unwrap();
        let entry = named.get_mut(id)?;
        entry.last_used = Instant::now();
        Some(entry.world.clone())
    }

    pub fn delete(&self, id: &str) -> bool {
        let removed = self.named.lock().unwrap().remove(id).is_some();
        if removed {
            tracing::info!(run = %id, "run deleted");
        }
        removed
    }

    fn describe(&self, id: &str) -> Option<Value> {
        self.named.lock().unwrap().get(id).map(|entry| entry.describe(id))
    }

    fn describe_all(&self) -> Vec<Value> {
        self.named.lock().unwrap().iter().map(|(id, entry)| entry.describe(id)).collect()
    }

    /// Serves a request of any HTTP listener: finds its namespace, then its dispatcher.
    pub async fn handle(self: Arc<Self>, mut req: Request<Body>) -> Response<Body> {
        let run = match take_run(&mut req) {
            Ok(run) => run,
            Err(reason) => {
                return json_response(StatusCode::BAD_REQUEST, json!({"error": "bad_run", "message": reason}))
            }
        };
        match run {
            None if is_runs_admin(&req) => self.admin_router().oneshot(req).await.unwrap_or_else(|e| match e {}),
            None => self.default.dispatcher.clone().handle(req).await,
            Some(id) => match self.get(&id) {
                Some(world) => world.dispatcher.clone().handle(req).await,
                None => {
                    tracing::warn!(run = %id, "{} {}: no such run", req.method(), req.uri().path());
                    unknown_run(&id)
                }
            },
        }
    }

    fn admin_router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/__admin/runs", get(list_runs).post(create_run))
            .route("/__admin/runs/{id}", get(show_run).delete(delete_run))
            .method_not_allowed_fallback(|| async {
                admin_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "this admin endpoint does not take that method; see /__admin/openapi.json",
                )
            })
            .with_state(self)
    }
}

/// Why a run cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("'{0}' is not a run id: use 1 to 64 letters, digits, '.', '_' or '-'")]
    BadId(String),
    #[error("run '{0}' exists already; DELETE /__admin/runs/{0} first, or pick another id")]
    Exists(String),
    #[error("the server's fixtures no longer load: {0}")]
    Fixtures(String),
    #[error("the run's MQTT listeners could not be bound: {0}")]
    Listeners(String),
}

/// Tells a run's listeners to stop when the server stops; ends by itself once they are gone.
async fn stop_with_server(stop: Arc<watch::Sender<bool>>, mut server: watch::Receiver<bool>) {
    tokio::select! {
        _ = crate::mqtt::stopped(&mut server) => {
            let _ = stop.send(true);
        }
        _ = stop.closed() => {}
    }
}

fn check_id(id: &str) -> Result<(), RunError> {
    let ok = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(RunError::BadId(id.chars().take(80).collect()))
    }
}

/// The run a request names, taken out of its path if it was there. `Err` when it names one
/// that cannot be a run id.
fn take_run(req: &mut Request<Body>) -> Result<Option<String>, String> {
    if let Some(rest) = req.uri().path().strip_prefix(RUN_PATH) {
        let (id, inner) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let id = id.to_owned();
        check_id(&id).map_err(|e| e.to_string())?;
        let inner = match (inner, req.uri().query()) {
            ("", Some(q)) => format!("/?{q}"),
            ("", None) => "/".to_owned(),
            (path, Some(q)) => format!("{path}?{q}"),
            (path, None) => path.to_owned(),
        };
        // Scheme and authority stay: an HTTP/2 request has no Host header but its authority.
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = Some(inner.parse().map_err(|e| format!("path after {RUN_PATH}{id}: {e}"))?);
        *req.uri_mut() = Uri::from_parts(parts).map_err(|e| format!("path after {RUN_PATH}{id}: {e}"))?;
        req.extensions_mut().insert(RunPrefix(format!("{RUN_PATH}{id}")));
        return Ok(Some(id));
    }
    let named = header_run(req.headers()).or_else(|| proxy_user(req.headers()));
    match named {
        Some(id) => check_id(&id).map(|()| Some(id)).map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

fn header_run(headers: &HeaderMap) -> Option<String> {
    headers.get(RUN_HEADER).map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
}

/// The user name of `Proxy-Authorization: Basic base64(user:password)`.
fn proxy_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::PROXY_AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(credentials.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let user = decoded.split_once(':').map_or(decoded.as_str(), |(u, _)| u);
    let user = percent_encoding::percent_decode_str(user).decode_utf8_lossy().into_owned();
    (!user.is_empty()).then_some(user)
}

/// `/__admin/runs` on the HTTP listener, sent to the mock itself (not through it as a proxy to
/// another host, which the proxy refuses).
fn is_runs_admin(req: &Request<Body>) -> bool {
    let path = req.uri().path();
    let on_http =
        req.extensions().get::<crate::serve::ConnInfo>().is_none_or(|c| c.listener == crate::serve::ListenerKind::Http);
    let to_us = req.uri().host().is_none_or(|h| {
        h == "localhost" || h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    });
    on_http && to_us && (path == "/__admin/runs" || path.starts_with("/__admin/runs/"))
}

fn unknown_run(id: &str) -> Response<Body> {
    let message = format!(
        "there is no run '{id}' on this server: it was never created, or was deleted or evicted; create it first with POST /__admin/runs {{\"id\": \"{id}\"}}"
    );
    json_response(StatusCode::NOT_FOUND, json!({"error": "unknown_run", "message": message}))
}

/// The server's endpoints as run `id` sees them: every URL with the run's path prefix, and
/// proxy credentials that name the run.
pub fn run_endpoints(server: &Endpoints, id: &str) -> Endpoints {
    let prefixed = |url: &str| match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            format!("{scheme}://{authority}{RUN_PATH}{id}{path}")
        }
        None => url.to_owned(),
    };
    let mut endpoints = server.clone();
    endpoints.admin = format!("{}{RUN_PATH}{id}/__admin", server.http);
    endpoints.services = server.services.iter().map(|(k, url)| (k.clone(), prefixed(url))).collect();
    endpoints.proxy = server.http.replacen("://", &format!("://{id}:run@"), 1);
    endpoints.run = Some(id.to_owned());
    endpoints
}

fn admin_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response<Body> {
    (status, Json(json!({"error": code, "message": message.into()}))).into_response()
}

async fn list_runs(State(runs): State<Arc<Runs>>) -> Response<Body> {
    Json(json!({"runs": runs.describe_all(), "limit": runs.limit})).into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewRun {
    id: Option<String>,
}

/// `POST /__admin/runs` with `{"id": "job-42"}`, or no body for a generated id.
async fn create_run(State(runs): State<Arc<Runs>>, body: Body) -> Response<Body> {
    let bytes = match crate::wire::read_body(body, 64 << 10).await {
        Ok(b) => b,
        Err(e @ crate::wire::BodyError::TooLarge(_)) => {
            return admin_error(StatusCode::PAYLOAD_TOO_LARGE, "bad_request", e.to_string())
        }
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
    };
    let request: NewRun = if bytes.iter().all(u8::is_ascii_whitespace) {
        NewRun::default()
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                return admin_error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("invalid JSON body: {e}; send {{\"id\": \"job-42\"}} or nothing"),
                )
            }
        }
    };
    let id = request.id.unwrap_or_else(|| format!("run-{:08x}", rand::random::<u32>()));
    match runs.create(&id).await {
        Ok(_) => {
            let mut r = (StatusCode::CREATED, Json(runs.describe(&id))).into_response();
            if let Ok(location) = HeaderValue::try_from(format!("/__admin/runs/{id}")) {
                r.headers_mut().insert(header::LOCATION, location);
            }
            r
        }
        Err(e @ RunError::Exists(_)) => admin_error(StatusCode::CONFLICT, "run_exists", e.to_string()),
        Err(e @ RunError::BadId(_)) => admin_error(StatusCode::BAD_REQUEST, "bad_run", e.to_string()),
        Err(e @ RunError::Fixtures(_)) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, "bad_fixtures", e.to_string()),
        Err(e @ RunError::Listeners(_)) => admin_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string()),
    }
}

async fn show_run(State(runs): State<Arc<Runs>>, Path(id): Path<String>) -> Response<Body> {
    match runs.describe(&id) {
        Some(run) => Json(run).into_response(),
        None => unknown_run(&id),
    }
}

async fn delete_run(State(runs): State<Arc<Runs>>, Path(id): Path<String>) -> Response<Body> {
    if runs.delete(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        unknown_run(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::builder().uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn the_path_prefix_names_the_run_and_is_stripped() {
        let mut req = request("/__run/job-42/kalibrate/login/t/oauth2/v2.0/token?x=1", &[]);
        assert_eq!(take_run(&mut req).unwrap().as_deref(), Some("job-42"));
        assert_eq!(req.uri().to_string(), "/kalibrate/login/t/oauth2/v2.0/token?x=1");
        assert_eq!(req.extensions().get::<RunPrefix>().unwrap().0, "/__run/job-42");
        let mut bare = request("/__run/job-42", &[]);
        assert_eq!(take_run(&mut bare).unwrap().as_deref(), Some("job-42"));
        assert_eq!(bare.uri().path(), "/");
        let mut http2 = request("https://127.0.0.1:8443/__run/job-42/kalibrate/login", &[]);
        take_run(&mut http2).unwrap();
        assert_eq!(http2.uri().to_string(), "https://127.0.0.1:8443/kalibrate/login", "the authority stays");
    }

    #[test]
    fn header_and_proxy_user_name_the_run() {
        assert_eq!(take_run(&mut request("/x", &[(RUN_HEADER, "a1")])).unwrap().as_deref(), Some("a1"));
        let basic = format!("Basic {}", STANDARD.encode("job-7:run"));
        assert_eq!(take_run(&mut request("/x", &[("proxy-authorization", &basic)])).unwrap().as_deref(), Some("job-7"));
        assert_eq!(take_run(&mut request("/x", &[])).unwrap(), None);
        assert_eq!(take_run(&mut request("/x", &[("proxy-authorization", "Bearer abc")])).unwrap(), None);
    }

    #[test]
    fn bad_ids_are_refused() {
        assert!(take_run(&mut request("/__run//x", &[])).is_err());
        assert!(take_run(&mut request("/__run/a%20b/x", &[])).is_err());
        assert!(take_run(&mut request("/x", &[(RUN_HEADER, &"a".repeat(65))])).is_err());
        assert!(check_id("ok.id_1-2").is_ok());
    }

    #[test]
    fn run_endpoints_carry_the_prefix() {
        let server = Endpoints {
            http: "http://127.0.0.1:1".into(),
            https: "https://127.0.0.1:2".into(),
            mtls: "https://127.0.0.1:3".into(),
            admin: "http://127.0.0.1:1/__admin".into(),
            ca: "/ca.pem".into(),
            services: [
                ("a.b".to_owned(), "https://127.0.0.1:2/a/b".to_owned()),
                ("k.api".to_owned(), "http://127.0.0.1:4".to_owned()),
            ]
            .into(),
            mqtt: None,
            proxy: "http://127.0.0.1:1".into(),
            run: None,
        };
        let run = run_endpoints(&server, "r1");
        assert_eq!(run.services["a.b"], "https://127.0.0.1:2/__run/r1/a/b");
        assert_eq!(run.services["k.api"], "http://127.0.0.1:4/__run/r1");
        assert_eq!(run.admin, "http://127.0.0.1:1/__run/r1/__admin");
        assert_eq!(run.proxy, "http://r1:run@127.0.0.1:1");
        assert_eq!(run.run.as_deref(), Some("r1"));
    }

    proptest! {
        #[test]
        fn any_path_or_header_is_taken_or_refused(path in "/[ -~]{0,60}", header in "[ -~]{0,80}") {
            if let Ok(req) = Request::builder().uri(path.as_str()).header(RUN_HEADER, header.as_str()).body(Body::empty()) {
                let mut req = req;
                let _ = take_run(&mut req);
            }
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::try_from(format!("Basic {header}")) {
                h.insert(header::PROXY_AUTHORIZATION, v);
                let _ = proxy_user(&h);
            }
        }
    }
}
