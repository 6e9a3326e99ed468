//! Knoema's OAuth 2 (docs/providers/knoema.md#oauth): the client flow (`response_type=token`, implicit) and the server
//! flow (`response_type=code`), both through a consent page, and the token endpoint.
//!
//! - `GET /oauth/authorize?response_type&client_id&redirect_uri&scope[&state]` checks the app
//!   and the redirect URI (which, when the app registers any, must be one of them exactly;
//!   otherwise nothing is redirected: a 400 page), then shows a real HTML consent page whose
//!   form posts the answer back to `POST /oauth/authorize`. Tests answer without a browser with
//!   `&consent=auto-approve|auto-deny` on the URL, `consent = "auto-approve"` in the fixtures
//!   (`PUT /__admin/fixtures`), or by posting the form as a browser would.
//! - Approve: `redirect_uri#access_token=..&expires_in=<seconds>` (token), `redirect_uri?code=..`
//!   (code). Deny: `error=access_denied&error_description=The resource owner denied the request`
//!   in the fragment or the query. `state` is echoed when given (RFC 6749 §4.1.2; OAuth libraries
//!   check it).
//! - `GET /oauth/token?grant_type=authorization_code&client_id&client_secret&code&redirect_uri`
//!   (a form POST is read too) answers `{"access_token", "token_type": "bearer", "expires_in":
//!   "86400" (a string), "refresh_token", "scope"}`; bad client credentials give
//!   `{"error": "incorrect_client_credentials"}` (401, status assumed); a bad, expired, reused
//!   or foreign code, or a `redirect_uri` that differs from the authorization request's, gives
//!   RFC 6749's `invalid_grant` (400, assumed). Codes are single-use: replaying one also
//!   revokes the tokens it gave (RFC 6749 §4.1.2). `grant_type=refresh_token` (assumed)
//!   issues a new access token for the refresh token's app.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use axum::Extension;
use chrono::Duration;
use serde_json::json;

use super::fixtures::{App, Consent};
use super::store::{self, Code, PendingConsent, RefreshToken, Token, MAX_CODES, MAX_PENDING_CONSENTS, MAX_TOKENS};
use super::provider::Knoema;
use crate::journal::EventKind;
use crate::contract::ServiceRoute;
use crate::tokens::{opaque_token, secrets_equal, token_id};
use crate::wire::read_body;

pub const MAX_FORM_BODY: usize = 16 * 1024;
/// How long the consent page waits for an answer.
const CONSENT_LIFETIME_SECONDS: i64 = 600;
pub const DENIED_DESCRIPTION: &str = "The resource owner denied the request";

/// OAuth parameters: form-urlencoded, one value per name (RFC 6749 §3.1).
fn params(raw: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(raw) {
        if name.is_empty() {
            continue;
        }
        if out.insert(name.clone().into_owned(), value.into_owned()).is_some() {
            return Err(format!("parameter '{name}' is included more than once"));
        }
    }
    Ok(out)
}

fn get<'p>(p: &'p BTreeMap<String, String>, name: &str) -> Option<&'p str> {
    p.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

fn html(status: StatusCode, title: &str, body: &str) -> Response<Body> {
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} - Knoema (mock)</title>\
         <style>body{{font-family:sans-serif;max-width:34em;margin:4em auto}}button{{font-size:1em;margin-right:1em;padding:.4em 1.4em}}</style>\
         </head><body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = escape(title)
    );
    let mut r = Response::new(Body::from(page));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

fn error_page(message: &str) -> Response<Body> {
    html(StatusCode::BAD_REQUEST, "Authorization error", &format!("<p id=\"error\">{}</p>", escape(message)))
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn redirect(location: &str) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::FOUND;
    match HeaderValue::from_str(location) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(_) => error_page("the redirect URI cannot be sent in a Location header"),
    }
}

/// `base` + `?` or `#` + the encoded pairs (`&` when the base already has a query).
fn with_params(base: &str, in_fragment: bool, pairs: &[(&str, &str)]) -> String {
    let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let separator = if in_fragment {
        '#'
    } else if base.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{base}{separator}{encoded}")
}

fn grant_name(response_type: &str) -> &'static str {
    if response_type == "token" {
        "implicit"
    } else {
        "authorization_code"
    }
}

