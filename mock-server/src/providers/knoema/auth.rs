//! Who is calling the data API (docs/providers/knoema.md#authentication: three options). In order:
//! 1. the `Authorization` header: `Knoema {appId}:{hash}:1.2` (signed), `Knoema {appId}`
//!    (client_id, assumed format), or `Bearer {token}` (OAuth);
//! 2. `?access_token=` (OAuth, as the C# client sends it);
//! 3. `?client_id=` (the app id alone);
//! 4. nobody: anonymous, under the optional daily limit.
//!
//! Anonymous and client_id callers see public datasets; a valid signature or token also sees
//! private ones and may write (upload, delete, verify). Bad credentials are refused even for
//! public data: 403 for a signature or app id (the R client expects "(403) Forbidden"), 401
//! for a token (assumed). The answer carries no reason; the `api.denied` event does.

use std::net::IpAddr;

use axum::body::Body;
use axum::http::{header, HeaderMap, Response, StatusCode};

use super::errors;
use super::query::LenientQuery;
use super::signature::{self, Credentials};
use super::store::{self, MAX_ANONYMOUS_CLIENTS, MAX_TOKENS};
use super::provider::Knoema;
use crate::journal::EventKind;
use crate::contract::ServiceRoute;
use crate::tokens::token_id;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    /// The app id alone, in the query or the header.
    AppId(String),
    /// A valid signed header.
    Signed(String),
    /// A valid OAuth access token.
    User {
        app_id: String,
        user: String,
    },
}

impl Caller {
    /// Signed apps and token holders: private datasets and writes.
    pub fn is_authenticated(&self) -> bool {
        matches!(self, Caller::Signed(_) | Caller::User { .. })
    }

    pub fn app_id(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::AppId(a) | Caller::Signed(a) => Some(a),
            Caller::User { app_id, .. } => Some(app_id),
        }
    }

    /// For the journal.
    pub fn label(&self) -> String {
        self.app_id().unwrap_or("anonymous").to_owned()
    }
}

/// The request facts authentication reads.
pub struct Request<'a> {
    pub route: &'a ServiceRoute,
    pub headers: &'a HeaderMap,
    pub query: &'a LenientQuery,
    pub remote: Option<IpAddr>,
    pub endpoint: &'a str,
}

