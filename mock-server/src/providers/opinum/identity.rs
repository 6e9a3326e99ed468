//! The identity server: `POST /connect/token` (IdentityServer, identity.opinum.com, Opinum's documented
//! URL) and `POST /realms/opinum/protocol/openid-connect/token` (Keycloak, auth.opinum.com, Data
//! Hub 7.0+). Grants `password` and `refresh_token`; client credentials in the form (what
//! requests-oauthlib sends) or as HTTP Basic (what .NET's IdentityModel sends).
//!
//! Checks, in order: a readable form; the client (401 `invalid_client`); the grant type; the
//! grant's own parameters and the user (400 `invalid_grant`); the scopes (400 `invalid_scope`,
//! `push-data` only for users with the Data Pusher right); the account selector.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Response, StatusCode, Uri};
use axum::Extension;
use chrono::Duration;
use serde_json::json;

use super::tokens::{AccessClaims, RefreshGrant, KNOWN_SCOPES, SCOPE_API, SCOPE_API_ALIAS, SCOPE_OFFLINE, SCOPE_PUSH};
use super::errors::{no_store, OAuthError};
use super::fixtures::{Fixtures, User};
use super::provider::Opinum;
use crate::journal::EventKind;
use crate::contract::{json_response, ServiceRoute};
use crate::tokens::secrets_equal;
use crate::wire::{read_body, Authorization, BodyError, Form, FormError};

pub const KEYCLOAK_TOKEN_PATH: &str = "/realms/opinum/protocol/openid-connect/token";
const MAX_TOKEN_BODY: usize = 64 * 1024;

/// Which server's dialect to answer in.
#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    IdentityServer,
    Keycloak,
}

/// What a successful check grants.
struct Granted {
    grant: &'static str,
    client_id: String,
    username: String,
    account: i64,
    scopes: Vec<String>,
}

pub async fn token(
    State(o): State<Arc<Opinum>>,
    Extension(route): Extension<ServiceRoute>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let dialect = if uri.path().starts_with("/realms/") { Dialect::Keycloak } else { Dialect::IdentityServer };
    let fixtures = o.fixtures();
    let mut seen = (None, None);
    let checked = match read_body(body, MAX_TOKEN_BODY).await {
        Ok(bytes) => check(&o, &fixtures, dialect, &headers, &bytes, &mut seen),
        Err(BodyError::TooLarge(limit)) => Err(OAuthError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            Some("request too large"),
            format!("body over {limit} bytes"),
        )),
        Err(BodyError::Unreadable(m)) => Err(OAuthError::invalid_request(m)),
    };
    let granted = match checked {
        Ok(g) => g,
        Err(e) => {
            o.ns.record(
                &route,
                EventKind::TokenRejected {
                    grant: seen.0,
                    client_id: seen.1,
                    error: e.error.to_owned(),
                    reason: e.reason.clone(),
                    code: None,
                },
            );
            return e.into_response();
        }
    };
    issue(&o, &route, &fixtures, dialect, granted)
}

