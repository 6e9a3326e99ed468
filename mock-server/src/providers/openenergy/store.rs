//! Issued access tokens. Tokens are opaque, so the authorization server must remember what each
//! one stands for: client, scopes, times and the certificate it is bound to.
//!
//! Kept by the SHA-256 of the token, never the token itself, and bounded: beyond `capacity` the
//! oldest are forgotten first (a forgotten token is simply inactive, as an unknown one is).
//! Expired tokens are dropped as the oldest entries come up.
//!
//! A client that asks again and again gets tokens that differ only in their times, so a token
//! shares its [`TokenGrant`] with a recent token of the same grant: a live token then costs its
//! table entry (56 bytes) and its place in the order (32), where a record of its own took about
//! 700 bytes in nine allocations.

use std::collections::{HashMap, VecDeque};
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::tokens::token_id_of_digest;

/// Recent tokens whose grant a new token may share (the newest first).
const SHARE_WINDOW: usize = 8;

/// What a token was granted: who, for what, bound to which certificate, by which issuer.
#[derive(Debug, PartialEq)]
pub struct TokenGrant {
    pub client_id: String,
    pub software_statement_id: String,
    pub organisation_id: String,
    pub scopes: Vec<String>,
    /// `x5t#S256` of the certificate the token was issued to.
    pub thumbprint: String,
    /// That certificate's serial (hex), so revoking it deactivates the token.
    pub serial: String,
    /// The issuer the client met (`iss` of introspection).
    pub iss: String,
}

/// What a token stands for: its grant (fields readable through it) and its times.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// Non-secret handle for the journal and logs.
    pub token_id: String,
    pub grant: Arc<TokenGrant>,
    /// Unix seconds on the virtual clock.
    pub iat: i64,
    pub exp: i64,
}

impl Deref for TokenRecord {
    type Target = TokenGrant;

    fn deref(&self) -> &TokenGrant {
        &self.grant
    }
}

type Key = [u8; 32];

fn key(token: &str) -> Key {
    Sha256::digest(token.as_bytes()).into()
}

/// A stored token: everything but its id, which is derived from the token when it is read.
struct Entry {
    grant: Arc<TokenGrant>,
    iat: i64,
    exp: i64,
}

#[derive(Default)]
pub struct TokenStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_key: HashMap<Key, Entry>,
    /// Insertion order, for eviction.
    order: VecDeque<Key>,
}

impl Inner {
    /// The grant of a recent token equal to `grant`, or `grant` itself.
    fn shared(&self, grant: TokenGrant) -> Arc<TokenGrant> {
        self.order
            .iter()
            .rev()
            .take(SHARE_WINDOW)
            .filter_map(|k| self.by_key.get(k))
            .find(|e| *e.grant == grant)
            .map(|e| Arc::clone(&e.grant))
            .unwrap_or_else(|| Arc::new(grant))
    }
}

impl TokenStore {
    /// Remembers `token`, issued at `iat` and expiring at `exp`; forgets the oldest beyond
    /// `capacity`, and expired ones at the front. Returns what a later [`get`](Self::get) returns.
    pub fn insert(&self, token: &str, grant: TokenGrant, iat: i64, exp: i64, capacity: usize, now: i64) -> TokenRecord {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(token);
        let grant = inner.shared(grant);
        if inner.by_key.insert(k, Entry { grant: Arc::clone(&grant), iat, exp }).is_none() {
            inner.order.push_back(k);
        }
        while inner.order.len() > capacity.max(1) {
            if let Some(old) = inner.order.pop_front() {
                inner.by_key.remove(&old);
            }
        }
        while let Some(front) = inner.order.front().copied() {
            match inner.by_key.get(&front) {
                Some(e) if e.exp <= now && inner.order.len() > 1 => {
                    inner.by_key.remove(&front);
                    inner.order.pop_front();
                }
                _ => break,
            }
        }
        TokenRecord { token_id: token_id_of_digest(&k), grant, iat, exp }
    }

    /// The record of `token`, expired or not (callers judge time on the virtual clock).
    pub fn get(&self, token: &str) -> Option<TokenRecord> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(token);
        let e = inner.by_key.get(&k)?;
        Some(TokenRecord { token_id: token_id_of_digest(&k), grant: Arc::clone(&e.grant), iat: e.iat, exp: e.exp })
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).by_key.len()
    }

    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.by_key.clear();
        inner.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(client: &str) -> TokenGrant {
        TokenGrant {
            client_id: client.into(),
            software_statement_id: "s".into(),
            organisation_id: "o".into(),
            scopes: vec!["directory:software".into()],
            thumbprint: "t".into(),
            serial: "01".into(),
            iss: "i".into(),
        }
    }

    #[test]
    fn bounded_oldest_first_and_expired_dropped() {
        let store = TokenStore::default();
        for i in 0..5 {
            store.insert(&format!("t{i}"), grant("c"), 0, 1000, 3, 0);
        }
        assert_eq!(store.len(), 3);
        assert!(store.get("t0").is_none() && store.get("t1").is_none() && store.get("t4").is_some());
        // Expired at the front go when a new one arrives.
        let store = TokenStore::default();
        store.insert("old", grant("c"), 0, 10, 100, 0);
        store.insert("new", grant("c"), 50, 1000, 100, 50);
        assert!(store.get("old").is_none());
        assert!(store.get("new").is_some());
    }

    #[test]
    fn tokens_of_one_grant_share_it_and_read_back_whole() {
        let store = TokenStore::default();
        let first = store.insert("a", grant("c1"), 0, 600, 100, 0);
        let second = store.insert("b", grant("c1"), 5, 605, 100, 5);
        let other = store.insert("c", grant("c2"), 6, 606, 100, 6);
        assert!(Arc::ptr_eq(&first.grant, &second.grant));
        assert!(!Arc::ptr_eq(&first.grant, &other.grant));
        let read = store.get("b").expect("stored");
        assert_eq!((read.client_id.as_str(), read.iat, read.exp), ("c1", 5, 605));
        assert_eq!(read.token_id, crate::tokens::token_id("b"));
        assert_eq!(store.get("c").expect("stored").client_id, "c2");
    }
}
