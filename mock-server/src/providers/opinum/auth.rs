//! Opinum's tokens and how the API and push services check them.
//!
//! Access tokens are RS256 JWTs (IdentityServer's default) with the user's `account`; refresh
//! tokens are opaque, single use (each refresh returns a new one) and kept in a bounded store.
//! Every expiry reads the virtual clock.

use std::sync::Mutex;

use axum::body::Body;
use axum::http::{HeaderMap, Response};
use serde::{Deserialize, Serialize};

use super::errors::{forbidden, unauthorized};
use super::Opinum;
use crate::bounded::BoundedMap;
use crate::journal::EventKind;
use crate::routing::ServiceRoute;
use crate::wire::Authorization;

pub const SCOPE_API: &str = "datahub-api";
pub const SCOPE_PUSH: &str = "push-data";
pub const SCOPE_OFFLINE: &str = "offline_access";
/// What older clients ask for instead of `datahub-api`.
pub const SCOPE_API_ALIAS: &str = "opisense-api";
pub const KNOWN_SCOPES: &[&str] = &[SCOPE_API, SCOPE_PUSH, SCOPE_OFFLINE, "openid", SCOPE_API_ALIAS];

/// Refresh tokens kept at once; the oldest are forgotten first.
const MAX_REFRESH_TOKENS: usize = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: Vec<String>,
    pub client_id: String,
    pub sub: String,
    /// The account the user works in.
    pub account: i64,
    pub scope: Vec<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// A refresh token's grant, kept server-side.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub client_id: String,
    pub username: String,
    pub account: i64,
    pub scopes: Vec<String>,
    pub expires_at: i64,
}

pub struct RefreshTokens(Mutex<BoundedMap<String, RefreshGrant>>);

impl Default for RefreshTokens {
    fn default() -> Self {
        RefreshTokens(Mutex::new(BoundedMap::new(MAX_REFRESH_TOKENS)))
    }
}

impl RefreshTokens {
    pub fn issue(&self, grant: RefreshGrant) -> String {
        let token = crate::tokens::opaque_token(32);
        self.0.lock().unwrap().insert(token.clone(), grant);
        token
    }

    /// Takes the grant out: a refresh token works once.
    pub fn redeem(&self, token: &str) -> Option<RefreshGrant> {
        self.0.lock().unwrap().remove(&token.to_owned())
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// Who called, once the bearer token passed.
pub struct Caller {
    pub claims: AccessClaims,
}

/// Checks the bearer token for `scope` as Opinum's ASP.NET services do: 401 (with the reason in
/// `WWW-Authenticate`) for a missing, foreign or expired token, 403 without the scope.
pub fn authorize(
    o: &Opinum,
    route: &ServiceRoute,
    headers: &HeaderMap,
    scope: &str,
    endpoint: &str,
) -> Result<Caller, Response<Body>> {
    let deny = |status: u16, reason: String, client_id: Option<String>| {
        o.core.record(route, EventKind::ApiDenied { endpoint: endpoint.to_owned(), status, reason, client_id });
    };
    let token = match Authorization::from_headers(headers) {
        Ok(Some(Authorization::Bearer(t))) => t,
        Ok(None) => {
            deny(401, "no Authorization header".into(), None);
            return Err(unauthorized(None));
        }
        Ok(Some(_)) | Err(_) => {
            deny(401, "the Authorization header is not a Bearer token".into(), None);
            return Err(unauthorized(Some(("invalid_token", "The token is not a bearer token"))));
        }
    };
    let claims: AccessClaims = match o.signer.verify(&token).map(serde_json::from_value) {
        Ok(Ok(c)) => c,
        _ => {
            deny(401, "the token was not issued by Opinum's identity server".into(), None);
            return Err(unauthorized(Some(("invalid_token", "The signature is invalid"))));
        }
    };
    let now = o.core.clock.unix();
    if claims.exp <= now {
        deny(401, format!("token expired {} s ago", now - claims.exp), Some(claims.client_id.clone()));
        let at = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_default().format("%m/%d/%Y %H:%M:%S");
        return Err(unauthorized(Some(("invalid_token", &format!("The token expired at '{at}'")))));
    }
    if claims.nbf > now {
        deny(401, format!("token not valid for another {} s", claims.nbf - now), Some(claims.client_id.clone()));
        return Err(unauthorized(Some(("invalid_token", "The token is not valid yet"))));
    }
    if !claims.scope.iter().any(|s| s == scope) {
        deny(
            403,
            format!("the token lacks the '{scope}' scope (it has: {})", claims.scope.join(" ")),
            Some(claims.client_id.clone()),
        );
        return Err(forbidden());
    }
    o.core.record(
        route,
        EventKind::ApiAuthorized {
            endpoint: endpoint.to_owned(),
            client_id: claims.client_id.clone(),
            token_id: claims.jti.clone(),
        },
    );
    Ok(Caller { claims })
}
