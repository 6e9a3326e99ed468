//! OAuth 2 for third parties, with Lynx's consent step
//! (docs/providers/iotopen.md#oauth-with-consent; IoT Open,
//! <https://iotopen.se/api-for-att-tillgangliggora-data/>: "users are asked if and what data
//! is to be shared ... the integrator gets access to the scope that the user chooses"). Lynx
//! publishes no paths for this; the mock uses (*assumed*) `/api/v2/oauth2/...`, with consent as
//! node-lynx's `ConsentOauth2Authorization` shows it (`POST /api/v2/oauth2/consent` →
//! `{"redirect_to"}`).
//!
//! 1. `GET /api/v2/oauth2/authorize?response_type=code&client_id&redirect_uri&scope&state`
//!    `[&code_challenge&code_challenge_method]`, called by the Lynx UI for the logged-in user
//!    (any of the user's credentials): checks the client, the redirect URI and the scopes, and
//!    answers what to ask the user: `{consent_challenge, client, requested_scopes, installations}`.
//! 2. `POST /api/v2/oauth2/consent` by the same user: `{consent_challenge, grant_scope,
//!    installations}` (lists or space/comma-joined strings, since node-lynx sends string
//!    values; or `{"accept": false}` to refuse) → `{"redirect_to":
//! "<redirect_uri>?code=..&state=.."}`.
//!    The user may grant a subset of the requested scopes and of their installations, nothing more.
//! 3. `POST /api/v2/oauth2/token` (form; client secret in the form or as Basic):
//!    `authorization_code` (with `redirect_uri`, and `code_verifier` for PKCE) and
//!    `refresh_token` (rotated on use) → `{access_token, token_type, expires_in, refresh_token,
//!    scope}`; errors in RFC 6749 form. The access token works on REST (Bearer) and MQTT with
//!    exactly the consented scopes and installations.
//!
//! Consents are listed at `GET /api/v2/user/{me|id}/security/consent` as `{id,
//! oauth2_client_id, scopes, installations}`; deleting one revokes every token issued under it.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Response, StatusCode};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::access::Access;
use super::grants::{Consent, Grant, Request, CODE_LIFETIME};
use super::scopes::{beyond, SCOPES};
use super::credentials::{self, Credential, Kind};
use super::errors;
use super::query;
use super::provider::IotOpen;
use super::caller::Ctx;
use crate::journal::EventKind;
use crate::contract::json_response;
use crate::tokens::{secrets_equal, token_id};
use crate::wire::{read_body, Authorization, Form};

/// Scopes from a list or a space/comma-joined string.
fn words(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned).or_else(|| i.as_i64().map(|n| n.to_string())))
            .collect(),
        Some(Value::String(s)) => s.split([' ', ',']).filter(|w| !w.is_empty()).map(str::to_owned).collect(),
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// Installations the user could share: every one any of their permissions reaches.
fn shareable(access: &Access) -> BTreeSet<i64> {
    access
        .organization
        .union(&access.assigned)
        .copied()
        .filter(|i| SCOPES.iter().flat_map(|(_, _, a)| a.iter()).any(|a| access.can(a, *i)))
        .collect()
}

/// Checks an authorization request's parameters; `Err` is a 400 message.
fn check_request(io: &IotOpen, params: &dyn Fn(&str) -> Option<String>, user_id: i64) -> Result<Request, String> {
    if params("response_type").as_deref().unwrap_or("code") != "code" {
        return Err("unsupported_response_type: only response_type=code is supported".into());
    }
    let client_id = params("client_id").ok_or("invalid_request: client_id is missing")?;
    let f = io.fixtures();
    let client = f
        .oauth_clients
        .iter()
        .find(|c| c.client_id == client_id)
        .ok_or_else(|| format!("invalid_client: unknown client '{client_id}'"))?;
    let redirect_uri = match params("redirect_uri") {
        Some(uri) if client.redirect_uris.contains(&uri) => uri,
        Some(uri) => return Err(format!("invalid_request: redirect_uri '{uri}' is not registered for this client")),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Err("invalid_request: redirect_uri is missing".into()),
    };
    let scopes: Vec<String> =
        params("scope").unwrap_or_default().split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if scopes.is_empty() {
        return Err("invalid_scope: ask for at least one scope".into());
    }
    if let Some(bad) = scopes.iter().find(|s| !client.allowed_scopes.contains(s)) {
        return Err(format!("invalid_scope: the client may not ask for '{bad}'"));
    }
    let challenge = match (params("code_challenge"), params("code_challenge_method")) {
        (None, _) => None,
        (Some(c), m) => {
            let method = m.unwrap_or_else(|| "plain".into());
            if method != "S256" && method != "plain" {
                return Err("invalid_request: code_challenge_method must be S256 or plain".into());
            }
            Some((c, method))
        }
    };
    Ok(Request {
        user_id,
        client_id,
        redirect_uri,
        scopes,
        state: params("state"),
        challenge,
        expires: io.now() + CODE_LIFETIME,
    })
}

