//! Who calls the REST API: what every handler takes from its request ([`Ctx`]), and the
//! caller its key, token or Basic credentials name ([`Caller`]), checked against the
//! installation an endpoint is about.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Response};

use super::access::Access;
use super::credentials;
use super::errors;
use super::provider::IotOpen;
use crate::contract::{ConnInfo, ListenerKind, ServiceRoute};
use crate::journal::EventKind;

/// Who called, once the key passed.
pub struct Caller {
    pub access: Access,
    /// Digest of the presented token (the key it is stored under).
    pub digest: String,
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

impl IotOpen {
    /// The caller of a REST request, from its key (401 when there is none that works).
    pub(super) fn authenticate(&self, ctx: &Ctx, endpoint: &str) -> Result<Caller, Response<Body>> {
        let deny = |reason: &str| {
            self.ns.record(
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
        self.ns.record(
            &ctx.route,
            EventKind::ApiAuthorized {
                endpoint: endpoint.to_owned(),
                client_id: access.principal.clone(),
                token_id,
            },
        );
        Ok(Caller { access, digest })
    }

    /// 403 unless the caller may do `action` on `installation`.
    pub(super) fn allow(
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
        self.ns.record(
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

/// A numeric path segment, or 400 naming it.
pub(super) fn id(name: &str, raw: &str) -> Result<i64, Response<Body>> {
    raw.parse::<i64>().map_err(|_| errors::bad_request(format!("{name} must be a number, not '{raw}'")))
}
