//! Request routing. A request reaches a service:
//! 1. by its Host header, when that is one of the service's real hostnames (the real paths follow);
//! 2. otherwise by the path prefix `/{provider}/{service}`, stripped before the service sees it;
//! 3. `/__admin/...` on the plain HTTP listener goes to the admin API;
//! 4. on a service's dedicated listener (DESIGN.md routing rule 4), every request goes to that
//!    service at its real paths, whatever its Host header or path (no admin API there).
//!
//! Here too, in one place for every provider: fault rules fire before the handler runs, and each
//! exchange is summarised into the journal (secrets redacted) and the log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use axum::Router;
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use serde_json::json;
use tower::ServiceExt;

use crate::faults::FiredFault;
use crate::journal::{EventKind, Exchange};
use crate::providers::Service;
use crate::proxy::{Destination, OwnListener, Proxy, ProxyRequest};
use crate::serve::{ConnInfo, DropConnection, ListenerKind};
use crate::state::Core;
use crate::wire::redacted_query;

/// Which service is handling a request, and the base URL the client used to reach it (so
/// discovery documents can point back at the mock itself). Put into request extensions.
#[derive(Clone, Debug)]
pub struct ServiceRoute {
    pub provider: &'static str,
    pub service: &'static str,
    pub listener: ListenerKind,
    /// e.g. `https://127.0.0.1:8443/kalibrate/login` or `https://login.microsoftonline.com`.
    pub base_url: String,
    /// The path prefix that was stripped (`/kalibrate/login`, `/__run/r1/kalibrate/login`),
    /// empty when routed by host outside a run.
    pub prefix: String,
    /// The real hostname the request named, when it was routed by its Host header.
    pub real_host: Option<String>,
}

/// Request extension: the run path prefix (`/__run/{id}`) that was stripped before routing, so
/// that URLs the mock hands out (discovery documents, redirects) keep it.
#[derive(Clone, Debug)]
pub struct RunPrefix(pub String);

/// Request extension put by a dedicated listener: the `(provider, service)` it serves at its root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dedicated(pub (&'static str, &'static str));

struct Mounted {
    provider: &'static str,
    service: Service,
}

pub struct Dispatcher {
    core: Arc<Core>,
    mounted: Vec<Mounted>,
    admin: Router,
    proxy: Arc<Proxy>,
}

