//! Proxy mode: the plain HTTP listener also acts as the client's HTTP proxy, so unchanged
//! clients reach the mock with only `HTTPS_PROXY`/`HTTP_PROXY` set (docs/proxy-mode.md).
//!
//! - `CONNECT host:443` for a real hostname that a service declares is answered `200` and the
//!   tunnel is served here: TLS is terminated with the server certificate (which names every
//!   real hostname, signed by the dev CA), asking for a client certificate where that service
//!   is served on the mTLS listener, and the requests inside are routed by their Host header.
//! - `CONNECT` to one of the mock's own listeners (`127.0.0.1:PORT`: clients with a proxy set
//!   for everything also send the mock's own URLs through it) is served as that listener.
//! - Absolute-form plain-http requests (`GET http://host/path HTTP/1.1`) are routed by host.
//!
//! Nothing is ever forwarded: this module opens no socket. Any other destination is refused
//! with `403` and a message that names the hosts that are emulated.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use serde_json::json;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::handler::{handler, Handler};
use super::route::Dedicated;
use crate::contract::{json_response, ListenerKind};
use crate::tls::TlsSetup;

/// One of the server's own listeners, as a proxy destination.
#[derive(Clone, Debug)]
pub struct OwnListener {
    pub addr: SocketAddr,
    pub kind: ListenerKind,
    /// Set for a service's dedicated listener (served at its root).
    pub dedicated: Option<Dedicated>,
}

/// What the proxy knows: the real hostnames it answers for and the server's own listeners,
/// both set once the listeners are bound (no request arrives before).
pub struct Proxy {
    routes: OnceLock<Routes>,
    server_tls: TlsAcceptor,
    mtls: TlsAcceptor,
    shutdown: watch::Receiver<bool>,
}

struct Routes {
    /// Real hostname → the listener kind whose TLS it is served with (`Https`, or `Mtls` where
    /// the real host asks for a client certificate).
    hosts: BTreeMap<&'static str, ListenerKind>,
    own: Vec<OwnListener>,
}

/// Where a proxy request goes.
#[derive(Clone, Debug)]
pub enum Destination {
    /// A real hostname that a service declares: routed by the Host header.
    RealHost { host: String, kind: ListenerKind },
    /// One of the mock's own listeners.
    Own(OwnListener),
}

/// The only port of a real host that is tunnelled: the real providers serve HTTPS on 443.
const TLS_PORT: u16 = 443;

impl Proxy {
    pub fn new(tls: &TlsSetup, shutdown: watch::Receiver<bool>) -> Proxy {
        Proxy {
            routes: OnceLock::new(),
            server_tls: TlsAcceptor::from(tls.server_config.clone()),
            mtls: TlsAcceptor::from(tls.mtls_config.clone()),
            shutdown,
        }
    }

    /// Called once the listeners are bound. `hosts`: every real hostname with the listener
    /// kinds its service is served on.
    pub fn set_routes<'a>(
        &self,
        hosts: impl IntoIterator<Item = (&'static str, &'a [ListenerKind])>,
        own: Vec<OwnListener>,
    ) {
        let hosts = hosts
            .into_iter()
            .filter_map(|(host, kinds)| {
                let kind = [ListenerKind::Https, ListenerKind::Mtls].into_iter().find(|k| kinds.contains(k))?;
                Some((host, kind))
            })
            .collect();
        let _ = self.routes.set(Routes { hosts, own });
    }

    fn host(&self, host: &str) -> Option<ListenerKind> {
        self.routes.get()?.hosts.get(host).copied()
    }

    /// The real hostnames the proxy answers for.
    pub fn hostnames(&self) -> Vec<&'static str> {
        self.routes.get().map(|r| r.hosts.keys().copied().collect()).unwrap_or_default()
    }

    /// `CONNECT host:port`: the destination, or why it is refused.
    pub fn connect_destination(&self, authority: &str) -> Result<Destination, Refusal> {
        let (host, port) =
            split_authority(authority).ok_or_else(|| Refusal::Malformed(format!("'{authority}' is not host:port")))?;
        if let Some(kind) = self.host(&host) {
            if port != TLS_PORT {
                return Err(Refusal::NotEmulated(format!("{host} is emulated on port {TLS_PORT} only, not {port}")));
            }
            return Ok(Destination::RealHost { host, kind });
        }
        self.own_listener(&host, port).map(Destination::Own).ok_or_else(|| Refusal::NotEmulated(self.unknown(&host)))
    }

    /// An absolute-form plain-http request for `authority`: the destination, or why it is refused.
    pub fn plain_destination(&self, authority: &str) -> Result<Destination, Refusal> {
        let (host, port) = split_authority(authority).unwrap_or_else(|| (authority.to_ascii_lowercase(), 80));
        if let Some(kind) = self.host(&host) {
            return Ok(Destination::RealHost { host, kind });
        }
        match self.own_listener(&host, port) {
            Some(own) if own.kind == ListenerKind::Http => Ok(Destination::Own(own)),
            Some(_) => {
                Err(Refusal::NotEmulated(format!("{authority} is a TLS listener: send https:// URLs through CONNECT")))
            }
            None => Err(Refusal::NotEmulated(self.unknown(&host))),
        }
    }

    fn unknown(&self, host: &str) -> String {
        format!(
            "{host} is not a host this mock emulates, and the mock never connects anywhere else; emulated hosts: {}",
            self.hostnames().join(", ")
        )
    }

    fn own_listener(&self, host: &str, port: u16) -> Option<OwnListener> {
        let ip: Option<IpAddr> = match host {
            "localhost" => None,
            other => Some(other.parse().ok()?),
        };
        self.routes
            .get()?
            .own
            .iter()
            .find(|l| {
                l.addr.port() == port
                    && ip.is_none_or(|ip| {
                        ip == l.addr.ip()
                            || (ip.is_loopback() && (l.addr.ip().is_loopback() || l.addr.ip().is_unspecified()))
                    })
            })
            .cloned()
    }

    /// Answers a `CONNECT` with `200`, carrying the [`Tunnel`] the connection then serves with
    /// `inner` once the client has the answer: TLS with the destination's certificate, then
    /// HTTP inside.
    pub fn tunnel(&self, destination: Destination, inner: Handler) -> Response<Body> {
        let (kind, dedicated) = match &destination {
            Destination::RealHost { kind, .. } => (*kind, None),
            Destination::Own(own) => (own.kind, own.dedicated),
        };
        let acceptor = match kind {
            ListenerKind::Http => None,
            ListenerKind::Https => Some(self.server_tls.clone()),
            ListenerKind::Mtls => Some(self.mtls.clone()),
        };
        let handler = match dedicated {
            None => inner,
            Some(target) => handler(move |mut req: Request<Body>| {
                req.extensions_mut().insert(target);
                inner(req)
            }),
        };
        let mut answer = Response::new(Body::empty());
        answer.extensions_mut().insert(Tunnel { kind, acceptor, handler, shutdown: self.shutdown.clone() });
        answer
    }
}