/// `GET /oauth/authorize`
pub async fn authorize(
    State(k): State<Arc<Knoema>>,
    Extension(route): Extension<ServiceRoute>,
    uri: Uri,
) -> Response<Body> {
    let p = match params(uri.query().unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let fixtures = k.fixtures();
    let kf = &fixtures;
    let reject = |client_id: Option<&str>, error: &str, reason: String| {
        k.ns.record(
            &route,
            EventKind::TokenRejected {
                grant: get(&p, "response_type").map(|t| grant_name(t).to_owned()),
                client_id: client_id.map(str::to_owned),
                error: error.to_owned(),
                reason: reason.clone(),
                code: None,
            },
        );
        reason
    };
    let Some(client_id) = get(&p, "client_id") else {
        return error_page(&reject(None, "invalid_request", "client_id is missing".into()));
    };
    let Some(app) = kf.app(client_id) else {
        return error_page(&reject(
            Some(client_id),
            "invalid_client",
            format!("there is no app with client_id '{client_id}'"),
        ));
    };
    let given = get(&p, "redirect_uri").map(str::to_owned);
    let redirect_uri = match check_redirect(app, given.as_deref()) {
        Ok(uri) => uri,
        Err(e) => return error_page(&reject(Some(client_id), "invalid_request", e)),
    };
    let state = get(&p, "state").map(str::to_owned);
    let response_type = get(&p, "response_type").unwrap_or_default();
    if response_type != "token" && response_type != "code" {
        let reason = reject(
            Some(client_id),
            "unsupported_response_type",
            format!("response_type '{response_type}' is neither token nor code"),
        );
        let mut pairs = vec![("error", "unsupported_response_type"), ("error_description", reason.as_str())];
        if let Some(s) = &state {
            pairs.push(("state", s));
        }
        return redirect(&with_params(&redirect_uri, false, &pairs));
    }
    let pending = PendingConsent {
        app_id: app.app_id.clone(),
        response_type: response_type.to_owned(),
        redirect_uri,
        redirect_given: given,
        scope: get(&p, "scope").map(str::to_owned),
        state,
        expires_at: k.ns.clock.now() + Duration::seconds(CONSENT_LIFETIME_SECONDS),
    };
    let switch = match get(&p, "consent") {
        Some("auto-approve") => Some(true),
        Some("auto-deny") => Some(false),
        _ => match kf.consent {
            Consent::AutoApprove => Some(true),
            Consent::AutoDeny => Some(false),
            Consent::Prompt => None,
        },
    };
    if let Some(approve) = switch {
        let how =
            if get(&p, "consent").is_some() { "the consent query switch" } else { "knoema.consent in the fixtures" };
        return decide(&k, &route, app, pending, approve, how);
    }
    let request_id = opaque_token(18);
    store::with(&k.store.consents, MAX_PENDING_CONSENTS, |m| m.insert(request_id.clone(), pending.clone()));
    let scope = pending.scope.as_deref().unwrap_or("(default)");
    let what = if response_type == "token" {
        "an access token, given to the application in the browser"
    } else {
        "an authorization code for the application's server"
    };
    html(
        StatusCode::OK,
        "Authorize application",
        &format!(
            "<p>Signed in as <strong id=\"user\">{user}</strong>.</p>\n\
             <p>The application <strong id=\"app\">{app_name}</strong> (<code>{app_id}</code>) asks for access to your Knoema account \
             with scope <code id=\"scope\">{scope}</code>: {what}.</p>\n\
             <p>You will be sent back to <code id=\"redirect\">{redirect}</code>.</p>\n\
             <form method=\"post\" action=\"authorize\" id=\"consent\">\n\
             <input type=\"hidden\" name=\"request\" value=\"{request_id}\">\n\
             <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Approve</button>\n\
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button>\n\
             </form>",
            user = escape(&app.user),
            app_name = escape(if app.name.is_empty() { &app.app_id } else { &app.name }),
            app_id = escape(&app.app_id),
            scope = escape(scope),
            redirect = escape(&pending.redirect_uri),
        ),
    )
}

/// `POST /oauth/authorize`: the consent form's answer (`request`, `decision=approve|deny`).
pub async fn consent_answer(
    State(k): State<Arc<Knoema>>,
    Extension(route): Extension<ServiceRoute>,
    body: Body,
) -> Response<Body> {
    let bytes = match read_body(body, MAX_FORM_BODY).await {
        Ok(b) => b,
        Err(e) => return error_page(&e.to_string()),
    };
    let p = match params(&bytes) {
        Ok(p) => p,
        Err(e) => return error_page(&e),
    };
    let Some(request_id) = get(&p, "request") else {
        return error_page("the form has no 'request': open the authorization URL again");
    };
    let pending = store::with(&k.store.consents, MAX_PENDING_CONSENTS, |m| m.remove(&request_id.to_owned()));
    let Some(pending) = pending.filter(|c| c.expires_at > k.ns.clock.now()) else {
        return error_page(
            "this authorization request is unknown, already answered or expired: open the authorization URL again",
        );
    };
    let approve = match get(&p, "decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => return error_page("the answer must be decision=approve or decision=deny"),
    };
    let fixtures = k.fixtures();
    let Some(app) = fixtures.app(&pending.app_id) else {
        return error_page("the application no longer exists");
    };
    decide(&k, &route, app, pending, approve, "the consent page")
}

/// Sends the user back to the application with the answer.
fn decide(k: &Knoema, route: &ServiceRoute, app: &App, c: PendingConsent, approve: bool, how: &str) -> Response<Body> {
    let implicit = c.response_type == "token";
    let now = k.ns.clock.now();
    let state = c.state.as_deref();
    if !approve {
        k.ns.record(
            route,
            EventKind::TokenRejected {
                grant: Some(grant_name(&c.response_type).to_owned()),
                client_id: Some(app.app_id.clone()),
                error: "access_denied".into(),
                reason: format!("the user denied the request on {how}"),
                code: None,
            },
        );
        let mut pairs = vec![("error", "access_denied"), ("error_description", DENIED_DESCRIPTION)];
        if let Some(s) = state {
            pairs.push(("state", s));
        }
        return redirect(&with_params(&c.redirect_uri, implicit, &pairs));
    }
    let fixtures = k.fixtures();
    if implicit {
        let lifetime = fixtures.token_lifetime_seconds;
        let token = issue_token(k, route, &app.app_id, &app.user, c.scope.clone(), None, "implicit", lifetime);
        let lifetime = lifetime.to_string();
        let mut pairs = vec![("access_token", token.as_str()), ("expires_in", lifetime.as_str())];
        if let Some(s) = state {
            pairs.push(("state", s));
        }
        return redirect(&with_params(&c.redirect_uri, true, &pairs));
    }
    let code = opaque_token(24);
    let record = Code {
        app_id: app.app_id.clone(),
        user: app.user.clone(),
        redirect_given: c.redirect_given.clone(),
        scope: c.scope.clone(),
        expires_at: now + Duration::seconds(fixtures.code_lifetime_seconds),
        used: false,
    };
    store::with(&k.store.codes, MAX_CODES, |m| {
        m.retain(|_, v| v.expires_at > now || v.used);
        m.insert(code.clone(), record)
    });
    tracing::debug!(client_id = %app.app_id, code = %token_id(&code), "knoema authorization code issued");
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    redirect(&with_params(&c.redirect_uri, false, &pairs))
}

/// The redirect URI to answer to: the given one if acceptable, else the only registered one.
fn check_redirect(app: &App, given: Option<&str>) -> Result<String, String> {
    match given {
        Some(uri) => {
            let absolute =
                (uri.starts_with("https://") || uri.starts_with("http://")) && uri.len() > "http://".len() + 1;
            if !absolute || uri.contains('#') {
                return Err(format!("redirect_uri '{uri}' is not an absolute http(s) URI without a fragment"));
            }
            if !app.redirect_uris.is_empty() && !app.redirect_uris.iter().any(|r| r == uri) {
                return Err(format!(
                    "redirect_uri '{uri}' does not match the redirect URI registered for app '{}' ({}); it must match exactly",
                    app.app_id,
                    app.redirect_uris.join(", ")
                ));
            }
            Ok(uri.to_owned())
        }
        None => match app.redirect_uris.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(format!("redirect_uri is missing and app '{}' registers none", app.app_id)),
            _ => Err(format!("redirect_uri is missing and app '{}' registers several", app.app_id)),
        },
    }
}