/// Authenticates the caller, or answers the refusal (and journals why).
pub fn admit(k: &Knoema, req: &Request<'_>) -> Result<Caller, Response<Body>> {
    let deny = |status: StatusCode, reason: String, client_id: Option<String>| {
        tracing::debug!(endpoint = req.endpoint, status = status.as_u16(), "knoema request denied: {reason}");
        k.ns.record(
            req.route,
            EventKind::ApiDenied { endpoint: req.endpoint.to_owned(), status: status.as_u16(), reason, client_id },
        );
        errors::denied(status)
    };
    let fixtures = k.fixtures();
    let kf = &fixtures;
    let now = k.ns.clock.now();

    let header = req.headers.get(header::AUTHORIZATION).map(|v| signature::parse_header(v.as_bytes()));
    let credentials = match header {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => return Err(deny(StatusCode::FORBIDDEN, e.to_string(), None)),
        None => match (req.query.get("access_token"), req.query.get("client_id")) {
            (Some(token), _) => Some(Credentials::Bearer(token.to_owned())),
            (None, Some(app)) => Some(Credentials::AppId(app.to_owned())),
            (None, None) => None,
        },
    };
    let caller = match credentials {
        None => {
            if kf.anonymous_request_limit > 0 {
                let client = req.remote.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
                let day = now.format("%Y-%m-%d").to_string();
                let count = store::with(&k.store.anonymous, MAX_ANONYMOUS_CLIENTS, |m| {
                    let key = (client.clone(), day);
                    let n = m.get(&key).copied().unwrap_or(0) + 1;
                    m.insert(key, n);
                    n
                });
                if count > kf.anonymous_request_limit {
                    let reason = format!(
                        "anonymous request {count} from {client} today; the limit is {} a day (knoema.anonymous_request_limit)",
                        kf.anonymous_request_limit
                    );
                    k.ns.record(
                        req.route,
                        EventKind::ApiDenied {
                            endpoint: req.endpoint.to_owned(),
                            status: 429,
                            reason,
                            client_id: None,
                        },
                    );
                    return Err(errors::too_many_requests(kf.anonymous_request_limit));
                }
            }
            Caller::Anonymous
        }
        Some(Credentials::AppId(app_id)) => {
            if kf.app(&app_id).is_none() {
                return Err(deny(
                    StatusCode::FORBIDDEN,
                    format!("client_id '{}' is not a known app", shown(&app_id)),
                    None,
                ));
            }
            Caller::AppId(app_id)
        }
        Some(Credentials::Signed { app_id, hash, version }) => {
            let Some(app) = kf.app(&app_id) else {
                return Err(deny(
                    StatusCode::FORBIDDEN,
                    format!("signed header for unknown app '{}'", shown(&app_id)),
                    None,
                ));
            };
            if version != signature::VERSION {
                return Err(deny(
                    StatusCode::FORBIDDEN,
                    format!(
                        "signature version '{}' is not {}: the header must end with ':1.2'",
                        shown(&version),
                        signature::VERSION
                    ),
                    Some(app_id),
                ));
            }
            if !signature::verify(&app.app_secret, &hash, now) {
                let others: Vec<&str> =
                    kf.apps.iter().filter(|a| a.app_id != app_id).map(|a| a.app_secret.as_str()).collect();
                let diagnosis = signature::diagnose(&app.app_secret, &hash, now, &others);
                return Err(deny(
                    StatusCode::FORBIDDEN,
                    format!("signature rejected ({}): {}", diagnosis.cause, diagnosis.detail),
                    Some(app_id),
                ));
            }
            Caller::Signed(app_id)
        }
        Some(Credentials::Bearer(token)) => {
            let found = store::with(&k.store.tokens, MAX_TOKENS, |m| m.get(&token).cloned());
            let Some(t) = found else {
                return Err(deny(
                    StatusCode::UNAUTHORIZED,
                    format!("access token {} is unknown or revoked", token_id(&token)),
                    None,
                ));
            };
            if t.expires_at <= now {
                let ago = (now - t.expires_at).num_seconds();
                return Err(deny(
                    StatusCode::UNAUTHORIZED,
                    format!("access token {} expired {ago} s ago", token_id(&token)),
                    Some(t.app_id),
                ));
            }
            if kf.app(&t.app_id).is_none() {
                return Err(deny(
                    StatusCode::UNAUTHORIZED,
                    format!("the app '{}' of the token no longer exists", t.app_id),
                    Some(t.app_id),
                ));
            }
            Caller::User { app_id: t.app_id, user: t.user }
        }
    };
    let via = match &caller {
        Caller::Anonymous => "-".to_owned(),
        Caller::AppId(_) => "client_id".to_owned(),
        Caller::Signed(_) => format!("signature:{}", signature::hour_key(now)),
        Caller::User { .. } => req
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .and_then(|v| v.split_once(' ').map(|(_, t)| t.to_owned()))
            .or_else(|| req.query.get("access_token").map(str::to_owned))
            .map_or_else(|| "-".to_owned(), |t| token_id(&t)),
    };
    k.ns.record(
        req.route,
        EventKind::ApiAuthorized { endpoint: req.endpoint.to_owned(), client_id: caller.label(), token_id: via },
    );
    Ok(caller)
}

/// At most 40 characters of a caller-supplied value, for the journal.
fn shown(s: &str) -> String {
    let cut: String = s.chars().take(40).collect();
    if cut.len() < s.len() {
        format!("{cut}...")
    } else {
        cut
    }
}
