//! Which service a request is for, in one namespace. A request reaches a service:
//! 1. on a service's dedicated listener, always that service, at its real paths;
//! 2. by its Host header, when that is one of the service's real hostnames (the real paths
//!    follow);
//! 3. otherwise by the path prefix `/{provider}/{service}`, stripped before the service sees it.
//!
//! The service must be served on the listener the request came in on (a 421 says where it is).
//! The request handed over carries a [`ServiceRoute`]: who handles it and the base URL the
//! client used, so that discovery documents point back at the mock itself.

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, Uri};
use axum::Router;
use serde_json::json;

use crate::contract::{json_response, ListenerKind, Service, ServiceRoute};
use crate::wire::{request_host, strip_port};

/// Request extension put by a dedicated listener: the `(provider, service)` it serves at its root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dedicated(pub (&'static str, &'static str));

/// Request extension: the run path prefix (`/__run/{id}`) that was stripped before routing, so
/// that URLs the mock hands out (discovery documents, redirects) keep it.
#[derive(Clone, Debug)]
pub struct RunPrefix(pub String);

struct Mounted {
    provider: &'static str,
    service: Service,
}

/// A namespace's services, ready to route to.
pub struct Services {
    mounted: Vec<Mounted>,
}

/// A request routed to a service: the route it carries and the router that serves it; the
/// request's URI is already the path below the service root.
pub struct Routed {
    pub route: ServiceRoute,
    pub router: Router,
    /// The path below the service root: what fault rules' routes match.
    pub inner_path: String,
}

/// Why no service took a request, and the answer that says so.
pub struct Unrouted {
    /// The service the request named, when it was served on another listener.
    pub owner: Option<(&'static str, &'static str)>,
    pub answer: Response<Body>,
}

impl Services {
    pub fn new(services: impl IntoIterator<Item = (&'static str, Service)>) -> Services {
        Services { mounted: services.into_iter().map(|(provider, service)| Mounted { provider, service }).collect() }
    }

    /// The `(provider, service)` whose real hostnames include `hostname`.
    pub fn owner_of_host(&self, hostname: &str) -> Option<(&'static str, &'static str)> {
        self.by_host(hostname).map(|m| (m.provider, m.service.spec.name))
    }

    /// Whether the request's Host header names a provider's real host (then `/__admin` is a
    /// path of that provider, not the mock's admin API).
    pub fn is_service_host(&self, req: &Request<Body>) -> bool {
        let host = request_host(req);
        self.by_host(&strip_port(&host).to_ascii_lowercase()).is_some()
    }

    fn by_host(&self, hostname: &str) -> Option<&Mounted> {
        self.mounted.iter().find(|m| m.service.spec.hosts.contains(&hostname))
    }

    fn by_name(&self, provider: &str, service: &str) -> Option<&Mounted> {
        self.mounted.iter().find(|m| m.provider == provider && m.service.spec.name == service)
    }

    /// The service of `req` on `listener` (whose Host header is `host`), with the request's URI
    /// rewritten to the path below the service root.
    pub fn route(&self, req: &mut Request<Body>, listener: ListenerKind, host: &str) -> Result<Routed, Unrouted> {
        let path = req.uri().path().to_owned();
        let hostname = strip_port(host).to_ascii_lowercase();
        let dedicated = req.extensions().get::<Dedicated>().copied();
        let run_prefix = req.extensions().get::<RunPrefix>().map(|p| p.0.clone()).unwrap_or_default();
        let own = dedicated.and_then(|Dedicated((p, s))| self.by_name(p, s));
        let by_host = if dedicated.is_none() { self.by_host(&hostname) } else { None };
        let (mounted, inner_path, prefix) = if let Some(m) = own.or(by_host) {
            (m, path.clone(), run_prefix)
        } else if let Some((m, rest)) = self.by_prefix(&path) {
            (m, rest.to_owned(), format!("{run_prefix}{}", &path[..path.len() - rest.len()]))
        } else {
            return Err(Unrouted { owner: None, answer: self.not_found(listener, &path) });
        };
        let spec = mounted.service.spec;
        if own.is_none() && !spec.listeners.contains(&listener) {
            return Err(Unrouted {
                owner: Some((mounted.provider, spec.name)),
                answer: wrong_listener(mounted, listener),
            });
        }
        let route = ServiceRoute {
            provider: mounted.provider,
            service: spec.name,
            listener,
            base_url: format!("{}://{}{}", listener.scheme(), host, prefix),
            prefix,
            real_host: by_host.map(|_| hostname),
        };
        let inner_path = if inner_path.is_empty() { "/".to_owned() } else { inner_path };
        let inner_uri = match req.uri().query() {
            Some(q) => format!("{inner_path}?{q}"),
            None => inner_path.clone(),
        };
        *req.uri_mut() = inner_uri.parse::<Uri>().unwrap_or_else(|_| Uri::from_static("/"));
        req.extensions_mut().insert(route.clone());
        Ok(Routed { route, router: mounted.service.router.clone(), inner_path })
    }

    fn by_prefix<'a>(&self, path: &'a str) -> Option<(&Mounted, &'a str)> {
        let mut parts = path.splitn(4, '/').skip(1);
        let (provider, service) = (parts.next()?, parts.next()?);
        let mounted = self.by_name(provider, service)?;
        let rest = &path[1 + provider.len() + 1 + service.len()..];
        Some((mounted, rest))
    }

    fn not_found(&self, listener: ListenerKind, path: &str) -> Response<Body> {
        let services: Vec<String> = self
            .mounted
            .iter()
            .filter(|m| m.service.spec.listeners.contains(&listener))
            .map(|m| format!("/{}/{}", m.provider, m.service.spec.name))
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
}

fn wrong_listener(m: &Mounted, listener: ListenerKind) -> Response<Body> {
    let served: Vec<&str> = m.service.spec.listeners.iter().map(|l| l.name()).collect();
    json_response(
        StatusCode::MISDIRECTED_REQUEST,
        json!({
            "error": "wrong_listener",
            "message": format!("{}.{} is not served on the {} listener; it is served on: {}",
                m.provider, m.service.spec.name, listener.name(), served.join(", ")),
        }),
    )
}
