//! Every credential Lynx hands out, in one bounded store: login tokens, the half-logged-in
//! tokens of SMS 2FA, API keys, and OAuth access and refresh tokens. All are 32 hexadecimal
//! characters (the API documentation's example token) and all work the same way on REST and
//! MQTT, except the 2FA token, which is only good for `PUT /api/v2/auth`.
//!
//! Tokens are kept by their SHA-256 digest, never in clear: a lookup compares digests, so
//! nothing about a secret leaks through timing, and the journal and logs only ever see a
//! digest prefix. Expiry (`expire`) and inactivity (`session_timeout`) read the virtual clock.
//!
//! REST presents a credential as `X-API-Key: KEY`, `Authorization: Bearer KEY` or
//! `Authorization: Basic base64(ANYTHING:KEY)` (Lynx's `basicAuth`: the password is the key).

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::HeaderMap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::access::{narrowed, Access};
use super::directory::Directory;
use super::scopes;
use crate::bounded::BoundedMap;
use crate::wire::Authorization;

/// Accesses remembered per key (the `accessed` list of a listing).
const MAX_ACCESSES: usize = 10;

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Login,
    /// Logged in with the password, waiting for the SMS code.
    PendingSms {
        code: String,
        code_expires: i64,
        attempts_left: u32,
    },
    ApiKey,
    OAuthAccess {
        client_id: String,
        consent: String,
    },
    OAuthRefresh {
        client_id: String,
        consent: String,
    },
}

impl Kind {
    /// The `type` a listing shows.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Login | Kind::PendingSms { .. } => "login",
            Kind::ApiKey => "api_key",
            Kind::OAuthAccess { .. } | Kind::OAuthRefresh { .. } => "oauth2",
        }
    }
}

/// One use of a key, as listings show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Accessed {
    pub ip: String,
    pub agent: String,
    pub last_accessed: i64,
}

#[derive(Debug, Clone)]
pub struct Credential {
    pub id: i64,
    pub kind: Kind,
    pub user_id: i64,
    pub name: String,
    /// The first characters of the token, for listings (the rest is never shown again).
    pub prefix: String,
    pub created: i64,
    /// Unix seconds; 0 never.
    pub expire: i64,
    /// Seconds of inactivity after which the key stops working; 0 never.
    pub session_timeout: i64,
    pub last_used: i64,
    /// The key's own permission list (`None`: its user's role's).
    pub permissions: Option<Vec<String>>,
    /// OAuth: the consented scopes and installations.
    pub scopes: Option<BTreeSet<String>>,
    pub installations: Option<BTreeSet<i64>>,
    /// The User-Agent that created it.
    pub agent: String,
    pub accessed: VecDeque<Accessed>,
}

impl Credential {
    pub fn new(kind: Kind, user_id: i64, name: impl Into<String>, now: i64) -> Credential {
        Credential {
            id: 0,
            kind,
            user_id,
            name: name.into(),
            prefix: String::new(),
            created: now,
            expire: 0,
            session_timeout: 0,
            last_used: 0,
            permissions: None,
            scopes: None,
            installations: None,
            agent: String::new(),
            accessed: VecDeque::new(),
        }
    }

