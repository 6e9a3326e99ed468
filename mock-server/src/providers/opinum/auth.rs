//! How the API and push services check Opinum's access tokens (`tokens.rs`), as Opinum's
//! ASP.NET services do.

use axum::body::Body;
use axum::http::{HeaderMap, Response};

use super::errors::{forbidden, unauthorized};
use super::provider::Opinum;
use super::tokens::AccessClaims;
use crate::contract::ServiceRoute;
use crate::journal::EventKind;
use crate::wire::Authorization;

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
        o.ns.record(route, EventKind::ApiDenied { endpoint: endpoint.to_owned(), status, reason, client_id });
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
    let now = o.ns.clock.unix();
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
    o.ns.record(
        route,
        EventKind::ApiAuthorized {
            endpoint: endpoint.to_owned(),
            client_id: claims.client_id.clone(),
            token_id: claims.jti.clone(),
        },
    );
    Ok(Caller { claims })
}
