//! API keys: `GET|POST /api/v2/user/{me|id}/security/token`, `DELETE .../token/{id}`
//! (node-lynx's `GetTokens`, `CreateToken`, `DeleteToken`), and `GET /api/v2/user/me`.
//!
//! A key is `{id, type, created, token, accessed, last_used, current, agent, expire,
//! session_timeout, name, permissions}`. The whole key is shown once, when it is made; listings
//! show only its first four characters. `expire` (unix seconds, 0 never) and `session_timeout`
//! (seconds of inactivity, 0 never) are enforced on the virtual clock. `permissions` narrows
//! what the key may do to a subset of what the credential that makes it holds; asking for a
//! permission that credential does not have is 403, and a key made without a list holds what its
//! maker holds, within its maker's installations. Revoking a key ends it on REST and for new MQTT connections.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Response, StatusCode};
use serde_json::{json, Value};

use super::access::TOKEN_CREATE_DELETE;
use super::credentials::{self, Credential, Kind};
use super::errors;
use super::query;
use super::provider::IotOpen;
use super::caller::{Caller, Ctx};
use crate::contract::json_response;

/// Keys one user may hold.
const MAX_KEYS_PER_USER: usize = 1_000;

/// `me` or the caller's own id; another user's keys are 403.
fn own(io: &IotOpen, ctx: &Ctx, caller: &Caller, user: &str) -> Result<(), Response<Body>> {
    if user == "me" || user.parse::<i64>().ok() == Some(caller.access.user_id) {
        return Ok(());
    }
    io.ns.record(
        &ctx.route,
        crate::journal::EventKind::ApiDenied {
            endpoint: "security/token".into(),
            status: 403,
            reason: format!("{} asked for the keys of user {user}", caller.access.principal),
            client_id: Some(caller.access.principal.clone()),
        },
    );
    Err(errors::forbidden())
}

fn key_json(io: &IotOpen, c: &Credential, token: Option<&str>, current: bool) -> Value {
    let permissions: Vec<String> = match c.access(&io.directory()) {
        Some(a) => a.permissions.into_iter().collect(),
        None => Vec::new(),
    };
    let shown = match token {
        Some(t) => t.to_owned(),
        None => format!("{}{}", c.prefix, "*".repeat(28)),
    };
    json!({
        "id": c.id,
        "type": c.kind.type_name(),
        "created": c.created,
        "token": shown,
        "accessed": c.accessed,
        "last_used": c.last_used,
        "current": current,
        "agent": c.agent,
        "expire": c.expire,
        "session_timeout": c.session_timeout,
        "name": c.name,
        "permissions": permissions,
    })
}

pub async fn list(State(io): State<Arc<IotOpen>>, ctx: Ctx, Path(user): Path<String>) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "security/token") {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = own(&io, &ctx, &caller, &user) {
        return r;
    }
    let store = io.credentials.lock().unwrap_or_else(|e| e.into_inner());
    let keys: Vec<Value> = store
        .listed(caller.access.user_id)
        .into_iter()
        .map(|(digest, c)| key_json(&io, c, None, *digest == caller.digest))
        .collect();
    json_response(StatusCode::OK, Value::Array(keys))
}

