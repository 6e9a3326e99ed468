//! The authorization server (`openenergy.auth`, matls-auth.directory.energydata.org.uk), on the
//! mTLS listener: discovery, the token endpoint, JWKS, and a stub authorization endpoint.
//!
//! Discovery carries the seven keys the package's `FAPISession` requires (`issuer`,
//! `authorization_endpoint`, `token_endpoint`, `introspection_endpoint`, `jwks_uri`,
//! `scopes_supported`, `grant_types_supported`; it raises TypeError without one) and RFC 8705's
//! metadata. The package ignores `mtls_endpoint_aliases`, so the token and introspection
//! endpoints themselves are the mTLS URLs: the URL the client used (`ServiceRoute::base_url`).
//!
//! `POST /token`: `client_credentials` with `tls_client_auth` (the certificate is the client's
//! credential; no secret). Checked in node-oidc-provider's order: a form with `grant_type`
//! (400 `invalid_request`), client authentication (401 `invalid_client`), the grant type (400
//! `unsupported_grant_type`), the scope (400 `invalid_scope`). The token is opaque, random
//! (256 bits), lives `token_lifetime_seconds` (600) on the virtual clock, and is bound to the
//! certificate's `x5t#S256`, the client and the scopes.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};
use axum::Extension;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::client_auth::{authenticate, presented, Presented};
use super::errors::{no_store_json, unrecognized_route, OAuthError};
use super::fixtures::{Fixtures, Registered};
use super::store::TokenGrant;
use super::provider::OpenEnergy;
use crate::journal::EventKind;
use crate::contract::ServiceRoute;
use crate::contract::ConnInfo;
use crate::tokens::opaque_token;
use crate::wire::{read_body, Authorization, BodyError, Form, FormError};

/// Largest token or introspection request read.
pub const MAX_FORM_BODY: usize = 16 * 1024;

/// The issuer the client sees: the configured one at the real host, else the URL it used.
pub fn issuer(route: &ServiceRoute, fixtures: &Fixtures) -> String {
    match route.real_host {
        Some(_) => fixtures.issuer.clone(),
        None => route.base_url.clone(),
    }
}

