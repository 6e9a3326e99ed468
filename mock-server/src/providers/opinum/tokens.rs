//! Opinum's tokens: access tokens are RS256 JWTs (IdentityServer's default) with the user's
//! `account`; refresh tokens are opaque, single use (each refresh returns a new one) and kept in
//! a bounded store. Every expiry reads the virtual clock.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::bounded::BoundedMap;

pub const SCOPE_API: &str = "datahub-api";
pub const SCOPE_PUSH: &str = "push-data";
pub const SCOPE_OFFLINE: &str = "offline_access";
/// What older clients ask for instead of `datahub-api`.
pub const SCOPE_API_ALIAS: &str = "opisense-api";
pub const KNOWN_SCOPES: &[&str] = &[SCOPE_API, SCOPE_PUSH, SCOPE_OFFLINE, "openid", SCOPE_API_ALIAS];

/// Refresh tokens kept at once; the oldest are forgotten first.
const MAX_REFRESH_TOKENS: usize = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: Vec<String>,
    pub client_id: String,
    pub sub: String,
    /// The account the user works in.
    pub account: i64,
    pub scope: Vec<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// A refresh token's grant, kept server-side.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub client_id: String,
    pub username: String,
    pub account: i64,
    pub scopes: Vec<String>,
    pub expires_at: i64,
}

pub struct RefreshTokens(Mutex<BoundedMap<String, RefreshGrant>>);

impl Default for RefreshTokens {
    fn default() -> Self {
        RefreshTokens(Mutex::new(BoundedMap::new(MAX_REFRESH_TOKENS)))
    }
}

impl RefreshTokens {
    pub fn issue(&self, grant: RefreshGrant) -> String {
        let token = crate::tokens::opaque_token(32);
        self.0.lock().unwrap().insert(token.clone(), grant);
        token
    }

    /// Takes the grant out: a refresh token works once.
    pub fn redeem(&self, token: &str) -> Option<RefreshGrant> {
        self.0.lock().unwrap().remove(&token.to_owned())
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}
