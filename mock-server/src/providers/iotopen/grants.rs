//! What the OAuth flow keeps between its steps: consent requests waiting for the user, codes
//! waiting for their exchange, and the consents given (each bounded; reset forgets them).

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::bounded::BoundedMap;

/// How long an authorization code may wait for its exchange.
pub const CODE_LIFETIME: i64 = 600;
/// Pending consent requests and unexchanged codes kept at once; the oldest are forgotten first.
const MAX_PENDING: usize = 10_000;
/// Consents kept at once.
const MAX_CONSENTS: usize = 10_000;

#[derive(Clone)]
pub struct Request {
    pub user_id: i64,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub challenge: Option<(String, String)>,
    pub expires: i64,
}

#[derive(Clone)]
pub struct Grant {
    pub request: Request,
    pub consent: String,
}

#[derive(Clone, Debug)]
pub struct Consent {
    pub id: String,
    pub user_id: i64,
    pub client_id: String,
    pub scopes: BTreeSet<String>,
    pub installations: BTreeSet<i64>,
}

pub struct OAuthState {
    pub inner: Mutex<Inner>,
}

pub struct Inner {
    pub requests: BoundedMap<String, Request>,
    pub codes: BoundedMap<String, Grant>,
    pub consents: BoundedMap<String, Consent>,
}

impl Default for OAuthState {
    fn default() -> Self {
        OAuthState {
            inner: Mutex::new(Inner {
                requests: BoundedMap::new(MAX_PENDING),
                codes: BoundedMap::new(MAX_PENDING),
                consents: BoundedMap::new(MAX_CONSENTS),
            }),
        }
    }
}

impl OAuthState {
    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.requests.clear();
        inner.codes.clear();
        inner.consents.clear();
    }
}