fn check(
    o: &Opinum,
    f: &Fixtures,
    dialect: Dialect,
    headers: &HeaderMap,
    body: &[u8],
    seen: &mut (Option<String>, Option<String>),
) -> Result<Granted, OAuthError> {
    let form = match Form::from_request(headers, body) {
        Ok(form) => form,
        Err(FormError::NotAForm) => {
            return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"))
        }
        Err(e) => return Err(OAuthError::invalid_request(e.to_string())),
    };
    seen.0 = form.get("grant_type").map(str::to_owned);
    // The client: form fields or HTTP Basic, not both kinds of secret.
    let basic = match Authorization::from_headers(headers) {
        Ok(Some(Authorization::Basic { user, password })) => Some((user, password)),
        Ok(_) => None,
        Err(e) => return Err(OAuthError::invalid_client(format!("unreadable Authorization header: {e}"))),
    };
    let (client_id, secret) = match (&basic, form.get("client_id"), form.get("client_secret")) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_client("the secret came both as HTTP Basic and in the form"))
        }
        (Some((user, password)), _, None) => (user.clone(), Some(password.clone())),
        (None, Some(id), secret) => (id.to_owned(), secret.map(str::to_owned)),
        (None, None, _) => return Err(OAuthError::invalid_client("no client_id")),
    };
    seen.1 = Some(client_id.clone());
    let client = f
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
        .ok_or_else(|| OAuthError::invalid_client(format!("unknown client '{client_id}'")))?;
    match secret {
        None => return Err(OAuthError::invalid_client("no client_secret")),
        Some(s) if !secrets_equal(&s, &client.secret) => return Err(OAuthError::invalid_client("wrong client_secret")),
        Some(_) => {}
    }
    let grant_type = form.get("grant_type").ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?;
    let requested: Option<Vec<String>> = form.get("scope").map(|s| s.split_whitespace().map(str::to_owned).collect());
    match grant_type {
        "password" => {
            let username = form.get("username").ok_or_else(|| OAuthError::invalid_request("username is missing"))?;
            let password = form.get("password").ok_or_else(|| OAuthError::invalid_request("password is missing"))?;
            let bad_credentials = || match dialect {
                Dialect::IdentityServer => {
                    OAuthError::invalid_grant("invalid_username_or_password", "wrong username or password")
                }
                Dialect::Keycloak => {
                    OAuthError::invalid_grant("Invalid user credentials", "wrong username or password")
                }
            };
            let user =
                f.users.iter().find(|u| u.username.eq_ignore_ascii_case(username)).ok_or_else(bad_credentials)?;
            if !secrets_equal(password, &user.password) {
                return Err(bad_credentials());
            }
            let scopes = grant_scopes(user, requested)?;
            let account = select_account(user, &form)?;
            Ok(Granted { grant: "password", client_id, username: user.username.clone(), account, scopes })
        }
        "refresh_token" => {
            let presented =
                form.get("refresh_token").ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
            let grant = o
                .refresh
                .redeem(presented)
                .ok_or_else(|| OAuthError::invalid_grant("invalid_grant", "unknown or already used refresh token"))?;
            if grant.client_id != client_id {
                return Err(OAuthError::invalid_grant(
                    "invalid_grant",
                    format!("refresh token of client '{}' presented by '{client_id}'", grant.client_id),
                ));
            }
            if grant.expires_at <= o.ns.clock.unix() {
                return Err(OAuthError::invalid_grant("invalid_grant", "refresh token expired"));
            }
            let scopes = match requested {
                Some(asked) if !asked.iter().all(|s| grant.scopes.contains(s)) => {
                    return Err(OAuthError::invalid_scope(format!(
                        "refresh asked for more than the original grant ({})",
                        grant.scopes.join(" ")
                    )))
                }
                Some(asked) => asked,
                None => grant.scopes,
            };
            Ok(Granted { grant: "refresh_token", client_id, username: grant.username, account: grant.account, scopes })
        }
        other => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            None,
            format!("grant type '{other}'"),
        )),
    }
}

/// The scopes a password grant gets: what was asked (`opisense-api` read as `datahub-api`), or
/// by default the API and, for Data Pushers, push.
fn grant_scopes(user: &User, requested: Option<Vec<String>>) -> Result<Vec<String>, OAuthError> {
    let mut scopes = requested.unwrap_or_else(|| {
        let mut default = vec![SCOPE_API.to_owned()];
        if user.data_pusher {
            default.push(SCOPE_PUSH.to_owned());
        }
        default
    });
    if let Some(unknown) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(OAuthError::invalid_scope(format!("unknown scope '{unknown}'")));
    }
    if scopes.iter().any(|s| s == SCOPE_PUSH) && !user.data_pusher {
        return Err(OAuthError::invalid_scope(format!(
            "user '{}' lacks the Data Pusher right needed for push-data",
            user.username
        )));
    }
    for s in scopes.iter_mut().filter(|s| *s == SCOPE_API_ALIAS) {
        *s = SCOPE_API.to_owned();
    }
    scopes.dedup();
    Ok(scopes)
}

/// `acr_values=accountId:N` (old connector) or `account=N` (new connector); else the user's first.
fn select_account(user: &User, form: &Form) -> Result<i64, OAuthError> {
    let from_acr = form.get("acr_values").and_then(|v| v.split_whitespace().find_map(|p| p.strip_prefix("accountId:")));
    let Some(raw) = form.get("account").or(from_acr) else {
        return Ok(user.accounts[0]);
    };
    let id: i64 =
        raw.trim().parse().map_err(|_| OAuthError::invalid_request(format!("account '{raw}' is not a number")))?;
    if !user.accounts.contains(&id) {
        return Err(OAuthError::invalid_grant(
            "invalid_grant",
            format!("user '{}' has no access to account {id}", user.username),
        ));
    }
    Ok(id)
}

