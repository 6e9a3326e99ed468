//! A namespace's door: where every request of the namespace (the default one, or a run) goes
//! once its namespace is known. In order:
//! 1. a proxy request (`CONNECT`, or an absolute-form request line) on the plain HTTP listener
//!    goes to the proxy ([`super::proxy`]): an absolute-form request is served as if it had been
//!    sent to its destination, a `CONNECT` becomes a tunnel whose requests come back here;
//! 2. `/__admin/...` on the plain HTTP listener goes to the namespace's admin API, unless the
//!    Host header names a provider's real host;
//! 3. anything else is an exchange, journaled once ([`super::exchange`]): routed to its service
//!    ([`super::route`]), where a fault rule may fire first ([`super::fault`]). It is served
//!    inside its exchange's scope, so that what its handler records is tied to it, and what its
//!    service left of the request body is read before the answer goes ([`super::unread_body`]).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response};
use axum::Router;
use tower::ServiceExt;

use super::exchange::PendingExchange;
use super::fault;
use super::handler::handler;
use super::proxy::{origin_form, Destination, Proxy, ProxyRequest, Refusal};
use super::route::{Dedicated, Services};
use super::unread_body::HeldBody;
use crate::contract::{ConnInfo, ListenerKind};
use crate::journal::within_exchange;
use crate::namespace::{FaultPoint, Namespace};

pub struct Door {
    ns: Arc<Namespace>,
    services: Services,
    admin: Router,
    proxy: Arc<Proxy>,
}

impl Door {
    pub fn new(ns: Arc<Namespace>, services: Services, admin: Router, proxy: Arc<Proxy>) -> Door {
        Door { ns, services, admin, proxy }
    }

    pub fn namespace(&self) -> &Arc<Namespace> {
        &self.ns
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
                // The server's runs API answers only requests sent to the mock itself.
                Ok(Destination::Own(_)) if is_runs_admin(req.uri().path()) => Some(Refusal::NotEmulated(format!(
                    "the runs API is not served through the proxy: send http://{authority}{} to the mock itself",
                    req.uri().path()
                ))),
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
            && is_admin(listener, req.uri().path())
            && !self.services.is_service_host(&req)
        {
            return self.admin.clone().oneshot(req).await.unwrap_or_else(|e| match e {});
        }
        let mut record = PendingExchange::begin(&self.ns, &req, listener);
        let id = record.id;
        let serving = async {
            if let (Some(ProxyRequest::Connect(authority)), None) = (&proxied, &refused) {
                return self.clone().connect(authority, &mut record);
            }
            let (req, held) = HeldBody::hold(req);
            let response = match refused {
                Some(refusal) => refusal.response(),
                None if self.ns.records_bodies() => {
                    let req = record.tee_request(req);
                    let response = self.serve(req, listener, &mut record).await;
                    record.capture_response(response).await
                }
                None => self.serve(req, listener, &mut record).await,
            };
            if let Some(held) = held {
                held.discard_rest().await;
            }
            response
        };
        let response = within_exchange(id, serving).await;
        record.finish(&response);
        response
    }

    /// `CONNECT`: a tunnel whose requests come back to this door, or the proxy's refusal.
    fn connect(self: Arc<Self>, authority: &str, record: &mut PendingExchange<'_>) -> Response<Body> {
        let destination = match self.proxy.connect_destination(authority) {
            Ok(d) => d,
            Err(refusal) => {
                tracing::warn!("CONNECT {authority} refused: {}", refusal.reason());
                return refusal.response();
            }
        };
        if let Destination::RealHost { host, .. } = &destination {
            record.owner = self.services.owner_of_host(host);
        }
        let door = self.clone();
        self.proxy.tunnel(destination, handler(move |req| door.clone().handle(req)))
    }

    /// A request for a service: routed, then answered by a fault rule or by the service.
    async fn serve(
        &self,
        mut req: Request<Body>,
        listener: ListenerKind,
        record: &mut PendingExchange<'_>,
    ) -> Response<Body> {
        let (method, host) = record.method_and_host();
        let (method, host) = (method.to_owned(), host.to_owned());
        let path = req.uri().path().to_owned();
        let routed = match self.services.route(&mut req, listener, &host) {
            Ok(routed) => routed,
            Err(unrouted) => {
                record.owner = unrouted.owner;
                return unrouted.answer;
            }
        };
        let route = &routed.route;
        record.owner = Some((route.provider, route.service));
        let at = FaultPoint {
            provider: route.provider,
            service: route.service,
            method: &method,
            route: &routed.inner_path,
            shown: &path,
        };
        match self.ns.fire_fault(at) {
            Some(fired) => fault::apply(fired.action, req, routed.router).await,
            None => routed.router.oneshot(req).await.unwrap_or_else(|e| match e {}),
        }
    }
}

/// `/__admin/runs`: the server's, not a namespace's (`run_selection.rs` serves it).
fn is_runs_admin(path: &str) -> bool {
    path == "/__admin/runs" || path.starts_with("/__admin/runs/")
}

/// `/__admin` on the HTTP listener.
fn is_admin(listener: ListenerKind, path: &str) -> bool {
    listener == ListenerKind::Http && (path == "/__admin" || path.starts_with("/__admin/"))
}
