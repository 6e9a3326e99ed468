//! IoT Open behind the MQTT gate (`crate::mqtt`): who may connect, subscribe and publish, and
//! what published values become.
//!
//! - CONNECT is authenticated on the password only, an API key, login token or OAuth access
//!   token; the username is anything (`apikey`, `bearer`, `node-red`...). A wrong, expired,
//!   revoked or half-logged-in (SMS pending) credential is refused "not authorized".
//! - Topics are `{client_id}/...` of an installation (its MQTT client id, not its id). A client
//!   may subscribe (`mqtt/subscribe/...`) and publish (`mqtt/publish/...`) under the
//!   installations its credential reaches, exactly as REST decides. A filter with a wildcard
//!   first level (`#`, `+/obj/#`) needs `mqtt/subscribe/broad` and `mqtt/subscribe/all`;
//!   `$SYS` and other `$` topics are refused.
//! - Every valid message on `obj/...` and `set/obj/...` updates the current values and history
//!   at once, before the engine routes it; invalid payloads are routed all the same.
//! - A message reaches a connection only on an installation its credential may subscribe to,
//!   whatever filter matched it: a broad `#` of one organisation never sees another's.
//! - A credential revoked, logged out or expired while its connection is open ends that
//!   connection at its next packet, either way (IoT Open documents nothing for open
//!   connections; a token that no longer works on REST stops working on MQTT as well).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::access::{Access, MQTT_PUBLISH, MQTT_SUBSCRIBE, MQTT_SUBSCRIBE_BROAD};
use super::credentials::{self, Changes, Kind};
use super::payload;
use super::provider::IotOpen;
use crate::contract::{topics, Authority, Credentials, Publisher, Received, Refusal, Session};

pub struct Broker {
    io: Arc<IotOpen>,
}

impl Broker {
    pub fn new(io: Arc<IotOpen>) -> Broker {
        Broker { io }
    }
}

impl Authority for Broker {
    fn provider(&self) -> &'static str {
        "iotopen"
    }

    fn authenticate(&self, credentials: &Credentials<'_>) -> Result<Arc<dyn Session>, Refusal> {
        let password = credentials.password.unwrap_or_default();
        if password.is_empty() {
            return Err(Refusal::BadCredentials("empty password".into()));
        }
        let digest = credentials::digest(password);
        let now = self.io.now();
        let mut store = self.io.credentials.lock().unwrap_or_else(|e| e.into_inner());
        let Some(credential) = store.get(&digest) else {
            return Err(Refusal::NotAuthorized("unknown, revoked or logged-out key".into()));
        };
        if let Some(why) = credential.dead(now) {
            let why = format!("key {why}");
            store.remove(&digest);
            return Err(Refusal::NotAuthorized(why));
        }
        match credential.kind {
            Kind::PendingSms { .. } => return Err(Refusal::NotAuthorized("the SMS login step is not finished".into())),
            Kind::OAuthRefresh { .. } => {
                return Err(Refusal::NotAuthorized("a refresh token is not an access token".into()))
            }
            _ => {}
        }
        let Some(access) = credential.access(&self.io.directory()) else {
            return Err(Refusal::NotAuthorized("the key's user no longer exists".into()));
        };
        let lifetime = Lifetime {
            expire: credential.expire,
            session_timeout: credential.session_timeout > 0,
            changes: store.changes().clone(),
            checked: AtomicU64::new(store.changes().count()),
            digest,
        };
        store.touch(&lifetime.digest, now, "mqtt", &format!("MQTT {} ({})", credentials.transport, credentials.client_id));
        Ok(Arc::new(MqttSession { io: self.io.clone(), access, decided: Mutex::new(HashMap::new()), lifetime }))
    }

    fn attach(&self, publisher: Arc<dyn Publisher>) {
        *self.io.publisher.lock().unwrap_or_else(|e| e.into_inner()) = Some(publisher);
    }
}

/// An installation id, or why not.
type Decision = Result<i64, String>;

/// Decisions a session remembers (its access never changes while it is connected).
const MAX_DECISIONS: usize = 1024;