pub async fn create(State(io): State<Arc<IotOpen>>, ctx: Ctx, Path(user): Path<String>, body: Body) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "security/token") {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = own(&io, &ctx, &caller, &user) {
        return r;
    }
    if !caller.access.has(TOKEN_CREATE_DELETE) {
        return errors::forbidden();
    }
    let body = match query::json_body(body).await {
        Ok(Some(b)) if b.is_object() => b,
        Ok(_) => return errors::bad_request("send a JSON object {name, expire, session_timeout, permissions?}"),
        Err(r) => return r,
    };
    let name = match query::field(&body, "name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 256 => s.clone(),
        _ => return errors::bad_request("name is required (a string of at most 256 characters)"),
    };
    let number = |field: &str| -> Result<i64, Response<Body>> {
        match query::field(&body, field) {
            None | Some(Value::Null) => Ok(0),
            Some(v) => v
                .as_i64()
                .filter(|n| *n >= 0)
                .ok_or_else(|| errors::bad_request(format!("{field} must be a whole number of at least 0"))),
        }
    };
    let (expire, session_timeout) = match (number("expire"), number("session_timeout")) {
        (Ok(e), Ok(s)) => (e, s),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let now = io.now();
    if expire != 0 && expire <= now {
        return errors::bad_request("expire is in the past (unix seconds; 0 never expires)");
    }
    let permissions = match query::field(&body, "permissions") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut list = Vec::new();
            for item in items {
                let Some(p) = item.as_str() else {
                    return errors::bad_request("permissions must be a list of permission names");
                };
                if !caller.access.has(p) {
                    io.ns.record(
                        &ctx.route,
                        crate::journal::EventKind::ApiDenied {
                            endpoint: "security/token".into(),
                            status: 403,
                            reason: format!(
                                "{} cannot give a key the permission '{p}' it does not have",
                                caller.access.principal
                            ),
                            client_id: Some(caller.access.principal.clone()),
                        },
                    );
                    return errors::message(StatusCode::FORBIDDEN, format!("you cannot grant the permission {p}"));
                }
                list.push(p.to_owned());
            }
            Some(list)
        }
        Some(_) => return errors::bad_request("permissions must be a list of permission names"),
    };
    let mut store = io.credentials.lock().unwrap_or_else(|e| e.into_inner());
    if store.listed(caller.access.user_id).len() >= MAX_KEYS_PER_USER {
        return errors::bad_request(format!("a user holds at most {MAX_KEYS_PER_USER} keys"));
    }
    let token = credentials::new_token();
    let mut c = Credential::new(Kind::ApiKey, caller.access.user_id, name, now);
    c.expire = expire;
    c.session_timeout = session_timeout;
    // A key never holds more than the credential that made it: without a list of its own it
    // gets the maker's permissions, and it stays within the maker's installations.
    c.permissions = Some(permissions.unwrap_or_else(|| caller.access.permissions.iter().cloned().collect()));
    c.installations = caller.access.only.clone();
    c.agent =
        ctx.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().chars().take(256).collect();
    store.insert(&token, c);
    let Some(created) = store.get(&credentials::digest(&token)).cloned() else {
        return errors::message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    drop(store);
    io.issued(
        &ctx,
        "api_key",
        caller.access.principal.clone(),
        &token,
        if expire == 0 { now + 100 * 365 * 86_400 } else { expire },
    );
    json_response(StatusCode::OK, key_json(&io, &created, Some(&token), false))
}

pub async fn revoke(
    State(io): State<Arc<IotOpen>>,
    ctx: Ctx,
    Path((user, id)): Path<(String, String)>,
) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "security/token") {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = own(&io, &ctx, &caller, &user) {
        return r;
    }
    if !caller.access.has(TOKEN_CREATE_DELETE) {
        return errors::forbidden();
    }
    let Ok(id) = id.parse::<i64>() else { return errors::bad_request("the token id must be a number") };
    if io.credentials.lock().unwrap_or_else(|e| e.into_inner()).revoke_id(caller.access.user_id, id) {
        errors::ok()
    } else {
        errors::not_found()
    }
}

/// `GET /api/v2/user/me`, with exactly the keys py-lynx's `User` takes.
pub async fn me(State(io): State<Arc<IotOpen>>, ctx: Ctx) -> Response<Body> {
    let caller = match io.authenticate(&ctx, "user/me") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let directory = io.directory();
    let Some(u) = directory.user(caller.access.user_id) else { return errors::not_found() };
    json_response(
        StatusCode::OK,
        json!({
            "id": u.id,
            "email": u.email,
            "first_name": u.first_name,
            "last_name": u.last_name,
            "role": u.role,
            "sms_login": u.sms_login,
            "address": {"address": "", "city": "", "country": "", "zip": ""},
            "note": "",
            "mobile": u.mobile,
            "organisations": u.organizations,
            "meta": {},
            "protected_meta": {},
            "assigned_installations": u.installations,
            "expire_at": 0,
        }),
    )
}