impl Dispatcher {
    pub fn new(core: Arc<Core>, services: Vec<(&'static str, Service)>, admin: Router, proxy: Arc<Proxy>) -> Self {
        let mounted = services.into_iter().map(|(provider, service)| Mounted { provider, service }).collect();
        Dispatcher { core, mounted, admin, proxy }
    }

    /// `(service key, listener it is first served on, path prefix)` for every service.
    pub fn services(&self) -> Vec<(String, ListenerKind, String)> {
        self.mounted
            .iter()
            .map(|m| {
                (
                    format!("{}.{}", m.provider, m.service.name),
                    m.service.listeners[0],
                    format!("/{}/{}", m.provider, m.service.name),
                )
            })
            .collect()
    }

    /// Every real hostname, with the listeners its service is served on.
    pub fn real_hosts(&self) -> Vec<(&'static str, &'static [ListenerKind])> {
        self.mounted.iter().flat_map(|m| m.service.hosts.iter().map(|h| (*h, m.service.listeners))).collect()
    }

    /// The `(provider, service)` names of a service key such as `knoema.api`, if it exists.
    pub fn service_key(&self, key: &str) -> Option<(&'static str, &'static str)> {
        let (provider, service) = key.split_once('.')?;
        self.mounted
            .iter()
            .find(|m| m.provider == provider && m.service.name == service)
            .map(|m| (m.provider, m.service.name))
    }

    pub async fn handle(self: Arc<Self>, req: Request<Body>) -> Response<Body> {
        let listener = req.extensions().get::<ConnInfo>().map_or(ListenerKind::Http, |c| c.listener);
        let dedicated = req.extensions().get::<Dedicated>().is_some();
        let proxied = match (listener, dedicated) {
            (ListenerKind::Http, false) => ProxyRequest::of(&req),
            _ => None,
        };
        let refused = match &proxied {
            Some(ProxyRequest::AbsoluteForm(authority)) => match self.proxy.plain_destination(authority) {
                Ok(destination) => {
                    // Served as if sent to the destination itself: the Host header and path decide.
                    let req = origin_form(req, authority, &destination);
                    return Box::pin(self.handle(req)).await;
                }
                Err(refusal) => {
                    tracing::warn!("proxy request for http://{authority} refused: {}", refusal.reason());
                    Some(refusal)
                }
            },
            _ => None,
        };
        if proxied.is_none()
            && !dedicated
            && by_host_or_prefix_is_admin(listener, req.uri().path())
            && !self.is_service_host(&req)
        {
            return self.admin.clone().oneshot(req).await.unwrap_or_else(|e| match e {});
        }
        let mut summary = Exchange::of(&req, listener);
        summary.secret_in = secrets_in(&req, &self.core.fixtures().secrets());
        let mut record =
            PendingExchange { core: &self.core, started: Instant::now(), summary, owner: None, done: false };
        let response = match (proxied, refused) {
            (_, Some(refusal)) => refusal.response(),
            (Some(ProxyRequest::Connect(authority)), None) => self.clone().connect(req, &authority, &mut record),
            _ => self.route(req, listener, &mut record).await,
        };
        record.finish(&response);
        response
    }

    /// `CONNECT`: a tunnel served by this dispatcher, or the proxy's refusal.
    fn connect(
        self: Arc<Self>,
        req: Request<Body>,
        authority: &str,
        record: &mut PendingExchange<'_>,
    ) -> Response<Body> {
        let destination = match self.proxy.connect_destination(authority) {
            Ok(d) => d,
            Err(refusal) => {
                tracing::warn!("CONNECT {authority} refused: {}", refusal.reason());
                return refusal.response();
            }
        };
        if let Destination::RealHost { host, .. } = &destination {
            record.owner = self
                .mounted
                .iter()
                .find(|m| m.service.hosts.contains(&host.as_str()))
                .map(|m| (m.provider, m.service.name));
        }
        let dispatcher = self.clone();
        let handler = crate::serve::handler(move |req| dispatcher.clone().handle(req));
        self.proxy.tunnel(req, destination, handler)
    }

    fn is_service_host(&self, req: &Request<Body>) -> bool {
        let host = request_host(req);
        let hostname = strip_port(&host).to_ascii_lowercase();
        self.mounted.iter().any(|m| m.service.hosts.contains(&hostname.as_str()))
    }

    /// Finds the service (by Host header, then by path prefix), applies any fault rule and
    /// calls it. Returns who answered, `None` when no service did.
    async fn route(
        &self,
        mut req: Request<Body>,
        listener: ListenerKind,
        record: &mut PendingExchange<'_>,
    ) -> Response<Body> {
        let (host_header, method) = (record.summary.host.clone(), record.summary.method.clone());
        let path = req.uri().path().to_owned();
        let hostname = strip_port(&host_header).to_ascii_lowercase();
        let dedicated = req.extensions().get::<Dedicated>().copied();
        let by_host = match dedicated {
            Some(_) => None,
            None => self.mounted.iter().find(|m| m.service.hosts.contains(&hostname.as_str())),
        };
        let own = dedicated
            .and_then(|Dedicated((p, s))| self.mounted.iter().find(|m| m.provider == p && m.service.name == s));
        let run_prefix = req.extensions().get::<RunPrefix>().map(|p| p.0.clone()).unwrap_or_default();
        let (mounted, inner_path, prefix) = if let Some(m) = own {
            (m, path.clone(), run_prefix)
        } else if let Some(m) = by_host {
            (m, path.clone(), run_prefix)
        } else if let Some((m, rest)) = self.by_prefix(&path) {
            (m, rest.to_owned(), format!("{run_prefix}{}", &path[..path.len() - rest.len()]))
        } else {
            return self.not_found(listener, &path);
        };
        record.owner = Some((mounted.provider, mounted.service.name));
        if own.is_none() && !mounted.service.listeners.contains(&listener) {
            return self.wrong_listener(mounted, listener);
        }
        let route = ServiceRoute {
            provider: mounted.provider,
            service: mounted.service.name,
            listener,
            base_url: format!("{}://{}{}", listener.scheme(), host_header, prefix),
            prefix,
            real_host: by_host.map(|_| hostname.clone()),
        };

        let inner_path = if inner_path.is_empty() { "/".to_owned() } else { inner_path };
        let inner_uri = match req.uri().query() {
            Some(q) => format!("{inner_path}?{q}"),
            None => inner_path.clone(),
        };
        *req.uri_mut() = inner_uri.parse::<Uri>().unwrap_or_else(|_| Uri::from_static("/"));
        req.extensions_mut().insert(route.clone());

        let router = mounted.service.router.clone();
        match self.core.faults.take(route.provider, route.service, &method, &inner_path) {
            Some(fault) => {
                self.core.record(
                    &route,
                    EventKind::FaultApplied {
                        rule_id: fault.rule_id.clone(),
                        method: method.clone(),
                        path,
                        action: fault.action.describe(),
                    },
                );
                if let Some(seconds) = fault.action.advance_clock_seconds {
                    if let Err(e) = self.core.clock.advance(chrono::Duration::seconds(seconds)) {
                        tracing::warn!(rule = %fault.rule_id, "clock step not taken: {e}");
                    }
                }
                apply_fault(fault, req, router).await
            }
            None => router.oneshot(req).await.unwrap_or_else(|e| match e {}),
        }
    }

    fn by_prefix<'a>(&self, path: &'a str) -> Option<(&Mounted, &'a str)> {
        let mut parts = path.splitn(4, '/').skip(1);
        let (provider, service) = (parts.next()?, parts.next()?);
        let mounted = self.mounted.iter().find(|m| m.provider == provider && m.service.name == service)?;
        let rest = &path[1 + provider.len() + 1 + service.len()..];
        Some((mounted, rest))
    }

