//! MQTT between the gate and the provider that answers on the MQTT listeners: the gate reads
//! every packet and asks the provider's [`Authority`] about each CONNECT, and the [`Session`]
//! it returns about each SUBSCRIBE filter, PUBLISH topic and will, each message the engine
//! routes to the connection, and whether its credential still holds; the provider publishes
//! server-side messages through a [`Publisher`].

use std::sync::Arc;

use bytes::Bytes;

/// What a CONNECT presented, for the authority to judge.
#[derive(Debug, Clone)]
pub struct Credentials<'a> {
    pub client_id: &'a str,
    pub username: Option<&'a str>,
    /// `None` when the CONNECT carried no password.
    pub password: Option<&'a str>,
    /// `tcp`, `tls` or `ws`.
    pub transport: &'static str,
}

/// Why a CONNECT is refused; decides the CONNACK code.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// No usable credentials (no password at all): 3.1.1 0x04, 5 0x86.
    BadCredentials(String),
    /// Credentials that are wrong, expired or revoked: 3.1.1 0x05, 5 0x87.
    NotAuthorized(String),
}

/// What the provider did with an accepted publish (for the journal).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Received {
    /// The value went into current values and history.
    pub stored: bool,
    /// Why the payload was not stored although it was on a value topic; it is still routed.
    pub invalid: Option<String>,
}

/// The provider side of the gate: who may connect.
pub trait Authority: Send + Sync {
    /// The provider whose events these are (`journal` provider field).
    fn provider(&self) -> &'static str;
    /// Judges a CONNECT. Called once per connection; constant-time comparisons are the
    /// authority's business.
    fn authenticate(&self, credentials: &Credentials<'_>) -> Result<Arc<dyn Session>, Refusal>;
    /// Called once the broker runs, with a handle to publish server-side messages.
    fn attach(&self, _publisher: Arc<dyn Publisher>) {}
}

/// One authenticated connection: what it may do.
pub trait Session: Send + Sync {
    /// Who this is, for the journal and logs: never a secret (a user and key id).
    fn principal(&self) -> &str;
    /// `Err(reason)` denies a SUBSCRIBE filter (shared subscriptions arrive as sent).
    fn may_subscribe(&self, filter: &str) -> Result<(), String>;
    /// `Err(reason)` denies a PUBLISH (or a will) to `topic`.
    fn may_publish(&self, topic: &str) -> Result<(), String>;
    /// Whether a message the engine routes to this connection may reach it. A subscription
    /// was allowed once, but a wildcard reaches topics the credential does not: each message
    /// is judged by its own topic before it leaves the gate. Called for every delivery, so it
    /// must be cheap.
    fn may_receive(&self, topic: &str) -> bool;
    /// `Some(why)` once the credential this session connected with no longer works (revoked,
    /// logged out, expired): the gate then ends the connection. Called before every packet
    /// the session acts on, so it must be cheap while nothing changed.
    fn revoked(&self) -> Option<String>;
    /// An accepted publish, before the engine routes it.
    fn received(&self, topic: &str, payload: &[u8]) -> Received;
}

/// Publishes server-side messages into the broker, in the namespace of the authority it was
/// given to. Never blocks: a message that cannot be queued is dropped with a warning.
pub trait Publisher: Send + Sync {
    /// Queues `payload` for `topic` at QoS 0.
    fn publish(&self, topic: String, payload: Bytes);
}