fn issue(o: &Opinum, route: &ServiceRoute, f: &Fixtures, dialect: Dialect, g: Granted) -> Response<Body> {
    let now = o.ns.clock.now();
    let iat = now.timestamp();
    let lifetime = f.token_lifetime_seconds;
    let jti = crate::tokens::opaque_token(16);
    let issuer = match dialect {
        Dialect::IdentityServer => route.base_url.clone(),
        Dialect::Keycloak => format!("{}/realms/opinum", route.base_url),
    };
    let claims = AccessClaims {
        iss: issuer,
        aud: g.scopes.iter().filter(|s| *s == SCOPE_API || *s == SCOPE_PUSH).cloned().collect(),
        client_id: g.client_id.clone(),
        sub: g.username.clone(),
        account: g.account,
        scope: g.scopes.clone(),
        iat,
        nbf: iat,
        exp: iat + lifetime,
        jti: jti.clone(),
    };
    let mut body = json!({
        "access_token": o.signer.sign(&claims),
        "expires_in": lifetime,
        "token_type": "Bearer",
        "scope": g.scopes.join(" "),
    });
    if g.scopes.iter().any(|s| s == SCOPE_OFFLINE) {
        let refresh_lifetime = f.refresh_token_lifetime_seconds;
        body["refresh_token"] = json!(o.refresh.issue(RefreshGrant {
            client_id: g.client_id.clone(),
            username: g.username.clone(),
            account: g.account,
            scopes: g.scopes.clone(),
            expires_at: iat + refresh_lifetime,
        }));
        if dialect == Dialect::Keycloak {
            body["refresh_expires_in"] = json!(refresh_lifetime);
        }
    }
    if dialect == Dialect::Keycloak {
        body["not-before-policy"] = json!(0);
        body["session_state"] = json!(uuid::Uuid::new_v4().to_string());
    }
    o.ns.record(
        route,
        EventKind::TokenIssued {
            grant: g.grant.to_owned(),
            client_id: g.client_id,
            scopes: g.scopes,
            audience: Some(format!("account:{}", g.account)),
            token_id: jti,
            expires_at: now + Duration::seconds(lifetime),
            bound_to: None,
        },
    );
    let mut r = json_response(StatusCode::OK, body);
    no_store(&mut r);
    r
}

/// Where the identity server's documents are, in the IdentityServer dialect
/// (`/.well-known/openid-configuration`, `/connect/...`) or the Keycloak one
/// (`/realms/opinum/...`), below the base URL the client used.
struct Discovery {
    issuer: String,
    jwks: String,
    endpoints: [(&'static str, String); 6],
}

impl Discovery {
    fn of(route: &ServiceRoute, uri: &Uri) -> Discovery {
        let base = &route.base_url;
        if uri.path().starts_with("/realms/") {
            let realm = format!("{base}/realms/opinum");
            let oidc = format!("{realm}/protocol/openid-connect");
            Discovery {
                jwks: format!("{oidc}/certs"),
                endpoints: [
                    ("authorization_endpoint", format!("{oidc}/auth")),
                    ("token_endpoint", format!("{base}{KEYCLOAK_TOKEN_PATH}")),
                    ("userinfo_endpoint", format!("{oidc}/userinfo")),
                    ("end_session_endpoint", format!("{oidc}/logout")),
                    ("revocation_endpoint", format!("{oidc}/revoke")),
                    ("introspection_endpoint", format!("{oidc}/token/introspect")),
                ],
                issuer: realm,
            }
        } else {
            Discovery {
                issuer: base.clone(),
                jwks: format!("{base}/.well-known/openid-configuration/jwks"),
                endpoints: [
                    ("authorization_endpoint", format!("{base}/connect/authorize")),
                    ("token_endpoint", format!("{base}/connect/token")),
                    ("userinfo_endpoint", format!("{base}/connect/userinfo")),
                    ("end_session_endpoint", format!("{base}/connect/endsession")),
                    ("revocation_endpoint", format!("{base}/connect/revocation")),
                    ("introspection_endpoint", format!("{base}/connect/introspect")),
                ],
            }
        }
    }
}

/// `GET /.well-known/openid-configuration` on either path: the whole discovery document as
/// IdentityServer publishes it (OIDC Discovery §3: `issuer`, `jwks_uri` and the rest), its
/// issuer the base URL the client used. Only the token endpoint and the keys are served.
pub async fn discovery(Extension(route): Extension<ServiceRoute>, uri: Uri) -> Response<Body> {
    let dialect = Discovery::of(&route, &uri);
    let mut document = json!({
        "issuer": dialect.issuer,
        "jwks_uri": dialect.jwks,
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "scopes_supported": KNOWN_SCOPES,
        "claims_supported": ["sub", "account", "client_id", "scope"],
        "grant_types_supported": ["password", "refresh_token"],
        "response_types_supported": ["code", "token", "id_token", "id_token token", "code id_token", "code token", "code id_token token"],
        "response_modes_supported": ["form_post", "query", "fragment"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "request_parameter_supported": true,
    });
    for (name, url) in dialect.endpoints {
        document[name] = json!(url);
    }
    json_response(StatusCode::OK, document)
}

/// `GET /.well-known/openid-configuration/jwks` (and Keycloak's `.../certs`): the key that
/// signs the access tokens, so a client can verify them.
pub async fn keys(State(o): State<Arc<Opinum>>) -> Response<Body> {
    json_response(StatusCode::OK, json!({"keys": [o.signer.jwk(json!({"alg": "RS256"}))]}))
}