    /// Why it no longer works at `now`, if it does not.
    pub fn dead(&self, now: i64) -> Option<&'static str> {
        if self.expire > 0 && now >= self.expire {
            return Some("expired");
        }
        let since = if self.last_used > 0 { self.last_used } else { self.created };
        if self.session_timeout > 0 && now - since > self.session_timeout {
            return Some("session timed out (inactive longer than session_timeout)");
        }
        None
    }

    /// Who this credential is, for the journal.
    pub fn principal(&self) -> String {
        match &self.kind {
            Kind::ApiKey => format!("user {} key {}", self.user_id, self.id),
            Kind::Login | Kind::PendingSms { .. } => format!("user {} login {}", self.user_id, self.id),
            Kind::OAuthAccess { client_id, .. } | Kind::OAuthRefresh { client_id, .. } => {
                format!("user {} oauth {client_id}", self.user_id)
            }
        }
    }

    /// What it may reach, given who its user is now.
    pub fn access(&self, directory: &Directory) -> Option<Access> {
        let user = directory.user(self.user_id)?;
        let role = directory.role_permissions(user);
        let permissions = match &self.scopes {
            Some(scopes) => scopes::permissions_of(scopes, &role),
            None => narrowed(&role, self.permissions.as_deref()),
        };
        Some(Access {
            user_id: user.id,
            principal: self.principal(),
            permissions,
            assigned: user.installations.iter().copied().collect(),
            organization: directory.organization_installations(user),
            only: self.installations.clone(),
        })
    }
}

/// A new Lynx token: 32 hexadecimal characters.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key a token is kept under.
pub fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// How many times the credentials changed in a way that may end one (a removal, a revocation,
/// an insert that may evict, a new store): open MQTT sessions compare it with the count they
/// last checked at and look their credential up again only when it moved. Shared by every
/// store a provider makes, so a reload counts too.
#[derive(Debug, Clone, Default)]
pub struct Changes(Arc<AtomicU64>);

impl Changes {
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

pub struct Store {
    map: BoundedMap<String, Credential>,
    next_id: i64,
    changes: Changes,
}

impl Store {
    pub fn new(capacity: usize, changes: Changes) -> Store {
        changes.bump();
        Store { map: BoundedMap::new(capacity), next_id: 1000, changes }
    }

    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// Keeps `credential` under `token`; gives it the next id unless it has one. Returns the id.
    pub fn insert(&mut self, token: &str, mut credential: Credential) -> i64 {
        if credential.id == 0 {
            self.next_id += 1;
            credential.id = self.next_id;
        } else {
            self.next_id = self.next_id.max(credential.id);
        }
        credential.prefix = token.chars().take(4).collect();
        let id = credential.id;
        self.map.insert(digest(token), credential);
        self.changes.bump();
        id
    }

    pub fn get(&self, digest: &str) -> Option<&Credential> {
        self.map.get(&digest.to_owned())
    }

    pub fn get_mut(&mut self, digest: &str) -> Option<&mut Credential> {
        self.map.get_mut(&digest.to_owned())
    }

    pub fn remove(&mut self, digest: &str) -> Option<Credential> {
        self.changes.bump();
        self.map.remove(&digest.to_owned())
    }

    /// Marks a use (for `last_used`, `session_timeout` and `accessed`).
    pub fn touch(&mut self, digest: &str, now: i64, ip: &str, agent: &str) {
        if let Some(c) = self.map.get_mut(&digest.to_owned()) {
            c.last_used = now;
            c.accessed.retain(|a| !(a.ip == ip && a.agent == agent));
            c.accessed.push_front(Accessed { ip: ip.to_owned(), agent: agent.to_owned(), last_accessed: now });
            c.accessed.truncate(MAX_ACCESSES);
        }
    }

    /// The user's login tokens and API keys, oldest first, with their digests.
    pub fn listed(&self, user_id: i64) -> Vec<(&String, &Credential)> {
        let mut list: Vec<(&String, &Credential)> = self
            .map
            .iter()
            .filter(|(_, c)| c.user_id == user_id && matches!(c.kind, Kind::Login | Kind::ApiKey))
            .collect();
        list.sort_by_key(|(_, c)| c.id);
        list
    }

    /// Removes the user's listed credential `id`; `false` if there is none.
    pub fn revoke_id(&mut self, user_id: i64, id: i64) -> bool {
        let before = self.map.len();
        self.changes.bump();
        self.map.retain(|_, c| !(c.user_id == user_id && c.id == id && matches!(c.kind, Kind::Login | Kind::ApiKey)));
        self.map.len() < before
    }