/// Stores a new access token and journals it; returns the token.
#[allow(clippy::too_many_arguments)]
fn issue_token(
    k: &Knoema,
    route: &ServiceRoute,
    app_id: &str,
    user: &str,
    scope: Option<String>,
    code: Option<String>,
    grant: &str,
    lifetime: i64,
) -> String {
    let now = k.ns.clock.now();
    let token = opaque_token(32);
    let expires_at = now + Duration::seconds(lifetime);
    store::with(&k.store.tokens, MAX_TOKENS, |m| {
        m.retain(|_, t| t.expires_at > now);
        m.insert(token.clone(), Token { app_id: app_id.to_owned(), user: user.to_owned(), expires_at, code })
    });
    k.ns.record(
        route,
        EventKind::TokenIssued {
            grant: grant.to_owned(),
            client_id: app_id.to_owned(),
            scopes: scope.as_deref().unwrap_or_default().split_whitespace().map(str::to_owned).collect(),
            audience: None,
            token_id: token_id(&token),
            expires_at,
            bound_to: None,
        },
    );
    token
}

struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: Option<String>,
    /// For the journal only.
    reason: String,
}

impl TokenError {
    fn credentials(reason: impl Into<String>) -> Self {
        TokenError {
            status: StatusCode::UNAUTHORIZED,
            error: "incorrect_client_credentials",
            description: None,
            reason: reason.into(),
        }
    }