    fn not_found(&self, listener: ListenerKind, path: &str) -> Response<Body> {
        let services: Vec<String> = self
            .mounted
            .iter()
            .filter(|m| m.service.listeners.contains(&listener))
            .map(|m| format!("/{}/{}", m.provider, m.service.name))
            .collect();
        json_response(
            StatusCode::NOT_FOUND,
            json!({
                "error": "not_found",
                "message": format!("no service is mounted at {path} on the {} listener", listener.name()),
                "hint": "prefix the provider's real path with one of `services`, or send the real Host header",
                "services": services,
            }),
        )
    }

    fn wrong_listener(&self, m: &Mounted, listener: ListenerKind) -> Response<Body> {
        let served: Vec<&str> = m.service.listeners.iter().map(|l| l.name()).collect();
        json_response(
            StatusCode::MISDIRECTED_REQUEST,
            json!({
                "error": "wrong_listener",
                "message": format!("{}.{} is not served on the {} listener; it is served on: {}",
                    m.provider, m.service.name, listener.name(), served.join(", ")),
            }),
        )
    }
}

/// Provider and service of exchanges no service answered (unknown path, wrong listener).
pub const UNROUTED: &str = "-";
/// Exchange status when a fault dropped the connection: no response was sent.
pub const STATUS_DROPPED: u16 = 0;
/// Exchange status when the client went away before the answer (nginx's convention).
pub const STATUS_CLIENT_CLOSED: u16 = 499;

/// An exchange being served. It is journaled and logged exactly once: when the answer is
/// ready, or, if the client disconnects first and the request's future is dropped, then.
struct PendingExchange<'a> {
    core: &'a Core,
    started: Instant,
    summary: Exchange,
    /// The service that took the request, once known.
    owner: Option<(&'static str, &'static str)>,
    done: bool,
}

impl PendingExchange<'_> {
    fn finish(&mut self, response: &Response<Body>) {
        self.summary.status = if response.extensions().get::<DropConnection>().is_some() {
            STATUS_DROPPED
        } else {
            response.status().as_u16()
        };
        self.summary.retry_after = header_text(response.headers(), header::RETRY_AFTER);
        self.record();
    }

    fn record(&mut self) {
        self.done = true;
        let mut summary = std::mem::replace(&mut self.summary, Exchange::empty());
        summary.duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let (provider, service) = self.owner.unwrap_or((UNROUTED, UNROUTED));
        tracing::info!(
            listener = summary.listener.as_str(),
            service = format!("{provider}.{service}"),
            "{} {} -> {} ({:.1} ms)",
            summary.method,
            summary.path,
            summary.status,
            summary.duration_ms
        );
        self.core.journal.record(self.core.clock.now(), provider, service, EventKind::Exchange(summary));
    }
}

impl Drop for PendingExchange<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.summary.status = STATUS_CLIENT_CLOSED;
            self.record();
        }
    }
}

/// An absolute-form request turned into the origin-form request its destination would get.
fn origin_form(mut req: Request<Body>, authority: &str, destination: &Destination) -> Request<Body> {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    *req.uri_mut() = path.parse::<Uri>().unwrap_or_else(|_| Uri::from_static("/"));
    if let Ok(host) = HeaderValue::try_from(authority) {
        req.headers_mut().insert(header::HOST, host);
    }
    if let Destination::Own(OwnListener { dedicated: Some(target), .. }) = destination {
        req.extensions_mut().insert(*target);
    }
    req
}

/// `/__admin` on the HTTP listener, unless the Host header names a provider's real host.
fn by_host_or_prefix_is_admin(listener: ListenerKind, path: &str) -> bool {
    listener == ListenerKind::Http && (path == "/__admin" || path.starts_with("/__admin/"))
}

impl Exchange {
    fn empty() -> Exchange {
        Exchange {
            listener: String::new(),
            method: String::new(),
            host: String::new(),
            path: String::new(),
            query: Default::default(),
            status: 0,
            duration_ms: 0.0,
            user_agent: None,
            auth_scheme: None,
            client_cert: None,
            secret_in: Vec::new(),
            retry_after: None,
            headers: Vec::new(),
        }
    }

