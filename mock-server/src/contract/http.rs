//! HTTP between the front door and a provider: the listeners a service is served on, the
//! services a provider declares (their real hostnames, listeners and routers), and what the
//! front door puts into every request it hands over.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::Router;
use serde::Serialize;

use crate::journal::Origin;
use crate::tls::PeerCertificate;

/// The kind of a listener; services say on which kinds they are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKind {
    Http,
    Https,
    Mtls,
}

impl ListenerKind {
    pub fn scheme(self) -> &'static str {
        match self {
            ListenerKind::Http => "http",
            ListenerKind::Https | ListenerKind::Mtls => "https",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ListenerKind::Http => "http",
            ListenerKind::Https => "https",
            ListenerKind::Mtls => "mtls",
        }
    }
}

/// Request extension: facts about the connection a request came in on.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    pub listener: ListenerKind,
    pub remote: SocketAddr,
    /// The client certificate, verified against the dev CA (mTLS listener only).
    pub peer_certificate: Option<PeerCertificate>,
}

/// What a provider declares about one of its services, known before anything is built: the
/// server certificate names every host, and the endpoints document every service.
#[derive(Debug)]
pub struct ServiceSpec {
    /// Short name: the service key is `{provider}.{name}` (`kalibrate.login`).
    pub name: &'static str,
    /// Real hostnames: a request with one of these in its Host header reaches this service.
    pub hosts: &'static [&'static str],
    /// Listeners it is served on; the first one gives its URL in the endpoints document.
    pub listeners: &'static [ListenerKind],
    /// Where it is also served at the root of a listener of its own, for clients that take only
    /// a host name (`--listen SERVICE=ADDR` moves or turns it off; tests bind a free port).
    pub dedicated: Option<SocketAddr>,
}

/// One service, ready to serve: its declaration and its router.
pub struct Service {
    pub spec: &'static ServiceSpec,
    /// Routes at the real paths, with the provider's own fallback for unknown paths.
    pub router: Router,
}

/// Request extension: which service is handling a request, and the base URL the client used to
/// reach it (so discovery documents can point back at the mock itself).
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

impl<'a> From<&'a ServiceRoute> for Origin<'a> {
    fn from(route: &'a ServiceRoute) -> Origin<'a> {
        Origin::new(route.provider, route.service)
    }
}

/// A JSON answer, in the providers' and the server's own error shapes alike.
pub fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r
}