    fn grant(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        TokenError {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_grant",
            description: Some(reason.clone()),
            reason,
        }
    }

    fn request(error: &'static str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        TokenError { status: StatusCode::BAD_REQUEST, error, description: Some(reason.clone()), reason }
    }
}

fn no_store(mut r: Response<Body>) -> Response<Body> {
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// `GET /oauth/token` (and `POST` with a form).
pub async fn token(
    State(k): State<Arc<Knoema>>,
    Extension(route): Extension<ServiceRoute>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response<Body> {
    let mut raw = uri.query().unwrap_or_default().as_bytes().to_vec();
    if method == Method::POST {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        match read_body(body, MAX_FORM_BODY).await {
            Ok(b) if is_form && !b.is_empty() => {
                raw.push(b'&');
                raw.extend_from_slice(&b);
            }
            Ok(_) => {}
            Err(e) => {
                return no_store(super::errors::json_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &json!({"error": "invalid_request", "error_description": e.to_string()}),
                ))
            }
        }
    }
    let p = params(&raw);
    let grant_type = p.as_ref().ok().and_then(|p| get(p, "grant_type")).map(str::to_owned);
    let client_id = p.as_ref().ok().and_then(|p| get(p, "client_id")).map(str::to_owned);
    let result = match p {
        Ok(p) => exchange(&k, &route, &p),
        Err(e) => Err(TokenError::request("invalid_request", e)),
    };
    match result {
        Ok(body) => no_store(super::errors::ok(body)),
        Err(e) => {
            k.ns.record(
                &route,
                EventKind::TokenRejected {
                    grant: grant_type,
                    client_id,
                    error: e.error.to_owned(),
                    reason: e.reason,
                    code: None,
                },
            );
            let mut body = json!({"error": e.error});
            if let Some(d) = e.description {
                body["error_description"] = json!(d);
            }
            no_store(super::errors::json_response(e.status, &body))
        }
    }
}

fn exchange(k: &Knoema, route: &ServiceRoute, p: &BTreeMap<String, String>) -> Result<serde_json::Value, TokenError> {
    let fixtures = k.fixtures();
    let kf = &fixtures;
    let now = k.ns.clock.now();
    let grant_type =
        get(p, "grant_type").ok_or_else(|| TokenError::request("invalid_request", "grant_type is missing"))?;
    if grant_type != "authorization_code" && grant_type != "refresh_token" {
        return Err(TokenError::request(
            "unsupported_grant_type",
            format!("grant_type '{grant_type}' is neither authorization_code nor refresh_token"),
        ));
    }
    let client_id = get(p, "client_id").ok_or_else(|| {
        TokenError::credentials("client_id is missing from the parameters (Knoema reads client_id and client_secret from the query string; HTTP Basic is not read)")
    })?;
    let app = kf
        .app(client_id)
        .ok_or_else(|| TokenError::credentials(format!("there is no app with client_id '{client_id}'")))?;
    let secret = get(p, "client_secret")
        .ok_or_else(|| TokenError::credentials("client_secret is missing from the parameters"))?;
    if !secrets_equal(secret, &app.app_secret) {
        return Err(TokenError::credentials(format!("client_secret is not the secret of app '{client_id}'")));
    }
    let lifetime = kf.token_lifetime_seconds;
    let (user, scope, code_key, grant) = if grant_type == "authorization_code" {
        let code = get(p, "code").ok_or_else(|| TokenError::request("invalid_request", "code is missing"))?.to_owned();
        let checked = store::with(&k.store.codes, MAX_CODES, |m| -> Result<Code, TokenError> {
            let Some(c) = m.get_mut(&code) else {
                return Err(TokenError::grant("the code is unknown (never issued, or dropped)"));
            };
            if c.used {
                return Err(TokenError::grant(
                    "the code was already exchanged: codes are single-use; the tokens it gave are revoked",
                ));
            }
            if c.app_id != app.app_id {
                return Err(TokenError::grant(format!(
                    "the code was issued to app '{}', not '{}'",
                    c.app_id, app.app_id
                )));
            }
            if c.expires_at <= now {
                return Err(TokenError::grant(format!(
                    "the code expired {} s ago",
                    (now - c.expires_at).num_seconds()
                )));
            }
            if let Some(expected) = &c.redirect_given {
                match get(p, "redirect_uri") {
                    Some(given) if given == expected => {}
                    Some(given) => {
                        return Err(TokenError::grant(format!(
                            "redirect_uri '{given}' differs from '{expected}' of the authorization request"
                        )));
                    }
                    None => {
                        return Err(TokenError::grant(format!(
                            "redirect_uri is missing; the authorization request had '{expected}'"
                        )))
                    }
                }
            }
            c.used = true;
            Ok(c.clone())
        });
        let c = match checked {
            Ok(c) => c,
            Err(e) => {
                if e.reason.starts_with("the code was already exchanged") {
                    revoke_code_tokens(k, &code);
                }
                return Err(e);
            }
        };
        (c.user, c.scope, Some(code), "authorization_code")
    } else {
        let refresh = get(p, "refresh_token")
            .ok_or_else(|| TokenError::request("invalid_request", "refresh_token is missing"))?
            .to_owned();
        let found = store::with(&k.store.refresh_tokens, MAX_TOKENS, |m| m.get(&refresh).cloned());
        let r = found
            .ok_or_else(|| TokenError::grant(format!("refresh token {} is unknown or revoked", token_id(&refresh))))?;
        if r.app_id != app.app_id {
            return Err(TokenError::grant(format!(
                "the refresh token belongs to app '{}', not '{}'",
                r.app_id, app.app_id
            )));
        }
        if r.expires_at <= now {
            return Err(TokenError::grant(format!(
                "refresh token {} expired {} s ago",
                token_id(&refresh),
                (now - r.expires_at).num_seconds()
            )));
        }
        (r.user, r.scope, r.code, "refresh_token")
    };
    let access = issue_token(k, route, &app.app_id, &user, scope.clone(), code_key.clone(), grant, lifetime);
    let refresh = match (grant, get(p, "refresh_token")) {
        ("refresh_token", Some(r)) => r.to_owned(),
        _ => {
            let r = opaque_token(32);
            let expires_at = now + chrono::Duration::seconds(kf.refresh_token_lifetime_seconds);
            let record = RefreshToken {
                app_id: app.app_id.clone(),
                user: user.clone(),
                scope: scope.clone(),
                code: code_key,
                expires_at,
            };
            store::with(&k.store.refresh_tokens, MAX_TOKENS, |m| m.insert(r.clone(), record));
            r
        }
    };
    Ok(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": lifetime.to_string(),
        "refresh_token": refresh,
        "scope": scope.unwrap_or_default(),
    }))
}

