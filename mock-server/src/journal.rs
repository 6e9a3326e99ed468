//! The journal: a bounded, in-memory record of every HTTP exchange and of the domain events
//! handlers report (token issued, request rejected with its reason, data written...). The admin
//! API, the conformance checks and the logs all read these same events.
//!
//! Bounded on purpose: when full, the oldest events are dropped first, so a long soak never
//! grows memory. Sequence numbers keep increasing across drops, so `since=N` stays meaningful.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One recorded event: where and when it happened, and what.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    /// Increases by one per event, never reused.
    pub seq: u64,
    /// Virtual-clock time.
    pub at: DateTime<Utc>,
    pub provider: String,
    pub service: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. Serialised with a `kind` tag (`"token.issued"`, ...) and the fields beside it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind")]
pub enum EventKind {
    /// A summary of one HTTP exchange. Secrets are redacted before they get here.
    #[serde(rename = "http.exchange")]
    Exchange(Exchange),
    #[serde(rename = "token.issued")]
    TokenIssued {
        grant: String,
        client_id: String,
        scopes: Vec<String>,
        audience: Option<String>,
        /// A non-secret identifier of the token (a JWT's `uti`, or a hash prefix).
        token_id: String,
        expires_at: DateTime<Utc>,
        /// Certificate thumbprint the token is bound to, if any.
        bound_to: Option<String>,
    },
    #[serde(rename = "token.rejected")]
    TokenRejected {
        grant: Option<String>,
        client_id: Option<String>,
        /// The provider's error code, e.g. `invalid_client`.
        error: String,
        /// Why, in plain words (more than the provider itself says).
        reason: String,
        /// Provider-specific numeric code (AADSTS...), when there is one.
        code: Option<u64>,
    },
    /// A protected endpoint accepted the caller's credentials.
    #[serde(rename = "api.authorized")]
    ApiAuthorized { endpoint: String, client_id: String, token_id: String },
    /// A protected endpoint refused the call.
    #[serde(rename = "api.denied")]
    ApiDenied { endpoint: String, status: u16, reason: String, client_id: Option<String> },
    #[serde(rename = "data.written")]
    DataWritten { collection: String, count: usize, operation_id: String, client_id: String },
    /// Pushed points that map to no existing structure: Opinum drops them silently.
    #[serde(rename = "push.unmapped")]
    PushUnmapped {
        /// The series' identifier as pushed (`sourceSerialNumber 'SN-9' mappingConfig 'E'`).
        target: String,
        points: usize,
        reason: String,
        client_id: String,
    },
    /// An introspection request (RFC 7662) by an authenticated client.
    #[serde(rename = "token.introspected")]
    TokenIntrospected {
        /// The client that asked (a resource server), not the token's owner.
        client_id: String,
        /// A non-secret identifier of the token asked about (a hash prefix).
        token_id: String,
        active: bool,
        /// Why the token is inactive, when it is.
        reason: Option<String>,
    },
    /// An MQTT client got through CONNECT (the gate authenticated it).
    #[serde(rename = "mqtt.connected")]
    MqttConnected {
        /// `tcp`, `tls` or `ws`.
        transport: String,
        /// `3.1.1` or `5`.
        protocol: String,
        /// The MQTT client identifier as sent (may be empty).
        client_id: String,
        /// Who the credentials belong to (user and key id), never the secret.
        principal: String,
    },
    /// A CONNECT answered with a refusing CONNACK.
    #[serde(rename = "mqtt.refused")]
    MqttRefused {
        transport: String,
        protocol: Option<String>,
        client_id: Option<String>,
        /// The CONNACK return (3.1.1) or reason (5) code sent, e.g. 5 or 135.
        code: u8,
        reason: String,
    },
    /// A SUBSCRIBE filter the gate let through.
    #[serde(rename = "mqtt.subscribed")]
    MqttSubscribed { client_id: String, principal: String, filter: String, qos: u8 },
    /// A PUBLISH the gate let through to the engine.
    #[serde(rename = "mqtt.published")]
    MqttPublished {
        client_id: String,
        principal: String,
        topic: String,
        qos: u8,
        bytes: usize,
        /// The value went into current values and history.
        stored: bool,
        /// Why a payload on a value topic was not stored (it was still routed).
        invalid: Option<String>,
    },
    /// A SUBSCRIBE filter, PUBLISH or will the authorization refused.
    #[serde(rename = "mqtt.denied")]
    MqttDenied {
        client_id: String,
        principal: String,
        /// `subscribe`, `publish` or `will`.
        action: String,
        /// The filter or topic.
        topic: String,
        reason: String,
    },
    /// An MQTT connection ended (or never got as far as CONNECT).
    #[serde(rename = "mqtt.disconnected")]
    MqttDisconnected { transport: String, client_id: Option<String>, reason: String },
    #[serde(rename = "fault.applied")]
    FaultApplied { rule_id: String, method: String, path: String, action: String },
}