/// Response extension of an accepted `CONNECT`: how to serve the connection it turns into.
#[derive(Clone)]
pub struct Tunnel {
    /// The listener the tunnel is served as.
    pub kind: ListenerKind,
    /// TLS inside the tunnel, with the destination's certificate; `None` for plain HTTP.
    pub acceptor: Option<TlsAcceptor>,
    pub handler: Handler,
    /// The server's shutdown signal: a tunnel is no listener's connection, so it watches this.
    pub shutdown: watch::Receiver<bool>,
}

/// An absolute-form request turned into the origin-form request its destination would get.
pub fn origin_form(mut req: Request<Body>, authority: &str, destination: &Destination) -> Request<Body> {
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

/// A request that asks the listener to act as a proxy: `CONNECT`, or an absolute-form request
/// line (`GET http://host/path HTTP/1.1`). HTTP/2 requests always carry an authority, so only
/// HTTP/1 request lines count.
pub enum ProxyRequest {
    Connect(String),
    AbsoluteForm(String),
}

impl ProxyRequest {
    pub fn of(req: &Request<Body>) -> Option<ProxyRequest> {
        if req.method() == Method::CONNECT {
            let authority = req.uri().authority().map(|a| a.to_string()).unwrap_or_default();
            return Some(ProxyRequest::Connect(authority));
        }
        if req.version() <= Version::HTTP_11 && req.uri().scheme().is_some() {
            return req.uri().authority().map(|a| ProxyRequest::AbsoluteForm(a.to_string()));
        }
        None
    }
}

/// Why the proxy does not serve a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The target is not `host:port` (`400`).
    Malformed(String),
    /// A destination this mock does not emulate (`403`): it never connects anywhere else.
    NotEmulated(String),
}

impl Refusal {
    pub fn reason(&self) -> &str {
        match self {
            Refusal::Malformed(r) | Refusal::NotEmulated(r) => r,
        }
    }

    /// The answer, with the reason and what to do instead.
    pub fn response(&self) -> Response<Body> {
        let (status, error) = match self {
            Refusal::Malformed(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Refusal::NotEmulated(_) => (StatusCode::FORBIDDEN, "proxy_refused"),
        };
        json_response(
            status,
            json!({
                "error": error,
                "message": self.reason(),
                "hint": "set NO_PROXY for hosts the mock should not see, or point the client at the mock's service URL",
            }),
        )
    }
}

/// `host:port` (IPv6 in brackets) → lower-case host and port.
fn split_authority(authority: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        (host, port)
    } else {
        authority.rsplit_once(':')?
    };
    let port = port.parse().ok()?;
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn authorities_split() {
        assert_eq!(split_authority("login.microsoftonline.com:443"), Some(("login.microsoftonline.com".into(), 443)));
        assert_eq!(split_authority("[::1]:8443"), Some(("::1".into(), 8443)));
        assert_eq!(split_authority("Knoema.COM:80"), Some(("knoema.com".into(), 80)));
        assert_eq!(split_authority("knoema.com"), None);
        assert_eq!(split_authority(":443"), None);
        assert_eq!(split_authority("host:99999"), None);
    }

    proptest! {
        #[test]
        fn any_authority_splits_or_is_refused(s in "\\PC{0,40}") {
            let _ = split_authority(&s);
        }
    }
}