pub async fn authorize(State(io): State<Arc<IotOpen>>, ctx: Ctx) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "oauth2/authorize") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let pairs = query::pairs(ctx.query.as_deref());
    let params = |name: &str| query::last(&pairs, name).map(str::to_owned);
    let request = match check_request(&io, &params, caller.access.user_id) {
        Ok(r) => r,
        Err(m) => return errors::bad_request(m),
    };
    let challenge = credentials::new_token();
    let directory = io.directory();
    let installations: Vec<Value> = shareable(&caller.access)
        .into_iter()
        .filter_map(|i| directory.installation(i))
        .map(|i| json!({"id": i.id, "client_id": i.client_id, "name": i.name}))
        .collect();
    let f = io.fixtures();
    let client_name = f
        .oauth_clients
        .iter()
        .find(|c| c.client_id == request.client_id)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let body = json!({
        "consent_challenge": challenge,
        "client": {"client_id": request.client_id, "name": client_name},
        "requested_scopes": request.scopes,
        "installations": installations,
    });
    io.oauth.inner.lock().unwrap_or_else(|e| e.into_inner()).requests.insert(challenge, request);
    json_response(StatusCode::OK, body)
}

pub async fn consent(State(io): State<Arc<IotOpen>>, ctx: Ctx, body: Body) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "oauth2/consent") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let body = match query::json_body(body).await {
        Ok(Some(b)) if b.is_object() => b,
        Ok(_) => return errors::bad_request("send a JSON object {consent_challenge, grant_scope, installations}"),
        Err(r) => return r,
    };
    let text = |name: &str| query::field(&body, name).and_then(|v| v.as_str().map(str::to_owned));
    let request = match text("consent_challenge").or_else(|| text("challenge")) {
        Some(challenge) => {
            let taken = io.oauth.inner.lock().unwrap_or_else(|e| e.into_inner()).requests.remove(&challenge);
            match taken {
                Some(r) if r.user_id == caller.access.user_id && r.expires > io.now() => r,
                _ => return errors::bad_request("unknown, used or expired consent_challenge"),
            }
        }
        None => match check_request(&io, &text, caller.access.user_id) {
            Ok(r) => r,
            Err(m) => return errors::bad_request(m),
        },
    };
    let mut redirect = request.redirect_uri.clone();
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let state = request
        .state
        .as_deref()
        .map(|s| format!("&state={}", form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()))
        .unwrap_or_default();
    let refused = query::field(&body, "accept").and_then(Value::as_bool) == Some(false)
        || query::field(&body, "deny").and_then(Value::as_bool) == Some(true);
    if refused {
        redirect.push_str(&format!("{sep}error=access_denied&error_description=the+user+refused{state}"));
        return json_response(StatusCode::OK, json!({"redirect_to": redirect}));
    }
    let granted_scopes = words(
        query::field(&body, "grant_scope")
            .or_else(|| query::field(&body, "scopes"))
            .or_else(|| query::field(&body, "scope")),
    );
    let granted_scopes: BTreeSet<String> = if granted_scopes.is_empty() {
        request.scopes.iter().cloned().collect()
    } else {
        granted_scopes.into_iter().collect()
    };
    if let Some(bad) = granted_scopes.iter().find(|s| !request.scopes.contains(s)) {
        return errors::bad_request(format!("scope '{bad}' was not requested"));
    }
    // A credential never grants more than it holds: a narrowed key or a consented token cannot
    // approve a scope that reaches further than itself.
    let role = io.directory().user(caller.access.user_id).map(|u| io.directory().role_permissions(u)).unwrap_or_default();
    if let Some(scope) = beyond(&granted_scopes, &role, &caller.access.permissions) {
        io.ns.record(
            &ctx.route,
            EventKind::ApiDenied {
                endpoint: "oauth2/consent".into(),
                status: 403,
                reason: format!("{} cannot grant '{scope}': it does not hold what that scope gives", caller.access.principal),
                client_id: Some(caller.access.principal.clone()),
            },
        );
        return errors::message(StatusCode::FORBIDDEN, format!("you cannot grant the scope {scope}"));
    }
    let allowed = shareable(&caller.access);
    let mut installations = BTreeSet::new();
    for raw in words(query::field(&body, "installations").or_else(|| query::field(&body, "grant_installations"))) {
        let Ok(id) = raw.parse::<i64>() else {
            return errors::bad_request(format!("installation '{raw}' is not a number"));
        };
        if !allowed.contains(&id) {
            return errors::message(StatusCode::FORBIDDEN, format!("installation {id} is not yours to share"));
        }
        installations.insert(id);
    }
    if installations.is_empty() {
        return errors::bad_request("choose at least one installation to share");
    }
    let consent = Consent {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: caller.access.user_id,
        client_id: request.client_id.clone(),
        scopes: granted_scopes,
        installations,
    };
    let code = credentials::new_token();
    {
        let mut inner = io.oauth.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.codes.insert(credentials::digest(&code), Grant { request: request.clone(), consent: consent.id.clone() });
        inner.consents.insert(consent.id.clone(), consent);
    }
    redirect.push_str(&format!("{sep}code={code}{state}"));
    json_response(StatusCode::OK, json!({"redirect_to": redirect}))
}

