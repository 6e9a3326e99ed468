//! What every Open Energy resource server does before answering (the data provider and the
//! directory API): FAPI 1.0 §6.2.1's checks, in the order of the package's
//! `AccessTokenValidator.introspects`:
//!
//! 1. no client certificate → 401 `WWW-Authenticate: Bearer `
//! 2. no `Authorization`, or not `Bearer ` (case-insensitive) → 401 `Bearer `
//! 3. token not active (unknown, expired, revoked) → 401 `error="invalid_token"`
//! 4. `iat` in the future, `exp` passed (virtual clock) → 401 `invalid_token`
//! 5. `cnf.x5t#S256` not the presented certificate's → 401 `invalid_token`
//! 6. the endpoint's scope not among the token's (case-insensitive) → 403 `insufficient_scope`
//!
//! A token in the query string (`?access_token=`, RFC 6750 §2.3) is never accepted (FAPI 1.0
//! §6.2.1.11 forbids it): such a request is refused, 401 `invalid_request`, after step 1.
//!
//! [`fapi_headers`] then gives every answer, refusals included, `Date` (the virtual clock) and
//! `x-fapi-interaction-id` (the request's, or a new UUID).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode, Uri};
use axum::middleware::Next;

use super::client_auth::presented;
use super::errors::{http_date, BearerError};
use super::introspection::active_token;
use super::store::TokenRecord;
use super::provider::OpenEnergy;
use crate::journal::EventKind;
use crate::contract::ServiceRoute;
use crate::contract::ConnInfo;

pub const INTERACTION_ID: &str = "x-fapi-interaction-id";

/// What is being protected.
pub struct Protected<'a> {
    /// For the journal, e.g. `/datasets/x`.
    pub endpoint: &'a str,
    /// The scope the token must carry, if any.
    pub scope: Option<&'a str>,
    /// Whether a trusted proxy's `X-OE-CLIENT-CERT` counts (the data provider only).
    pub proxy_header: bool,
}

/// The six checks: the token's record, or (journaled) the refusal to send.
pub fn admit(
    oe: &OpenEnergy,
    route: &ServiceRoute,
    conn: Option<&ConnInfo>,
    uri: &Uri,
    headers: &HeaderMap,
    what: &Protected<'_>,
) -> Result<TokenRecord, Response<Body>> {
    let fixtures = oe.fixtures();
    let f = &fixtures;
    let deny = |e: BearerError, reason: String, client_id: Option<String>| {
        oe.ns.record(
            route,
            EventKind::ApiDenied { endpoint: what.endpoint.to_owned(), status: e.status.as_u16(), reason, client_id },
        );
        e.into_response()
    };
    // 1. A client certificate.
    let certificate = presented(&oe.ns, f, conn, headers, what.proxy_header)
        .map_err(|why| deny(BearerError::unauthenticated(), why, None))?;
    // Never a token in the query.
    let in_query = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).any(|(k, _)| k == "access_token");
    if in_query {
        return Err(deny(
            BearerError::invalid_request(StatusCode::UNAUTHORIZED, what.scope),
            "access token in the query string: FAPI never accepts it there; send it in the Authorization header".into(),
            None,
        ));
    }
    // 2. A bearer token in the header, read as the package reads it.
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(deny(BearerError::unauthenticated(), "no Authorization header".into(), None));
    };
    let raw = value.as_bytes();
    if raw.len() < 7 || !raw[..7].eq_ignore_ascii_case(b"bearer ") {
        return Err(deny(
            BearerError::unauthenticated(),
            "the Authorization header does not carry a Bearer token".into(),
            None,
        ));
    }
    let token = String::from_utf8_lossy(&raw[7..]);
    // 3. Active.
    let now = oe.ns.clock.now();
    let record =
        active_token(oe, f, &token, now).map_err(|why| deny(BearerError::invalid_token(what.scope), why, None))?;
    let client = Some(record.client_id.clone());
    // 4. Times.
    let unix = now.timestamp();
    if unix < record.iat {
        return Err(deny(
            BearerError::invalid_token(what.scope),
            format!("token issued in the future (iat {} > now {unix})", record.iat),
            client,
        ));
    }
    if unix > record.exp {
        return Err(deny(
            BearerError::invalid_token(what.scope),
            format!("token expired {} s ago", unix - record.exp),
            client,
        ));
    }
    // 5. Bound to this certificate.
    if record.thumbprint != certificate.thumbprint {
        return Err(deny(
            BearerError::invalid_token(what.scope),
            format!(
                "token bound to certificate x5t#S256 {} presented with certificate {} ({})",
                record.thumbprint, certificate.thumbprint, certificate.details.subject
            ),
            client,
        ));
    }
    // 6. The scope.
    if let Some(scope) = what.scope {
        if !record.scopes.iter().any(|s| s.eq_ignore_ascii_case(scope)) {
            return Err(deny(
                BearerError::insufficient_scope(scope),
                format!("scope '{scope}' required; the token has '{}'", record.scopes.join(" ")),
                client,
            ));
        }
    }
    oe.ns.record(
        route,
        EventKind::ApiAuthorized {
            endpoint: what.endpoint.to_owned(),
            client_id: record.client_id.clone(),
            token_id: record.token_id.clone(),
        },
    );
    tracing::debug!(client_id = %record.client_id, token = %record.token_id, "admitted to {} (certificate via {})", what.endpoint, certificate.via);
    Ok(record)
}

/// Middleware of the resource servers: `Date` on the virtual clock and the FAPI interaction id
/// on every response.
pub async fn fapi_headers(State(oe): State<Arc<OpenEnergy>>, request: Request, next: Next) -> Response<Body> {
    let interaction =
        request.headers().get(INTERACTION_ID).cloned().unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("a UUID is a header value")
        });
    let mut response = next.run(request).await;
    let date = http_date(oe.ns.clock.now());
    let headers = response.headers_mut();
    headers.insert(header::DATE, HeaderValue::from_str(&date).expect("an HTTP date is a header value"));
    headers.insert(INTERACTION_ID, interaction);
    response
}
