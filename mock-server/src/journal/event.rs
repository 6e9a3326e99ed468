//! What the journal records: one [`Event`] per HTTP exchange and per domain event a handler or
//! the MQTT gate reports (token issued, request rejected with its reason, data written, MQTT
//! connect, publish, denial...). Serialised with a `kind` tag beside the fields; this is the
//! shape the admin API serves and the conformance checks read, so fields are only ever added.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Who an event is about: the provider and its service (`kalibrate`, `login`), `mqtt` for the
/// MQTT gate, `-` for a request no service took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub provider: &'a str,
    pub service: &'a str,
}

impl<'a> Origin<'a> {
    pub fn new(provider: &'a str, service: &'a str) -> Origin<'a> {
        Origin { provider, service }
    }
}

/// One recorded event: where and when it happened, and what.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    /// Increases by one per event, never reused.
    pub seq: u64,
    /// Virtual-clock time.
    pub at: DateTime<Utc>,
    pub provider: String,
    pub service: String,
    /// The HTTP exchange this event was recorded in: the same number on the exchange's own
    /// `http.exchange` event and on what its handler recorded. None outside a request (MQTT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<u64>,
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
    /// A part of the server stopped and will not come back (`GET /__admin/health` says 503).
    #[serde(rename = "server.failed")]
    ServerFailed { component: String, reason: String },
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
            EventKind::ServerFailed { .. } => "server.failed",
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
    /// The request body, redacted and cut to 16 KiB, when the journal records bodies.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_body: Option<String>,
    /// The response body, the same way.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub response_body: Option<String>,
}