/// An RFC 6749 §5.2 error.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    let mut r = json_response(status, json!({"error": error, "error_description": description}));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub async fn token(State(io): State<Arc<IotOpen>>, ctx: Ctx, body: Body) -> Response<Body> {
    let reject = |error: &str, description: &str, client: Option<String>| {
        io.ns.record(
            &ctx.route,
            EventKind::TokenRejected {
                grant: None,
                client_id: client,
                error: error.to_owned(),
                reason: description.to_owned(),
                code: None,
            },
        );
        let status = if error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
        oauth_error(status, error, description)
    };
    let Ok(bytes) = read_body(body, query::MAX_BODY).await else {
        return reject("invalid_request", "the body could not be read", None);
    };
    let form = match Form::from_request(&ctx.headers, &bytes) {
        Ok(f) => f,
        Err(e) => return reject("invalid_request", &e.to_string(), None),
    };
    let (client_id, secret) = match Authorization::from_headers(&ctx.headers) {
        Ok(Some(Authorization::Basic { user, password })) => (user, password),
        _ => (
            form.get("client_id").unwrap_or_default().to_owned(),
            form.get("client_secret").unwrap_or_default().to_owned(),
        ),
    };
    let f = io.fixtures();
    let Some(client) = f.oauth_clients.iter().find(|c| c.client_id == client_id) else {
        return reject("invalid_client", "unknown client", Some(client_id));
    };
    if !secrets_equal(&secret, &client.secret) {
        return reject("invalid_client", "wrong client secret", Some(client_id));
    }
    let now = io.now();
    let (user_id, consent_id) = match form.get("grant_type") {
        Some("authorization_code") => {
            let code = form.get("code").unwrap_or_default();
            let grant =
                io.oauth.inner.lock().unwrap_or_else(|e| e.into_inner()).codes.remove(&credentials::digest(code));
            let Some(grant) = grant else {
                return reject("invalid_grant", "unknown or already used code", Some(client_id));
            };
            let r = &grant.request;
            if r.client_id != client_id || r.expires <= now {
                return reject("invalid_grant", "the code belongs to another client or expired", Some(client_id));
            }
            if form.get("redirect_uri").is_some_and(|u| u != r.redirect_uri) {
                return reject("invalid_grant", "redirect_uri differs from the authorization request", Some(client_id));
            }
            if let Some((challenge, method)) = &r.challenge {
                let verifier = form.get("code_verifier").unwrap_or_default();
                let computed = if method == "S256" {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
                } else {
                    verifier.to_owned()
                };
                if !secrets_equal(&computed, challenge) {
                    return reject("invalid_grant", "code_verifier does not match the code_challenge", Some(client_id));
                }
            }
            (r.user_id, grant.consent.clone())
        }
        Some("refresh_token") => {
            let presented = form.get("refresh_token").unwrap_or_default();
            let taken =
                io.credentials.lock().unwrap_or_else(|e| e.into_inner()).remove(&credentials::digest(presented));
            match taken {
                Some(Credential {
                    kind: Kind::OAuthRefresh { client_id: owner, consent }, user_id, expire, ..
                }) if owner == client_id && (expire == 0 || expire > now) => (user_id, consent),
                _ => {
                    return reject(
                        "invalid_grant",
                        "unknown, used, expired or another client's refresh token",
                        Some(client_id),
                    )
                }
            }
        }
        Some(other) => return reject("unsupported_grant_type", &format!("grant type '{other}'"), Some(client_id)),
        None => return reject("invalid_request", "grant_type is missing", Some(client_id)),
    };
    let consent = io.oauth.inner.lock().unwrap_or_else(|e| e.into_inner()).consents.get(&consent_id).cloned();
    let Some(consent) = consent else { return reject("invalid_grant", "the consent was withdrawn", Some(client_id)) };
    let lifetime = f.oauth_token_lifetime_seconds;
    let access_token = credentials::new_token();
    let refresh_token = credentials::new_token();
    {
        let mut store = io.credentials.lock().unwrap_or_else(|e| e.into_inner());
        let mut access = Credential::new(
            Kind::OAuthAccess { client_id: client_id.clone(), consent: consent.id.clone() },
            user_id,
            client.name.clone(),
            now,
        );
        access.expire = now + lifetime;
        access.scopes = Some(consent.scopes.clone());
        access.installations = Some(consent.installations.clone());
        store.insert(&access_token, access);
        let mut refresh = Credential::new(
            Kind::OAuthRefresh { client_id: client_id.clone(), consent: consent.id.clone() },
            user_id,
            client.name.clone(),
            now,
        );
        refresh.expire = now + f.login_token_lifetime_seconds;
        store.insert(&refresh_token, refresh);
    }
    let scope = consent.scopes.iter().cloned().collect::<Vec<_>>().join(" ");
    io.ns.record(
        &ctx.route,
        EventKind::TokenIssued {
            grant: form.get("grant_type").unwrap_or_default().to_owned(),
            client_id: client_id.clone(),
            scopes: consent.scopes.iter().cloned().collect(),
            audience: Some(format!("installations {:?}", consent.installations)),
            token_id: token_id(&access_token),
            expires_at: io.ns.clock.now() + chrono::Duration::seconds(lifetime),
            bound_to: None,
        },
    );
    let mut r = json_response(
        StatusCode::OK,
        json!({"access_token": access_token, "token_type": "bearer", "expires_in": lifetime, "refresh_token": refresh_token, "scope": scope}),
    );
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub async fn scopes() -> Response<Body> {
    let list: Vec<Value> =
        SCOPES.iter().map(|(scope, description, _)| json!({"scope": scope, "description": description})).collect();
    json_response(StatusCode::OK, Value::Array(list))
}