    /// The summary of a request as it arrived; status and duration are filled in after.
    fn of(req: &Request<Body>, listener: ListenerKind) -> Exchange {
        Exchange {
            listener: listener.name().to_owned(),
            method: req.method().as_str().to_owned(),
            host: request_host(req),
            // A CONNECT names no path: its target is the authority.
            path: match req.method() == axum::http::Method::CONNECT {
                true => req.uri().authority().map(|a| a.to_string()).unwrap_or_default(),
                false => req.uri().path().to_owned(),
            },
            query: redacted_query(req.uri().query()),
            status: 0,
            duration_ms: 0.0,
            user_agent: header_text(req.headers(), header::USER_AGENT),
            auth_scheme: header_text(req.headers(), header::AUTHORIZATION)
                .map(|v| v.split_whitespace().next().unwrap_or_default().to_owned()),
            client_cert: req
                .extensions()
                .get::<ConnInfo>()
                .and_then(|c| c.peer_certificate.as_ref())
                .map(|c| c.thumbprint.to_string()),
            secret_in: Vec::new(),
            retry_after: None,
            headers: header_names(req.headers()),
        }
    }
}

/// The request's header names, lower case, sorted, without repeats; at most 64.
fn header_names(headers: &axum::http::HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = headers.keys().map(|k| k.as_str().to_owned()).collect();
    names.sort();
    names.dedup();
    names.truncate(64);
    names
}

/// Where any of `secrets` shows in the request line or headers, decoded as a server would.
/// Secrets shorter than 4 characters are ignored: too likely to match by chance.
fn secrets_in(req: &Request<Body>, secrets: &[&str]) -> Vec<String> {
    let secrets: Vec<&str> = secrets.iter().copied().filter(|s| s.len() >= 4).collect();
    if secrets.is_empty() {
        return Vec::new();
    }
    let holds = |text: &str| secrets.iter().any(|s| text.contains(s));
    let mut found = Vec::new();
    if holds(&percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy()) {
        found.push("path".to_owned());
    }
    for (name, value) in form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes()) {
        if holds(&name) || holds(&value) {
            found.push(format!("query:{name}"));
        }
    }
    for (name, value) in req.headers() {
        let basic_password = match crate::wire::Authorization::parse(value.as_bytes()) {
            Ok(crate::wire::Authorization::Basic { password, .. }) if name == header::AUTHORIZATION => Some(password),
            _ => None,
        };
        if holds(&String::from_utf8_lossy(value.as_bytes())) || basic_password.is_some_and(|p| holds(&p)) {
            found.push(format!("header:{name}"));
        }
    }
    found
}

/// Carries out a fault's action, calling the real handler when the action only alters it.
async fn apply_fault(fault: FiredFault, req: Request<Body>, router: Router) -> Response<Body> {
    let action = fault.action;
    if let Some(ms) = action.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if action.drop_connection {
        let mut r = Response::new(Body::empty());
        r.extensions_mut().insert(DropConnection);
        return r;
    }
    let mut response = match action.status {
        Some(status) => {
            let (body, content_type) = match &action.body {
                None => (Bytes::new(), None),
                Some(serde_json::Value::String(s)) => (Bytes::from(s.clone()), Some("text/plain; charset=utf-8")),
                Some(v) => (Bytes::from(v.to_string()), Some("application/json; charset=utf-8")),
            };
            let mut r = Response::new(Body::from(body));
            *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Some(ct) = content_type {
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            }
            r
        }
        None => router.oneshot(req).await.unwrap_or_else(|e| match e {}),
    };
    for (name, value) in &action.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str())) {
            response.headers_mut().insert(n, v);
        }
    }
    if action.truncate_body {
        response = truncate(response).await;
    }
    response
}

/// Announces the full length, sends half the bytes, then fails the stream so the connection is
/// cut mid-body. The short pause lets the server flush the status, headers and first half
/// before the cut, as a real network failure would.
async fn truncate(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len().max(1)));
    let cut = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err::<Bytes, _>(std::io::Error::other("body truncated on purpose"))
    };
    let chunks = stream::once(async move { Ok(half) }).chain(stream::once(cut));
    Response::from_parts(parts, Body::from_stream(chunks))
}

pub fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

/// The Host header, or the authority of an absolute-form or HTTP/2 request.
fn request_host(req: &Request<Body>) -> String {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_owned())
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &h[1..]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("login.microsoftonline.com:443"), "login.microsoftonline.com");
        assert_eq!(strip_port("127.0.0.1"), "127.0.0.1");
        assert_eq!(strip_port("[::1]:8443"), "::1");
    }
}
