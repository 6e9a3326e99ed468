//! Issued access tokens. Tokens are opaque, so the authorization server must remember what each
//! one stands for: client, scopes, times and the certificate it is bound to.
//!
//! Kept by the SHA-256 of the token, never the token itself, and bounded: beyond `capacity` the
//! oldest are forgotten first (a forgotten token is simply inactive, as an unknown one is).
//! Expired tokens are dropped as the oldest entries come up.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// What a token stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// Non-secret handle for the journal and logs.
    pub token_id: String,
    pub client_id: String,
    pub software_statement_id: String,
    pub organisation_id: String,
    pub scopes: Vec<String>,
    /// Unix seconds on the virtual clock.
    pub iat: i64,
    pub exp: i64,
    /// `x5t#S256` of the certificate the token was issued to.
    pub thumbprint: String,
    /// That certificate's serial (hex), so revoking it deactivates the token.
    pub serial: String,
    /// The issuer the client met (`iss` of introspection).
    pub iss: String,
}

type Key = [u8; 32];

fn key(token: &str) -> Key {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Default)]
pub struct TokenStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_key: HashMap<Key, Arc<TokenRecord>>,
    /// Insertion order, for eviction.
    order: VecDeque<Key>,
}

impl TokenStore {
    /// Remembers `token`; forgets the oldest beyond `capacity`, and expired ones at the front.
    pub fn insert(&self, token: &str, record: TokenRecord, capacity: usize, now: i64) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(token);
        if inner.by_key.insert(k, Arc::new(record)).is_none() {
            inner.order.push_back(k);
        }
        while inner.order.len() > capacity.max(1) {
            if let Some(old) = inner.order.pop_front() {
                inner.by_key.remove(&old);
            }
        }
        while let Some(front) = inner.order.front().copied() {
            match inner.by_key.get(&front) {
                Some(r) if r.exp <= now && inner.order.len() > 1 => {
                    inner.by_key.remove(&front);
                    inner.order.pop_front();
                }
                _ => break,
            }
        }
    }

    /// The record of `token`, expired or not (callers judge time on the virtual clock).
    pub fn get(&self, token: &str) -> Option<Arc<TokenRecord>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).by_key.get(&key(token)).cloned()
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

    fn record(exp: i64) -> TokenRecord {
        TokenRecord {
            token_id: "id".into(),
            client_id: "c".into(),
            software_statement_id: "s".into(),
            organisation_id: "o".into(),
            scopes: vec![],
            iat: 0,
            exp,
            thumbprint: "t".into(),
            serial: "01".into(),
            iss: "i".into(),
        }
    }

    #[test]
    fn bounded_oldest_first_and_expired_dropped() {
        let store = TokenStore::default();
        for i in 0..5 {
            store.insert(&format!("t{i}"), record(1000), 3, 0);
        }
        assert_eq!(store.len(), 3);
        assert!(store.get("t0").is_none() && store.get("t1").is_none() && store.get("t4").is_some());
        // Expired at the front go when a new one arrives.
        let store = TokenStore::default();
        store.insert("old", record(10), 100, 0);
        store.insert("new", record(1000), 100, 50);
        assert!(store.get("old").is_none());
        assert!(store.get("new").is_some());
    }
}