fn own_user(caller_user: i64, user: &str) -> bool {
    user == "me" || user.parse::<i64>().ok() == Some(caller_user)
}

pub async fn consents(State(io): State<Arc<IotOpen>>, ctx: Ctx, Path(user): Path<String>) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "security/consent") {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !own_user(caller.access.user_id, &user) {
        return errors::forbidden();
    }
    let inner = io.oauth.inner.lock().unwrap_or_else(|e| e.into_inner());
    let mut list: Vec<&Consent> =
        inner.consents.iter().map(|(_, c)| c).filter(|c| c.user_id == caller.access.user_id).collect();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    let body: Vec<Value> = list
        .into_iter()
        .map(|c| json!({"id": c.id, "oauth2_client_id": c.client_id, "scopes": c.scopes, "installations": c.installations}))
        .collect();
    json_response(StatusCode::OK, Value::Array(body))
}

pub async fn revoke_consent(
    State(io): State<Arc<IotOpen>>,
    ctx: Ctx,
    Path((user, id)): Path<(String, String)>,
) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "security/consent") {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !own_user(caller.access.user_id, &user) {
        return errors::forbidden();
    }
    let removed = {
        let mut inner = io.oauth.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.consents.get(&id) {
            Some(c) if c.user_id == caller.access.user_id => inner.consents.remove(&id),
            _ => None,
        }
    };
    match removed {
        Some(_) => {
            io.credentials.lock().unwrap_or_else(|e| e.into_inner()).revoke_consent(&id);
            errors::ok()
        }
        None => errors::not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::scopes::permissions_of;
    use super::*;

    #[test]
    fn scopes_map_to_the_role_reach() {
        let role: BTreeSet<String> =
            ["status/read/assigned", "log/read/all", "mqtt/publish/assigned"].iter().map(|s| s.to_string()).collect();
        let scopes: BTreeSet<String> = ["status:read", "log:read"].iter().map(|s| s.to_string()).collect();
        let p = permissions_of(&scopes, &role);
        assert_eq!(p, ["status/read/assigned", "log/read/all"].iter().map(|s| s.to_string()).collect());
        assert_eq!(words(Some(&json!("a b,c"))), vec!["a", "b", "c"]);
        assert_eq!(words(Some(&json!([1, "2"]))), vec!["1", "2"]);
    }
}
