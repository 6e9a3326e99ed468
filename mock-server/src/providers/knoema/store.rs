//! Knoema's runtime state: OAuth consents waiting for an answer, authorization codes, access
//! and refresh tokens, continuation tokens of paged data, uploads and the datasets they
//! created, deleted datasets and anonymous request counts. Everything is bounded: each table
//! keeps at most a fixed number of entries and drops the oldest first, and expired entries are
//! dropped whenever they are looked at. `POST /__admin/reset` clears it all.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::fixtures::Dataset;
use crate::bounded::BoundedMap as Bounded;

pub const MAX_TOKENS: usize = 10_000;
pub const MAX_CODES: usize = 10_000;
pub const MAX_PENDING_CONSENTS: usize = 1_000;
pub const MAX_CONTINUATIONS: usize = 1_000;
pub const MAX_UPLOADS: usize = 50;
pub const MAX_UPLOADED_DATASETS: usize = 50;
pub const MAX_SUBMISSIONS: usize = 1_000;
pub const MAX_ANONYMOUS_CLIENTS: usize = 10_000;

/// An authorization request shown on the consent page, waiting for approve or deny.
#[derive(Debug, Clone)]
pub struct PendingConsent {
    pub app_id: String,
    /// `token` or `code`.
    pub response_type: String,
    /// Where to send the answer.
    pub redirect_uri: String,
    /// The `redirect_uri` the request carried, which the code exchange must repeat.
    pub redirect_given: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Code {
    pub app_id: String,
    pub user: String,
    pub redirect_given: Option<String>,
    pub scope: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// Codes are single-use: a used code stays here, marked, so a replay is recognised (and
    /// the tokens it gave are revoked, RFC 6749 §4.1.2).
    pub used: bool,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub app_id: String,
    pub user: String,
    pub expires_at: DateTime<Utc>,
    /// The code it was exchanged for, if any.
    pub code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub app_id: String,
    pub user: String,
    pub scope: Option<String>,
    pub code: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// The rest of a paged data answer.
#[derive(Debug, Clone)]
pub struct Continuation {
    pub dataset_id: String,
    pub remaining: Vec<Value>,
    pub dimension_fields: Option<Value>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Upload {
    pub app_id: String,
    pub file_name: String,
    pub bytes: bytes::Bytes,
}

#[derive(Debug, Clone)]
pub struct Submission {
    pub dataset_id: Option<String>,
    pub status: &'static str,
    pub errors: Vec<String>,
}

#[derive(Default)]
pub struct Store {
    pub consents: Mutex<Option<Bounded<String, PendingConsent>>>,
    pub codes: Mutex<Option<Bounded<String, Code>>>,
    pub tokens: Mutex<Option<Bounded<String, Token>>>,
    pub refresh_tokens: Mutex<Option<Bounded<String, RefreshToken>>>,
    pub continuations: Mutex<Option<Bounded<String, Continuation>>>,
    pub uploads: Mutex<Option<Bounded<String, Upload>>>,
    pub submissions: Mutex<Option<Bounded<u64, Submission>>>,
    pub datasets: Mutex<Option<Bounded<String, Dataset>>>,
    /// Lower-cased ids of fixture datasets deleted since the last reset.
    pub deleted: Mutex<HashSet<String>>,
    /// (client address, UTC day) → anonymous requests.
    pub anonymous: Mutex<Option<Bounded<(String, String), u32>>>,
    pub next_submission: Mutex<u64>,
}

/// Runs `f` on the table in `slot`, creating it with `capacity` on first use.
pub fn with<K: Hash + Eq + Clone, V, R>(
    slot: &Mutex<Option<Bounded<K, V>>>,
    capacity: usize,
    f: impl FnOnce(&mut Bounded<K, V>) -> R,
) -> R {
    let mut guard = slot.lock().unwrap();
    f(guard.get_or_insert_with(|| Bounded::new(capacity)))
}

impl Store {
    pub fn clear(&self) {
        *self.consents.lock().unwrap() = None;
        *self.codes.lock().unwrap() = None;
        *self.tokens.lock().unwrap() = None;
        *self.refresh_tokens.lock().unwrap() = None;
        *self.continuations.lock().unwrap() = None;
        *self.uploads.lock().unwrap() = None;
        *self.submissions.lock().unwrap() = None;
        *self.datasets.lock().unwrap() = None;
        self.deleted.lock().unwrap().clear();
        *self.anonymous.lock().unwrap() = None;
    }

    pub fn next_submission_id(&self) -> u64 {
        let mut n = self.next_submission.lock().unwrap();
        *n += 1;
        *n
    }
}