    /// Removes every token issued under an OAuth consent.
    pub fn revoke_consent(&mut self, consent_id: &str) {
        self.changes.bump();
        self.map.retain(|_, c| match &c.kind {
            Kind::OAuthAccess { consent, .. } | Kind::OAuthRefresh { consent, .. } => consent != consent_id,
            _ => true,
        });
    }
}

/// The key a REST request presents, in any of Lynx's three forms; `Err` when a header is
/// there but unreadable.
pub fn presented(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    if let Some(v) = headers.get("x-api-key") {
        return match v.to_str().map(str::trim) {
            Ok(key) if !key.is_empty() => Ok(Some(key.to_owned())),
            _ => Err("the X-API-Key header is empty or not text"),
        };
    }
    match Authorization::from_headers(headers) {
        Ok(None) => Ok(None),
        Ok(Some(Authorization::Bearer(token))) => Ok(Some(token)),
        Ok(Some(Authorization::Basic { password, .. })) if !password.is_empty() => Ok(Some(password)),
        Ok(Some(Authorization::Basic { .. })) => Err("the Basic credentials carry no key as password"),
        Ok(Some(Authorization::Other { .. })) => Err("the Authorization scheme is neither Bearer nor Basic"),
        Err(_) => Err("the Authorization header is malformed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_look_like_lynx_tokens() {
        let t = new_token();
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(t, new_token());
    }

    #[test]
    fn expiry_and_inactivity() {
        let mut c = Credential::new(Kind::ApiKey, 1, "k", 1000);
        assert_eq!(c.dead(5000), None);
        c.expire = 2000;
        assert_eq!(c.dead(2000), Some("expired"));
        c.expire = 0;
        c.session_timeout = 60;
        assert!(c.dead(1061).is_some());
        c.last_used = 1050;
        assert_eq!(c.dead(1100), None);
    }

    #[test]
    fn store_lists_revokes_and_hides_tokens() {
        let changes = Changes::default();
        let mut store = Store::new(10, changes.clone());
        let token = new_token();
        let id = store.insert(&token, Credential::new(Kind::ApiKey, 7, "k", 1));
        let login = new_token();
        store.insert(&login, Credential::new(Kind::Login, 7, "login", 2));
        store.insert(&new_token(), Credential::new(Kind::ApiKey, 8, "other", 3));
        assert_eq!(store.listed(7).len(), 2);
        assert_eq!(store.get(&digest(&token)).unwrap().prefix, token[..4]);
        assert!(!store.revoke_id(8, id), "another user's key");
        let before = changes.count();
        assert!(store.revoke_id(7, id));
        assert!(store.get(&digest(&token)).is_none());
        assert!(changes.count() > before, "open sessions look again");
        let before = changes.count();
        store.touch(&digest(&login), 5, "ip", "agent");
        assert_eq!(changes.count(), before, "a use changes nothing that ends a credential");
    }

    #[test]
    fn three_ways_to_present_a_key() {
        use base64::Engine;
        let mut h = HeaderMap::new();
        h.insert("x-api-key", "abc".parse().unwrap());
        assert_eq!(presented(&h), Ok(Some("abc".into())));
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(presented(&h), Ok(Some("abc".into())));
        let basic = base64::engine::general_purpose::STANDARD.encode("anything:abc");
        let mut h = HeaderMap::new();
        h.insert("authorization", format!("Basic {basic}").parse().unwrap());
        assert_eq!(presented(&h), Ok(Some("abc".into())));
        assert_eq!(presented(&HeaderMap::new()), Ok(None));
    }

    proptest! {
        #[test]
        fn presented_never_panics(value in "\\PC{0,80}") {
            for name in ["x-api-key", "authorization"] {
                let mut h = HeaderMap::new();
                if let Ok(v) = value.parse() {
                    h.insert(name, v);
                    let _ = presented(&h);
                }
            }
        }
    }
}