impl EventKind {
    /// The `kind` tag as serialised.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Exchange(_) => "http.exchange",
            EventKind::TokenIssued { .. } => "token.issued",
            EventKind::TokenRejected { .. } => "token.rejected",
            EventKind::ApiAuthorized { .. } => "api.authorized",
            EventKind::ApiDenied { .. } => "api.denied",
            EventKind::DataWritten { .. } => "data.written",
            EventKind::PushUnmapped { .. } => "push.unmapped",
            EventKind::TokenIntrospected { .. } => "token.introspected",
            EventKind::MqttConnected { .. } => "mqtt.connected",
            EventKind::MqttRefused { .. } => "mqtt.refused",
            EventKind::MqttSubscribed { .. } => "mqtt.subscribed",
            EventKind::MqttPublished { .. } => "mqtt.published",
            EventKind::MqttDenied { .. } => "mqtt.denied",
            EventKind::MqttDisconnected { .. } => "mqtt.disconnected",
            EventKind::FaultApplied { .. } => "fault.applied",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exchange {
    pub listener: String,
    pub method: String,
    pub host: String,
    /// The path as the client sent it.
    pub path: String,
    /// Query parameters, values of secret-bearing keys replaced by `***`.
    pub query: BTreeMap<String, String>,
    /// The response status; 0 when a fault dropped the connection without an answer, 499 when
    /// the client went away before the answer.
    pub status: u16,
    pub duration_ms: f64,
    pub user_agent: Option<String>,
    /// The scheme of the Authorization header (`Bearer`, `Basic`...), never its value.
    pub auth_scheme: Option<String>,
    /// SHA-256 thumbprint (base64url) of the verified client certificate, on mTLS.
    pub client_cert: Option<String>,
    /// Where a fixture secret appeared in the request line or headers (`query:client_secret`,
    /// `header:x-api-secret`, `path`): never the value. Bodies are not searched.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub secret_in: Vec<String>,
    /// The `Retry-After` header of the response, when it had one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retry_after: Option<String>,
    /// Names of the request's headers (lower case, sorted, at most 64), never their values:
    /// enough to tell whether a client sent e.g. `x-fapi-interaction-id`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub headers: Vec<String>,
}

/// Filter for reading events back.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct EventFilter {
    pub provider: Option<String>,
    pub service: Option<String>,
    /// Exact kind, or a prefix ending in `.` / `*` (`token.` matches every token event).
    pub kind: Option<String>,
    /// Only events with `seq` greater than this.
    pub since: Option<u64>,
}

impl EventFilter {
    /// Events of `kind`: exact (`token.issued`), or a prefix ending in `.` or `*`.
    pub fn kind(kind: &str) -> EventFilter {
        EventFilter { kind: Some(kind.to_owned()), ..EventFilter::default() }
    }

    pub fn provider(mut self, provider: &str) -> Self {
        self.provider = Some(provider.to_owned());
        self
    }

    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    /// Only events after sequence number `seq`.
    pub fn since(mut self, seq: u64) -> Self {
        self.since = Some(seq);
        self
    }

    fn matches(&self, e: &Event) -> bool {
        self.since.map_or(true, |s| e.seq > s)
            && self.provider.as_deref().map_or(true, |p| p == e.provider)
            && self.service.as_deref().map_or(true, |s| s == e.service)
            && self.kind.as_deref().map_or(true, |k| {
                let name = e.kind.name();
                match k.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None if k.ends_with('.') => name.starts_with(k),
                    None => name == k,
                }
            })
    }
}

pub struct Journal {
    inner: Mutex<Inner>,
}