fn json_ok(body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// `GET /.well-known/openid-configuration` (and RFC 8414's `oauth-authorization-server`).
pub async fn discovery(State(oe): State<Arc<OpenEnergy>>, Extension(route): Extension<ServiceRoute>) -> Response<Body> {
    let fixtures = oe.fixtures();
    let f = &fixtures;
    let base = &route.base_url;
    let token_endpoint = format!("{base}/token");
    let introspection_endpoint = format!("{base}/token/introspection");
    json_ok(json!({
        "issuer": issuer(&route, f),
        "authorization_endpoint": format!("{base}/auth"),
        "token_endpoint": token_endpoint,
        "introspection_endpoint": introspection_endpoint,
        "jwks_uri": format!("{base}/jwks"),
        "scopes_supported": f.scopes_supported,
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["fragment.jwt", "query.jwt", "jwt"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["PS256"],
        "token_endpoint_auth_methods_supported": ["tls_client_auth", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["PS256"],
        "introspection_endpoint_auth_methods_supported": ["tls_client_auth", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": ["PS256"],
        "tls_client_certificate_bound_access_tokens": true,
        "mtls_endpoint_aliases": {
            "token_endpoint": token_endpoint,
            "introspection_endpoint": introspection_endpoint,
        },
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "code_challenge_methods_supported": ["S256"],
    }))
}

/// `GET /jwks`: the key that signs the directory's software statement assertions.
pub async fn jwks(State(oe): State<Arc<OpenEnergy>>) -> Response<Body> {
    json_ok(json!({"keys": [oe.signer.jwk(json!({"alg": "RS256"}))]}))
}

/// `/auth`: the authorization endpoint is published (the package requires the key) but the
/// code flow is not emulated.
pub async fn authorize() -> Response<Body> {
    OAuthError::new(
        StatusCode::BAD_REQUEST,
        "unsupported_response_type",
        "the mock authorization server emulates the client credentials grant only (tls_client_auth); \
         the authorization code flow is not implemented",
    )
    .into_response()
}

pub async fn not_found(method: Method, uri: Uri) -> Response<Body> {
    unrecognized_route(&method, &uri)
}

/// What a refused request had told us, for the journal.
#[derive(Default, Debug)]
pub struct Seen {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
}

/// A valid token request.
#[derive(Debug)]
pub struct Grant<'f> {
    pub client: Registered<'f>,
    pub scopes: Vec<String>,
}

/// Reads a request body under the size limit, answering errors as OAuth errors.
pub async fn read_limited(body: Body) -> Result<bytes::Bytes, OAuthError> {
    read_body(body, MAX_FORM_BODY).await.map_err(|e| match e {
        BodyError::TooLarge(limit) => {
            let mut e = OAuthError::invalid_request(format!("the request body is larger than {limit} bytes"));
            e.status = StatusCode::PAYLOAD_TOO_LARGE;
            e
        }
        BodyError::Unreadable(m) => OAuthError::invalid_request(m),
    })
}

/// Reads a form under the size limit, answering errors as OAuth errors.
pub async fn read_form(headers: &HeaderMap, body: Body) -> Result<Form, OAuthError> {
    parse_form(headers, &read_limited(body).await?)
}

/// A form, or `invalid_request` saying why not.
pub fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<Form, OAuthError> {
    Form::from_request(headers, body).map_err(|e| match e {
        FormError::NotAForm => OAuthError::invalid_request(
            "only application/x-www-form-urlencoded content-type bodies are supported (RFC 6749 §4.4.2)",
        ),
        e => OAuthError::invalid_request(e.to_string()),
    })
}

/// Refuses other client authentication methods: the directory registers its clients for
/// `tls_client_auth`, and node-oidc-provider rejects a request whose mechanism differs.
fn other_auth_method(form: &Form, headers: &HeaderMap) -> Option<&'static str> {
    if form.get("client_secret").is_some() {
        return Some("client_secret_post");
    }
    if form.get("client_assertion").is_some() {
        return Some("private_key_jwt");
    }
    match Authorization::from_headers(headers) {
        Ok(Some(Authorization::Basic { .. })) => Some("client_secret_basic"),
        _ => None,
    }
}

/// The token endpoint's checks, in order.
pub fn check_token_request<'f>(
    f: &'f Fixtures,
    cert: Result<&Presented, &str>,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    seen: &mut Seen,
) -> Result<Grant<'f>, OAuthError> {
    let form = parse_form(headers, body)?;
    check_token_form(f, cert, headers, &form, now, seen)
}

fn check_token_form<'f>(
    f: &'f Fixtures,
    cert: Result<&Presented, &str>,
    headers: &HeaderMap,
    form: &Form,
    now: DateTime<Utc>,
    seen: &mut Seen,
) -> Result<Grant<'f>, OAuthError> {
    seen.grant_type = form.get("grant_type").map(str::to_owned);
    seen.client_id = form.get("client_id").map(str::to_owned);
    let grant_type =
        form.get("grant_type").ok_or_else(|| OAuthError::invalid_request("missing required parameter 'grant_type'"))?;
    if let Some(method) = other_auth_method(form, headers) {
        return Err(OAuthError::invalid_client(format!(
            "the client authenticates with tls_client_auth (its certificate); {method} is not its registered token_endpoint_auth_method"
        )));
    }
    let client = authenticate(f, cert, form.get("client_id"), now)?;
    if grant_type != "client_credentials" {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("unsupported grant_type requested ({grant_type}); the mock supports client_credentials"),
        ));
    }
    let allowed = &client.statement.scopes;
    let scopes: Vec<String> = match form.get("scope") {
        None => allowed.clone(),
        Some(requested) => {
            let mut scopes: Vec<String> = Vec::new();
            for s in requested.split_whitespace() {
                if !scopes.iter().any(|k| k == s) {
                    scopes.push(s.to_owned());
                }
            }
            let refused: Vec<&str> = scopes
                .iter()
                .map(String::as_str)
                .filter(|s| !allowed.iter().any(|a| a == s) || !f.scopes_supported.iter().any(|a| a == s))
                .collect();
            if !refused.is_empty() {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    format!(
                        "requested scope is not allowed ({}); client '{}' may have: {}",
                        refused.join(" "),
                        client.statement.client_id,
                        allowed.join(" ")
                    ),
                ));
            }
            scopes
        }
    };
    Ok(Grant { client, scopes })
}