struct MqttSession {
    io: Arc<IotOpen>,
    access: Access,
    /// `(action, client id)` → the installation, or why not: the hot path of every publish.
    decided: Mutex<HashMap<(&'static str, i64), Decision>>,
    lifetime: Lifetime,
}

/// What tells whether the session's credential still works, without a store lookup per packet.
struct Lifetime {
    /// The credential's digest (never the token).
    digest: String,
    /// Unix seconds; 0 never.
    expire: i64,
    /// Inactivity ends it: looked up at every check, and MQTT traffic counts as use.
    session_timeout: bool,
    changes: Changes,
    /// The store's change count when the credential was last found alive.
    checked: AtomicU64,
}

impl MqttSession {
    /// The store's verdict on the credential, looked up again.
    fn look_up(&self, count: u64) -> Option<String> {
        let now = self.io.now();
        let mut store = self.io.credentials.lock().unwrap_or_else(|e| e.into_inner());
        let Some(credential) = store.get_mut(&self.lifetime.digest) else {
            return Some(format!("the credential of {} was revoked, logged out or evicted", self.access.principal));
        };
        if let Some(why) = credential.dead(now) {
            return Some(format!("the credential of {} {why}", self.access.principal));
        }
        if self.lifetime.session_timeout {
            credential.last_used = now;
        }
        self.lifetime.checked.store(count, Ordering::Release);
        None
    }

    /// The installation a topic or filter's first level names, if the caller may `action` it.
    fn installation(&self, topic: &str, action: &'static str) -> Result<i64, String> {
        let first = topics::first_level(topic);
        let client_id: i64 = first.parse().map_err(|_| format!("'{first}' is not an installation client id"))?;
        let mut decided = self.decided.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = decided.get(&(action, client_id)) {
            return known.clone();
        }
        let installation = self.io.directory().by_client_id(client_id).map(|i| i.id);
        let decision = match installation {
            Some(id) if self.access.can(action, id) => Ok(id),
            _ => Err(format!("{} has no {action} right on client id {client_id}", self.access.principal)),
        };
        if decided.len() < MAX_DECISIONS {
            decided.insert((action, client_id), decision.clone());
        }
        decision
    }
}

impl Session for MqttSession {
    fn principal(&self) -> &str {
        &self.access.principal
    }

    fn may_subscribe(&self, filter: &str) -> Result<(), String> {
        let inner = topics::unshared(filter);
        if !topics::valid_filter(inner) {
            return Err(format!("'{filter}' is not a valid filter"));
        }
        if inner.starts_with('$') {
            return Err("system topics are not available".into());
        }
        let first = topics::first_level(inner);
        if first == "+" || first == "#" {
            let broad = self.access.has(MQTT_SUBSCRIBE_BROAD)
                && self.access.has(&format!("{MQTT_SUBSCRIBE}/all"))
                && self.access.only.is_none();
            return if broad {
                Ok(())
            } else {
                Err("a wildcard first level reaches every installation (needs mqtt/subscribe/broad)".into())
            };
        }
        self.installation(inner, MQTT_SUBSCRIBE).map(|_| ())
    }

    fn may_receive(&self, topic: &str) -> bool {
        self.installation(topic, MQTT_SUBSCRIBE).is_ok()
    }

    fn revoked(&self) -> Option<String> {
        let count = self.lifetime.changes.count();
        let unchanged = count == self.lifetime.checked.load(Ordering::Acquire);
        let unexpired = self.lifetime.expire == 0 || self.io.now() < self.lifetime.expire;
        if unchanged && !self.lifetime.session_timeout && unexpired {
            return None;
        }
        self.look_up(count)
    }

    fn may_publish(&self, topic: &str) -> Result<(), String> {
        if !topics::valid_topic(topic) || topic.starts_with('$') {
            return Err(format!("'{topic}' is not a topic a client may publish to"));
        }
        self.installation(topic, MQTT_PUBLISH).map(|_| ())
    }

    fn received(&self, topic: &str, data: &[u8]) -> Received {
        let Some((_, rest)) = payload::split(topic) else { return Received::default() };
        if !payload::is_value_topic(rest) {
            return Received::default();
        }
        // Publishes are authorized before they are received: the decision is remembered.
        let Ok(installation) = self.installation(topic, MQTT_PUBLISH) else { return Received::default() };
        let sample = match payload::parse(data) {
            Ok(s) => s,
            Err(why) => return Received { stored: false, invalid: Some(why) },
        };
        let now = self.io.now_f64();
        let timestamp = sample.timestamp.unwrap_or(now);
        match self.io.values.record(installation, rest, timestamp, sample.value, &sample.msg, now, self.io.bounds()) {
            Ok(()) => Received { stored: true, invalid: None },
            Err(why) => Received { stored: false, invalid: Some(why) },
        }
    }
}