/// A replayed code: revoke every token it gave (RFC 6749 §4.1.2).
fn revoke_code_tokens(k: &Knoema, code: &str) {
    let code = Some(code.to_owned());
    store::with(&k.store.tokens, MAX_TOKENS, |m| m.retain(|_, t| t.code != code));
    store::with(&k.store.refresh_tokens, MAX_TOKENS, |m| m.retain(|_, t| t.code != code));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn redirects_carry_the_answer_where_the_flow_wants_it() {
        assert_eq!(
            with_params("https://a/cb", true, &[("access_token", "x y"), ("expires_in", "5")]),
            "https://a/cb#access_token=x+y&expires_in=5"
        );
        assert_eq!(with_params("https://a/cb?k=1", false, &[("code", "c")]), "https://a/cb?k=1&code=c");
        assert_eq!(params(b"a=1&a=2").unwrap_err(), "parameter 'a' is included more than once");
        assert_eq!(escape("<a href=\"x\">'&'"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;");
    }

    #[test]
    fn registered_redirect_uris_must_match_exactly() {
        let app = App {
            app_id: "a".into(),
            app_secret: "s".into(),
            name: String::new(),
            redirect_uris: vec!["https://c/cb".into()],
            user: "u".into(),
        };
        assert_eq!(check_redirect(&app, Some("https://c/cb")).unwrap(), "https://c/cb");
        assert_eq!(check_redirect(&app, None).unwrap(), "https://c/cb");
        assert!(check_redirect(&app, Some("https://c/cb/")).unwrap_err().contains("must match exactly"));
        assert!(check_redirect(&app, Some("https://c/cb#x")).is_err());
        let open = App { redirect_uris: vec![], ..app };
        assert!(check_redirect(&open, Some("https://any/where")).is_ok());
        assert!(check_redirect(&open, None).is_err());
    }

    proptest! {
        #[test]
        fn oauth_parameter_parser_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = params(&raw);
        }
    }
}