/// `POST /token`.
pub async fn token(
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
    let mut seen = Seen::default();
    let checked = match read_limited(body).await {
        Ok(bytes) => check_token_request(f, cert.as_ref().map_err(String::as_str), &headers, &bytes, now, &mut seen),
        Err(e) => Err(e),
    };
    // A grant implies an authenticated certificate; the second arm only keeps that explicit.
    let checked = checked.and_then(|grant| match &cert {
        Ok(cert) => Ok((grant, cert.clone())),
        Err(why) => Err(OAuthError::invalid_client(why.clone())),
    });
    let (grant, cert) = match checked {
        Ok(ok) => ok,
        Err(e) => {
            oe.ns.record(
                &route,
                EventKind::TokenRejected {
                    grant: seen.grant_type,
                    client_id: seen.client_id,
                    error: e.error.to_owned(),
                    reason: e.description.clone(),
                    code: None,
                },
            );
            return e.into_response();
        }
    };
    let token = opaque_token(32);
    let iat = now.timestamp();
    let lifetime = f.token_lifetime_seconds;
    let granted = TokenGrant {
        client_id: grant.client.statement.client_id.clone(),
        software_statement_id: grant.client.statement.id.clone(),
        organisation_id: grant.client.organisation.id.clone(),
        scopes: grant.scopes.clone(),
        thumbprint: cert.thumbprint.clone(),
        serial: cert.details.serial.clone(),
        iss: issuer(&route, f),
    };
    let record = oe.tokens.insert(&token, granted, iat, iat + lifetime, f.max_tokens, iat);
    oe.ns.record(
        &route,
        EventKind::TokenIssued {
            grant: "client_credentials".into(),
            client_id: record.client_id.clone(),
            scopes: record.scopes.clone(),
            audience: None,
            token_id: record.token_id.clone(),
            expires_at: now + chrono::Duration::seconds(lifetime),
            bound_to: Some(record.thumbprint.clone()),
        },
    );
    tracing::debug!(client_id = %record.client_id, token = %record.token_id, "access token issued, bound to {}", record.thumbprint);
    let body = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": grant.scopes.join(" "),
    });
    let mut r = Response::new(Body::from(body.to_string()));
    no_store_json(r.headers_mut());
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        h
    }

    fn fixtures() -> Fixtures {
        crate::providers::Fixtures::load(&crate::fixtures::FixturesSource::Embedded).unwrap().openenergy
    }

    #[test]
    fn checks_come_in_order() {
        let f = fixtures();
        let now = Utc::now();
        let mut seen = Seen::default();
        let h = form_headers();
        let e = check_token_request(&f, Err("none"), &h, b"client_id=x", now, &mut seen).unwrap_err();
        assert_eq!((e.status.as_u16(), e.error), (400, "invalid_request"));
        let e =
            check_token_request(&f, Err("none"), &h, b"grant_type=password&client_id=x", now, &mut seen).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.error),
            (401, "invalid_client"),
            "client authentication before the grant type"
        );
        let e =
            check_token_request(&f, Err("none"), &h, b"grant_type=client_credentials&client_secret=s", now, &mut seen)
                .unwrap_err();
        assert_eq!(e.error, "invalid_client");
        let e =
            check_token_request(&f, Err("none"), &HeaderMap::new(), b"grant_type=client_credentials", now, &mut seen)
                .unwrap_err();
        assert_eq!(e.error, "invalid_request");
        let e = check_token_request(&f, Err("none"), &h, b"grant_type=a&grant_type=b", now, &mut seen).unwrap_err();
        assert_eq!(e.error, "invalid_request");
    }

    proptest! {
        #[test]
        fn token_request_checks_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let f = fixtures();
            let mut seen = Seen::default();
            let e = check_token_request(&f, Err("no certificate"), &form_headers(), &body, Utc::now(), &mut seen).unwrap_err();
            prop_assert!(matches!(e.status.as_u16(), 400 | 401));
        }

        #[test]
        fn token_forms_with_any_fields_are_refused_cleanly(
            fields in proptest::collection::btree_map("(grant_type|client_id|scope|client_secret|[a-z]{1,6})", ".{0,30}", 0..6)
        ) {
            let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields.iter()).finish();
            let f = fixtures();
            let mut seen = Seen::default();
            let e = check_token_request(&f, Err("no certificate"), &form_headers(), body.as_bytes(), Utc::now(), &mut seen).unwrap_err();
            prop_assert!(matches!(e.error, "invalid_request" | "invalid_client"), "{:?}", e);
        }
    }
}
