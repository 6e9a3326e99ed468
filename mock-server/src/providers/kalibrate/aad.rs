//! Azure AD (identity platform v2.0) as Kalibrate's clients meet it: tenant discovery (v2 and
//! v1), signing keys, instance discovery, and the client-credentials token endpoint.
//!
//! Discovery documents point at the mock itself: the scheme, host, port and path prefix the
//! client used (see `ServiceRoute::base_url`), so MSAL follows them back here.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::Extension;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::errors::{no_store_json, AadError};
use super::fixtures::{is_guid, Client, Fixtures, Tenant};
use super::provider::Kalibrate;
use crate::journal::EventKind;
use crate::contract::ServiceRoute;
use crate::tokens::{secrets_equal, token_id};
use crate::wire::{read_body, Authorization, BodyError, Form, FormError};

/// Largest token request body read; larger ones are refused unread.
pub const MAX_TOKEN_BODY: usize = 64 * 1024;

/// Resolves `{t}` of a URL: malformed → 900023, unknown → 90002.
fn resolve_tenant<'f>(k: &'f Fixtures, t: &str) -> Result<&'f Tenant, AadError> {
    if !is_guid(t) && !is_dns_name(t) {
        return Err(AadError::malformed_tenant(t));
    }
    k.tenant(t).ok_or_else(|| AadError::unknown_tenant(t))
}

/// The `{t}` segment of an Azure AD URL. A segment that does not decode to UTF-8 is a
/// malformed tenant (900023) in Azure AD's shape, not axum's plain-text rejection.
pub struct TenantSegment(pub String);

impl FromRequestParts<Arc<Kalibrate>> for TenantSegment {
    type Rejection = Response<Body>;

    async fn from_request_parts(parts: &mut Parts, k: &Arc<Kalibrate>) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, k).await {
            Ok(Path(t)) => Ok(TenantSegment(t)),
            Err(_) => {
                let raw = parts.uri.path().trim_start_matches('/').split('/').next().unwrap_or_default();
                Err(AadError::malformed_tenant(raw).into_response(k.ns.clock.now(), &parts.headers))
            }
        }
    }
}

fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
        })
}

fn json_with_cache(body: Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=86400, private"));
    r
}

/// How far before issue Azure AD dates a token's `iat` and `nbf`.
const CLOCK_SKEW_SECONDS: i64 = 300;

pub fn v1_issuer(tid: &str) -> String {
    format!("https://sts.windows.net/{tid}/")
}