struct Inner {
    capacity: usize,
    next_seq: u64,
    dropped: u64,
    events: VecDeque<Event>,
    /// When the last event was recorded (real time): how long a namespace has been idle.
    last_recorded: Option<std::time::Instant>,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Journal {
            inner: Mutex::new(Inner {
                capacity: capacity.max(1),
                next_seq: 1,
                dropped: 0,
                events: VecDeque::new(),
                last_recorded: None,
            }),
        }
    }

    pub fn record(&self, at: DateTime<Utc>, provider: &str, service: &str, kind: EventKind) -> u64 {
        tracing::debug!(target: "mock_server::journal", provider, service, kind = kind.name(), "event");
        let mut inner = self.inner.lock().unwrap();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.last_recorded = Some(std::time::Instant::now());
        if inner.events.len() >= inner.capacity {
            inner.events.pop_front();
            inner.dropped += 1;
        }
        inner.events.push_back(Event { seq, at, provider: provider.to_owned(), service: service.to_owned(), kind });
        seq
    }

    pub fn events(&self, filter: &EventFilter) -> Vec<Event> {
        let inner = self.inner.lock().unwrap();
        inner.events.iter().filter(|e| filter.matches(e)).cloned().collect()
    }

    /// When the last event was recorded, if ever (clearing the journal does not change it).
    pub fn last_recorded(&self) -> Option<std::time::Instant> {
        self.inner.lock().unwrap().last_recorded
    }

    /// The sequence number the next event will get.
    pub fn next_seq(&self) -> u64 {
        self.inner.lock().unwrap().next_seq
    }

    /// How many events were dropped to stay within capacity since the last clear.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().unwrap().dropped
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.inner.lock().unwrap().capacity
    }

    pub fn set_capacity(&self, capacity: usize) {
        let mut inner = self.inner.lock().unwrap();
        inner.capacity = capacity.max(1);
        while inner.events.len() > inner.capacity {
            inner.events.pop_front();
            inner.dropped += 1;
        }
    }

    /// Forgets every event; sequence numbers keep counting up.
    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.events.clear();
        inner.dropped = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(n: usize) -> EventKind {
        EventKind::DataWritten { collection: "c".into(), count: n, operation_id: "op".into(), client_id: "x".into() }
    }

    #[test]
    fn drops_oldest_when_full_and_keeps_counting() {
        let j = Journal::new(3);
        for n in 0..5 {
            j.record(Utc::now(), "p", "s", written(n));
        }
        let all = j.events(&EventFilter::default());
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(j.dropped(), 2);
        let since = j.events(&EventFilter { since: Some(4), ..Default::default() });
        assert_eq!(since.len(), 1);
    }

    #[test]
    fn filters_by_kind_prefix_and_provider() {
        let j = Journal::new(10);
        j.record(Utc::now(), "a", "s", written(1));
        j.record(
            Utc::now(),
            "b",
            "s",
            EventKind::TokenRejected {
                grant: None,
                client_id: None,
                error: "invalid_client".into(),
                reason: "r".into(),
                code: None,
            },
        );
        let f = |kind: &str| EventFilter { kind: Some(kind.into()), ..Default::default() };
        assert_eq!(j.events(&f("token.")).len(), 1);
        assert_eq!(j.events(&f("token.*")).len(), 1);
        assert_eq!(j.events(&f("token.rejected")).len(), 1);
        assert_eq!(j.events(&f("token")).len(), 0);
        let by_provider = EventFilter { provider: Some("a".into()), ..Default::default() };
        assert_eq!(j.events(&by_provider).len(), 1);
    }

    #[test]
    fn serialises_kind_tag_beside_fields() {
        let j = Journal::new(10);
        j.record(Utc::now(), "a", "s", written(2));
        let v = serde_json::to_value(&j.events(&EventFilter::default())[0]).unwrap();
        assert_eq!(v["kind"], "data.written");
        assert_eq!(v["count"], 2);
        assert_eq!(v["provider"], "a");
    }
}

/// `[journal]` in fixtures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JournalSettings {
    /// Events kept before the oldest are dropped.
    #[serde(default = "default_capacity")]
    pub capacity: usize,
}

fn default_capacity() -> usize {
    10_000
}

impl Default for JournalSettings {
    fn default() -> Self {
        JournalSettings { capacity: default_capacity() }
    }
}

impl JournalSettings {
    pub fn validate(&self) -> Vec<crate::config::Issue> {
        if (1..=10_000_000).contains(&self.capacity) {
            return vec![];
        }
        vec![crate::config::Issue::new(
            "journal.capacity",
            format!("{} events is out of range", self.capacity),
            "use a number from 1 to 10000000 (the default is 10000)",
        )]
    }
}
