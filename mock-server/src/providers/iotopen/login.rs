//! `POST|PUT|DELETE /api/v2/auth`: logging in with the password, the SMS second step, logging
//! out (the API documentation's "Auth" section, node-lynx's `Login`, `Login2FA`, `Logout`).
//!
//! - `POST` with `Authorization: Basic email:password` and no body → 200 `{"token"}` (a login
//!   token, valid `login_token_lifetime_seconds`). For a user with SMS login the token is only
//!   good for the next step, and the answer says so in both spellings Lynx material uses:
//!   `{"token", "nextstep": "smslogin", "next_step": "smslogin"}`; the code goes to the user's
//!   mobile, i.e. into the SMS outbox (`GET /__admin/sms`).
//! - `PUT` with `X-API-Key: <that token>` and `{"challenge": "<code>"}` → 200 `{"token"}`, a new
//!   full login token (the half one is spent). A wrong code is 401 and uses up an attempt; when
//!   none are left, or the code expired, the half token is revoked.
//! - `DELETE` with any token → 200 `{"message": "OK"}`, the token revoked.
//!
//! Wrong credentials are 401 `{"message": "Unauthorized"}`, whatever was wrong.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Response, StatusCode};
use chrono::Duration;
use serde_json::json;

use super::credentials::{self, Credential, Kind};
use super::errors;
use super::query;
use super::provider::IotOpen;
use super::caller::Ctx;
use crate::journal::EventKind;
use crate::contract::json_response;
use crate::tokens::{secrets_equal, token_id};
use crate::wire::Authorization;

impl IotOpen {
    pub(super) fn rejected(&self, ctx: &Ctx, grant: &str, who: Option<String>, reason: &str) -> Response<Body> {
        self.ns.record(
            &ctx.route,
            EventKind::TokenRejected {
                grant: Some(grant.to_owned()),
                client_id: who,
                error: "unauthorized".into(),
                reason: reason.to_owned(),
                code: None,
            },
        );
        errors::unauthorized()
    }

    pub(super) fn issued(&self, ctx: &Ctx, grant: &str, who: String, token: &str, expires: i64) {
        self.ns.record(
            &ctx.route,
            EventKind::TokenIssued {
                grant: grant.to_owned(),
                client_id: who,
                scopes: Vec::new(),
                audience: None,
                token_id: token_id(token),
                expires_at: self.ns.clock.now() + Duration::seconds(expires - self.now()),
                bound_to: None,
            },
        );
    }

    /// A full login token for `user_id`.
    pub(super) fn login_token(&self, user_id: i64, agent: String) -> (String, i64) {
        let now = self.now();
        let expires = now + self.fixtures().login_token_lifetime_seconds;
        let token = credentials::new_token();
        let mut c = Credential::new(Kind::Login, user_id, "login", now);
        c.expire = expires;
        c.agent = agent;
        self.credentials.lock().unwrap_or_else(|e| e.into_inner()).insert(&token, c);
        (token, expires)
    }
}

fn agent(ctx: &Ctx) -> String {
    ctx.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().chars().take(256).collect()
}

pub async fn login(State(io): State<Arc<IotOpen>>, ctx: Ctx, body: Body) -> Response<Body> {
    let _ = crate::wire::read_body(body, query::MAX_BODY).await;
    let (email, password) = match Authorization::from_headers(&ctx.headers) {
        Ok(Some(Authorization::Basic { user, password })) => (user, password),
        _ => return io.rejected(&ctx, "password", None, "no Basic email:password credentials"),
    };
    let directory = io.directory();
    let Some(user) = directory.user_by_email(&email) else {
        return io.rejected(&ctx, "password", None, "unknown user");
    };
    if !secrets_equal(&password, &user.password) {
        return io.rejected(&ctx, "password", Some(format!("user {}", user.id)), "wrong password");
    }
    let f = io.fixtures();
    if user.sms_login {
        let now = io.now();
        let code = format!("{:06}", rand::random_range(0..1_000_000));
        let expires = now + f.sms_code_lifetime_seconds;
        let token = credentials::new_token();
        let mut c = Credential::new(
            Kind::PendingSms {
                code: code.clone(),
                code_expires: expires,
                attempts_left: f.sms_code_attempts.max(1),
            },
            user.id,
            "login (waiting for the SMS code)",
            now,
        );
        c.expire = expires;
        c.agent = agent(&ctx);
        io.credentials.lock().unwrap_or_else(|e| e.into_inner()).insert(&token, c);
        io.ns.sms.send(
            io.ns.clock.now(),
            "iotopen",
            &user.mobile,
            format!("Your IoT Open verification code is {code}"),
            Some(code),
        );
        io.issued(&ctx, "password (SMS step pending)", format!("user {}", user.id), &token, expires);
        return json_response(StatusCode::OK, json!({"token": token, "nextstep": "smslogin", "next_step": "smslogin"}));
    }
    let (token, expires) = io.login_token(user.id, agent(&ctx));
    io.issued(&ctx, "password", format!("user {}", user.id), &token, expires);
    json_response(StatusCode::OK, json!({"token": token}))
}

pub async fn challenge(State(io): State<Arc<IotOpen>>, ctx: Ctx, body: Body) -> Response<Body> {
    let body = match query::json_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Ok(Some(token)) = credentials::presented(&ctx.headers) else {
        return io.rejected(&ctx, "sms", None, "no token from the first step (X-API-Key)");
    };
    let answer = body.as_ref().and_then(|b| query::field(b, "challenge")).and_then(|v| match v {
        serde_json::Value::String(s) => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let digest = credentials::digest(&token);
    let now = io.now();
    let outcome = {
        let mut store = io.credentials.lock().unwrap_or_else(|e| e.into_inner());
        match store.get_mut(&digest) {
            Some(Credential { kind: Kind::PendingSms { code, code_expires, attempts_left }, user_id, .. }) => {
                let user_id = *user_id;
                if now >= *code_expires {
                    store.remove(&digest);
                    Err((Some(user_id), "the SMS code expired".to_owned()))
                } else if answer.as_deref().is_some_and(|a| secrets_equal(a, code)) {
                    store.remove(&digest);
                    Ok(user_id)
                } else {
                    *attempts_left = attempts_left.saturating_sub(1);
                    let left = *attempts_left;
                    if left == 0 {
                        store.remove(&digest);
                    }
                    Err((Some(user_id), format!("wrong SMS code ({left} attempts left)")))
                }
            }
            Some(_) => Err((None, "the token is not waiting for an SMS code".to_owned())),
            None => Err((None, "unknown or expired token".to_owned())),
        }
    };
    match outcome {
        Ok(user_id) => {
            let (token, expires) = io.login_token(user_id, agent(&ctx));
            io.issued(&ctx, "sms", format!("user {user_id}"), &token, expires);
            json_response(StatusCode::OK, json!({"token": token}))
        }
        Err((user, reason)) => io.rejected(&ctx, "sms", user.map(|u| format!("user {u}")), &reason),
    }
}

pub async fn logout(State(io): State<Arc<IotOpen>>, ctx: Ctx) -> Response<Body> {
    let Ok(Some(token)) = credentials::presented(&ctx.headers) else {
        return errors::unauthorized();
    };
    let removed = io.credentials.lock().unwrap_or_else(|e| e.into_inner()).remove(&credentials::digest(&token));
    match removed {
        Some(_) => errors::ok(),
        None => errors::unauthorized(),
    }
}
