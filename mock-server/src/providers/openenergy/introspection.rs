//! RFC 7662 token introspection (`POST /token/introspection`), over mTLS by a registered client:
//! the caller authenticates with `tls_client_auth` like at the token endpoint (401
//! `invalid_client` otherwise) and sends `token` and `client_id` (plus an optional
//! `token_type_hint`), which is what the package's `AccessTokenValidator` and
//! `FAPISession.introspection_response` send.
//!
//! An active token is described with the directory's fields (docs/providers/openenergy.md#introspection):
//! `active, client_id, scope, token_type, iat, exp, iss, cnf {x5t#S256}` and the organisation and
//! software statement it was issued to. Unknown, expired (on the virtual clock), forgotten (the
//! store is bounded) or revoked-certificate tokens are just `{"active": false}` (RFC 7662 §2.2).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use axum::Extension;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::authorization::read_form;
use super::client_auth::{authenticate, presented};
use super::errors::{no_store_json, OAuthError};
use super::fixtures::Fixtures;
use super::store::TokenRecord;
use super::provider::OpenEnergy;
use crate::journal::EventKind;
use crate::contract::ServiceRoute;
use crate::contract::ConnInfo;
use crate::tokens::token_id;

/// The record of a token that is active now, or why it is not.
pub fn active_token(
    oe: &OpenEnergy,
    f: &Fixtures,
    token: &str,
    now: DateTime<Utc>,
) -> Result<TokenRecord, String> {
    let record = oe
        .tokens
        .get(token)
        .ok_or_else(|| "unknown token (never issued, forgotten, or from before a reset)".to_owned())?;
    let now = now.timestamp();
    if now >= record.exp {
        return Err(format!("token expired {} s ago", now - record.exp));
    }
    if let Some(revoked) = f.revocation(&record.thumbprint, &record.serial) {
        return Err(format!(
            "the certificate the token is bound to has been revoked{}",
            if revoked.reason.is_empty() { String::new() } else { format!(": {}", revoked.reason) }
        ));
    }
    if f.statement(&record.software_statement_id).is_none() {
        return Err(format!("software statement '{}' is no longer in the directory", record.software_statement_id));
    }
    Ok(record)
}

/// The introspection answer for an active token.
pub fn describe(f: &Fixtures, record: &TokenRecord) -> Value {
    let registered = f.statement(&record.software_statement_id);
    let (org, statement) = (registered.map(|r| r.organisation), registered.map(|r| r.statement));
    json!({
        "active": true,
        "client_id": record.client_id,
        "scope": record.scopes.join(" "),
        "token_type": "Bearer",
        "iat": record.iat,
        "exp": record.exp,
        "iss": record.iss,
        "cnf": {"x5t#S256": record.thumbprint},
        "organisation_id": record.organisation_id,
        "organisation_name": org.map(|o| o.name.as_str()),
        "organisation_number": org.map(|o| o.registration_number.as_str()),
        "software_roles": statement.map(|s| s.roles.clone()).unwrap_or_default(),
        "software_description": statement.map(|s| s.description.as_str()),
        "additional_software_metadata": {"metadata": statement.map(|s| json!(s.metadata)).unwrap_or_else(|| json!({}))},
    })
}

/// `POST /token/introspection`.
pub async fn introspect(
    State(oe): State<Arc<OpenEnergy>>,
    Extension(route): Extension<ServiceRoute>,
    conn: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let now = oe.ns.clock.now();
    let fixtures = oe.fixtures();
    let f = &fixtures;
    let cert = presented(&oe.ns, f, conn.as_ref().map(|c| &c.0), &headers, false);
    let checked = match read_form(&headers, body).await {
        Ok(form) => authenticate(f, cert.as_ref().map_err(String::as_str), form.get("client_id"), now)
            .map(|caller| (caller.statement.client_id.clone(), form)),
        Err(e) => Err(e),
    };
    let (caller, form) = match checked {
        Ok(ok) => ok,
        Err(e) => {
            oe.ns.record(
                &route,
                EventKind::ApiDenied {
                    endpoint: "/token/introspection".into(),
                    status: e.status.as_u16(),
                    reason: format!("{}: {}", e.error, e.description),
                    client_id: None,
                },
            );
            return e.into_response();
        }
    };
    let Some(token) = form.get("token") else {
        return OAuthError::invalid_request("missing required parameter 'token'").into_response();
    };
    let (body, active, reason) = match active_token(&oe, f, token, now) {
        Ok(record) => (describe(f, &record), true, None),
        Err(why) => (json!({"active": false}), false, Some(why)),
    };
    oe.ns
        .record(&route, EventKind::TokenIntrospected { client_id: caller, token_id: token_id(token), active, reason });
    let mut r = Response::new(Body::from(body.to_string()));
    no_store_json(r.headers_mut());
    r
}