/// `GET /{t}/v2.0/.well-known/openid-configuration`
pub async fn openid_configuration_v2(
    State(k): State<Arc<Kalibrate>>,
    Extension(route): Extension<ServiceRoute>,
    TenantSegment(t): TenantSegment,
    headers: HeaderMap,
) -> Response<Body> {
    let fixtures = k.fixtures();
    let tenant = match resolve_tenant(&fixtures, &t) {
        Ok(tenant) => tenant,
        Err(e) => return e.into_response(k.ns.clock.now(), &headers),
    };
    let base = &route.base_url;
    let tid = &tenant.id;
    json_with_cache(json!({
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        // Azure AD's issuer is the URL the document lives under (OIDC Discovery §4.3).
        "issuer": format!("{base}/{tid}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tid}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
            "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{base}/{tid}/kerberos"),
        "tenant_region_scope": tenant.region_scope,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
}

/// `GET /{t}/.well-known/openid-configuration` (v1.0 metadata).
pub async fn openid_configuration_v1(
    State(k): State<Arc<Kalibrate>>,
    Extension(route): Extension<ServiceRoute>,
    TenantSegment(t): TenantSegment,
    headers: HeaderMap,
) -> Response<Body> {
    let fixtures = k.fixtures();
    let tenant = match resolve_tenant(&fixtures, &t) {
        Ok(tenant) => tenant,
        Err(e) => return e.into_response(k.ns.clock.now(), &headers),
    };
    let base = &route.base_url;
    let tid = &tenant.id;
    json_with_cache(json!({
        "token_endpoint": format!("{base}/{tid}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tid}/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": v1_issuer(tid),
        "authorization_endpoint": format!("{base}/{tid}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{base}/{tid}/oauth2/devicecode"),
        "end_session_endpoint": format!("{base}/{tid}/oauth2/logout"),
        "tenant_region_scope": tenant.region_scope,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
}

/// `GET /{t}/discovery/v2.0/keys` and `/{t}/discovery/keys`.
pub async fn keys(
    State(k): State<Arc<Kalibrate>>,
    TenantSegment(t): TenantSegment,
    headers: HeaderMap,
) -> Response<Body> {
    let fixtures = k.fixtures();
    match resolve_tenant(&fixtures, &t) {
        Ok(tenant) => json_with_cache(json!({
            "keys": [k.signer.jwk(json!({"issuer": format!("https://login.microsoftonline.com/{}/v2.0", tenant.id)}))]
        })),
        Err(e) => e.into_response(k.ns.clock.now(), &headers),
    }
}

#[derive(Deserialize)]
pub struct InstanceQuery {
    authorization_endpoint: Option<String>,
}

/// `GET /common/discovery/instance`: MSAL's instance discovery. Answers for any authority: the
/// host the client used is reported as a known alias.
pub async fn instance_discovery(
    State(k): State<Arc<Kalibrate>>,
    Extension(route): Extension<ServiceRoute>,
    Query(q): Query<InstanceQuery>,
    headers: HeaderMap,
) -> Response<Body> {
    let Some(endpoint) = q.authorization_endpoint else {
        return AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50049,
            "Unknown or invalid instance: the authorization_endpoint parameter is required.",
        )
        .into_response(k.ns.clock.now(), &headers);
    };
    // The tenant is the first path segment after our own prefix, if the client used one.
    let path = endpoint.split("://").nth(1).and_then(|rest| rest.find('/').map(|i| &rest[i..])).unwrap_or("/");
    let path = path.strip_prefix(route.prefix.as_str()).unwrap_or(path);
    let tenant = path.trim_start_matches('/').split('/').next().unwrap_or("common");
    let host = route.base_url.split("://").nth(1).unwrap_or_default().split('/').next().unwrap_or_default().to_owned();
    let mut aliases = vec![host.clone()];
    for alias in ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"] {
        if alias != host {
            aliases.push(alias.to_owned());
        }
    }
    json_with_cache(json!({
        "tenant_discovery_endpoint": format!("{}/{tenant}/v2.0/.well-known/openid-configuration", route.base_url),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": aliases}],
    }))
}

/// Claims of a v1.0 access token, as Azure AD issues them for client credentials.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub aio: String,
    pub appid: String,
    pub appidacr: String,
    pub idp: String,
    pub oid: String,
    pub rh: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub roles: Vec<String>,
    pub sub: String,
    pub tid: String,
    pub uti: String,
    pub ver: String,
}

/// A stable object id for a client's service principal, derived from tenant and client id.
fn object_id(tid: &str, client_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{tid}/{client_id}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

/// What a valid token request asks for.
struct Grant<'f> {
    tenant: &'f Tenant,
    client: &'f Client,
    audience: String,
}

/// `POST /{t}/oauth2/v2.0/token`: client credentials only, with Azure AD's checks in its order.
pub async fn token(
    State(k): State<Arc<Kalibrate>>,
    Extension(route): Extension<ServiceRoute>,
    TenantSegment(t): TenantSegment,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let now = k.ns.clock.now();
    let fixtures = k.fixtures();
    let body = read_body(body, MAX_TOKEN_BODY).await;
    let mut seen = Seen::default();
    let checked = body
        .map_err(|e| match e {
            BodyError::TooLarge(limit) => {
                let mut e = AadError::invalid_request(&format!("the request body is larger than {limit} bytes"));
                e.status = StatusCode::PAYLOAD_TOO_LARGE;
                e
            }
            BodyError::Unreadable(m) => AadError::invalid_request(&m),
        })
        .and_then(|bytes| check_request(&fixtures, &t, &headers, &bytes, now, &mut seen));
    let grant = match checked {
        Ok(grant) => grant,
        Err(e) => {
            k.ns.record(
                &route,
                EventKind::TokenRejected {
                    grant: seen.grant_type,
                    client_id: seen.client_id,
                    error: e.error.to_owned(),
                    reason: e.message.clone(),
                    code: Some(e.code),
                },
            );
            return e.into_response(now, &headers);
        }
    };

    let lifetime = fixtures.token_lifetime_seconds;
    // Azure AD backdates `iat` and `nbf` by five minutes (clock skew); `exp` is from now.
    let iat = now.timestamp() - CLOCK_SKEW_SECONDS;
    let iss = v1_issuer(&grant.tenant.id);
    let oid = object_id(&grant.tenant.id, &grant.client.client_id);
    let uti = crate::tokens::opaque_token(16);
    let claims = AccessClaims {
        aud: grant.audience.clone(),
        iss: iss.clone(),
        iat,
        nbf: iat,
        exp: now.timestamp() + lifetime,
        aio: crate::tokens::opaque_token(48),
        appid: grant.client.client_id.clone(),
        appidacr: "1".into(),
        idp: iss,
        oid: oid.clone(),
        rh: format!("0.{}.", crate::tokens::opaque_token(32)),
        roles: grant.client.roles.clone(),
        sub: oid,
        tid: grant.tenant.id.clone(),
        uti: uti.clone(),
        ver: "1.0".into(),
    };
    let jwt = k.signer.sign(&claims);
    k.ns.record(
        &route,
        EventKind::TokenIssued {
            grant: "client_credentials".into(),
            client_id: grant.client.client_id.clone(),
            scopes: vec![format!("{}/.default", grant.audience)],
            audience: Some(grant.audience.clone()),
            token_id: uti,
            expires_at: now + Duration::seconds(lifetime),
            bound_to: None,
        },
    );
    tracing::debug!(client_id = %grant.client.client_id, token = %token_id(&jwt), "token issued");
    let body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": jwt,
    });
    let mut r = Response::new(Body::from(body.to_string()));
    no_store_json(r.headers_mut());
    r
}

/// What a rejected token request had told us before it failed, for the journal.
#[derive(Default)]
struct Seen {
    grant_type: Option<String>,
    client_id: Option<String>,
}

/// The token endpoint's checks, in Azure AD's order (docs/providers/kalibrate.md#token-endpoint-checks).
fn check_request<'f>(
    k: &'f Fixtures,
    t: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
    seen: &mut Seen,
) -> Result<Grant<'f>, AadError> {
    // 1. A form with grant_type.
    let form = match Form::from_request(headers, body) {
        Ok(form) => form,
        Err(FormError::NotAForm) => return Err(AadError::missing_parameter("grant_type")),
        Err(e) => return Err(AadError::invalid_request(&e.to_string())),
    };
    let grant_type = form.get("grant_type").ok_or_else(|| AadError::missing_parameter("grant_type"))?;
    seen.grant_type = Some(grant_type.to_owned());
    // The secret may come as HTTP Basic (client_secret_basic).
    let basic = match Authorization::from_headers(headers) {
        Ok(Some(Authorization::Basic { user, password })) => Some((user, password)),
        Ok(_) => None,
        Err(e) => return Err(AadError::invalid_request(&e.to_string())),
    };
    // 2. client_id.
    let client_id = form
        .get("client_id")
        .map(str::to_owned)
        .or_else(|| basic.as_ref().map(|(u, _)| u.clone()).filter(|u| !u.is_empty()))
        .ok_or_else(|| AadError::missing_parameter("client_id"))?;
    seen.client_id = Some(client_id.clone());
    // 3. The tenant.
    let tenant = resolve_tenant(k, t)?;
    // 4. The client in that tenant.
    let client = tenant.clients.iter().find(|c| c.client_id.eq_ignore_ascii_case(&client_id)).ok_or_else(|| {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application \
                 has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have \
                 sent your authentication request to the wrong tenant.",
                tenant.domains.first().unwrap_or(&tenant.id)
            ),
        )
    })?;
    // 5-6. The secret: present, right, not expired.
    let secret = form
        .get("client_secret")
        .map(str::to_owned)
        .or_else(|| basic.map(|(_, p)| p).filter(|p| !p.is_empty()))
        .ok_or_else(|| {
            AadError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        })?;
    if !secrets_equal(&secret, &client.secret) {
        return Err(AadError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the \
                 client secret ID, for a secret added to app '{}'.",
                client.client_id
            ),
        ));
    }
    if client.secret_expires.is_some_and(|at| at <= now) {
        return Err(AadError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000222,
            format!(
                "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: \
                 https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                client.client_id
            ),
        ));
    }
    // 7-9. The scope: `<resource>/.default`, for a resource of this tenant.
    let scope = form.get("scope").ok_or_else(|| AadError::missing_parameter("scope"))?;
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if let Some(bad) = scopes.iter().find(|s| !s.ends_with("/.default")) {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {bad} is not valid. Client credential flows must have a scope value with /.default \
                 suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    let resource = scopes[0].trim_end_matches("/.default");
    let known = tenant.apis.iter().any(|a| a.audience == resource);
    if scopes.len() != 1 || !known {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            format!("The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."),
        ));
    }
    // 10. The grant type.
    if grant_type != "client_credentials" {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    Ok(Grant { tenant, client, audience: resource.to_owned() })
}

/// A known path with the wrong method: the token endpoint says so as Azure AD does (900561).
pub async fn method_not_allowed(
    State(k): State<Arc<Kalibrate>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let e = if uri.path().ends_with("/oauth2/v2.0/token") {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900561,
            format!("The endpoint only accepts POST, OPTIONS requests. Received a {method} request."),
        )
    } else {
        let mut e = AadError::invalid_request(&format!("{method} is not supported here"));
        e.status = StatusCode::METHOD_NOT_ALLOWED;
        e
    };
    e.into_response(k.ns.clock.now(), &headers)
}

/// Unknown paths on the login service.
pub async fn not_found(State(k): State<Arc<Kalibrate>>, headers: HeaderMap) -> Response<Body> {
    let mut e = AadError::new(
        StatusCode::NOT_FOUND,
        "invalid_request",
        90023,
        "The authentication service request is not valid: no such endpoint. The mock serves /{tenant}/oauth2/v2.0/token, \
         /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/discovery/v2.0/keys and /common/discovery/instance.",
    );
    e.status = StatusCode::NOT_FOUND;
    e.into_response(k.ns.clock.now(), &headers)
}
