//! Handles for Rust tests: a [`Namespace`] (the server's default one, or a [`Run`]) and what is
//! in it: its [`Events`], faults, clock and fixtures. They call the same code as the admin API,
//! in-process, so a test reads like what it checks:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use mock_server::{FaultRule, MockServer};
//!
//! let server = MockServer::start().await;
//! server.faults().add(FaultRule::on("kalibrate", "data").route("/api/status").times(1).status(503)).unwrap();
//! // ... run the client under test against server.url("kalibrate.data") ...
//! server.events().assert_count("token.issued", 0);
//! # }
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::{ConfigError, Fixtures};
use crate::faults::Faults;
use crate::journal::{Event, EventFilter};
use crate::outbox::Outbox;
use crate::runs::{Runs, World};
use crate::server::Endpoints;
use crate::tls;

/// One namespace of a server: the default one ([`crate::MockServer`] derefs to it) or a
/// [`Run`]. Everything a client can change lives in a namespace.
pub struct Namespace {
    world: Arc<World>,
    endpoints: Endpoints,
}

impl Namespace {
    pub(crate) fn new(world: Arc<World>, endpoints: Endpoints) -> Namespace {
        Namespace { world, endpoints }
    }

    /// Where everything is, as this namespace's clients see it (a run's URLs carry its prefix).
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The base URL of a service, e.g. `url("kalibrate.login")`.
    ///
    /// # Panics
    /// If no such service exists; the message lists those that do.
    pub fn url(&self, service: &str) -> String {
        self.endpoints.services.get(service).cloned().unwrap_or_else(|| {
            let known: Vec<&String> = self.endpoints.services.keys().collect();
            panic!("no service '{service}'; services are {known:?}")
        })
    }

    /// The admin API's base URL (`http://127.0.0.1:PORT/__admin`, or the run's).
    pub fn admin_url(&self) -> &str {
        &self.endpoints.admin
    }

    /// The proxy URL for unchanged clients (`HTTPS_PROXY`); a run's names the run.
    pub fn proxy_url(&self) -> &str {
        &self.endpoints.proxy
    }

    /// The dev CA certificate (PEM) that signs the server certificates.
    pub fn ca_pem(&self) -> &str {
        &self.world.core.tls.ca.cert_pem
    }

    /// Path of the dev CA certificate file, for `REQUESTS_CA_BUNDLE` and the like.
    pub fn ca_path(&self) -> PathBuf {
        PathBuf::from(&self.endpoints.ca)
    }

    /// The journal: what clients did here, as events.
    pub fn events(&self) -> Events<'_> {
        Events { world: &self.world }
    }

    /// Fault rules; add them with [`crate::FaultRule::on`].
    pub fn faults(&self) -> &Faults {
        &self.world.core.faults
    }

    /// The virtual clock every expiry and signature window reads.
    pub fn clock(&self) -> &Clock {
        &self.world.core.clock
    }

    /// The text messages sent (SMS login codes).
    pub fn sms(&self) -> &Outbox {
        &self.world.core.sms
    }

    /// The fixtures served now.
    pub fn fixtures(&self) -> Arc<Fixtures> {
        self.world.core.fixtures()
    }

    /// Serves `fixtures` until the next [`Namespace::reset`]; tokens and stored data restart.
    pub fn replace_fixtures(&self, fixtures: Fixtures) {
        self.world.replace_fixtures(fixtures)
    }

    /// [`Namespace::replace_fixtures`] from TOML, validated like `check-config`.
    pub fn replace_fixtures_toml(&self, toml: &str) -> Result<(), ConfigError> {
        let fixtures = crate::config::parse("<replace_fixtures_toml>", toml)?;
        self.replace_fixtures(fixtures);
        Ok(())
    }

    /// Fixtures reloaded from their source; tokens, stored data, events, SMS, faults and clock
    /// cleared (`POST /__admin/reset`).
    pub fn reset(&self) -> Result<(), ConfigError> {
        self.world.reset()
    }

    /// A client certificate signed by the dev CA, to present on the mTLS listener.
    pub fn issue_client_certificate(&self, common_name: &str) -> tls::ClientCertificate {
        self.world.core.tls.ca.issue_client_cert(common_name).expect("client certificate")
    }

    /// Signs a certificate signing request (PEM or DER) into an end-entity client certificate,
    /// valid for `validity_seconds` from now on this namespace's clock (`POST
    /// /__admin/certificates`).
    pub fn sign_csr(&self, csr: &[u8], validity_seconds: i64) -> Result<tls::IssuedCertificate, tls::CsrError> {
        let validity = tls::Validity::starting(self.world.core.clock.now(), validity_seconds);
        self.world.core.tls.ca.sign_csr(csr, validity)
    }
}

/// The events of a namespace, with assertions that print what did happen when they fail.
pub struct Events<'a> {
    world: &'a World,
}

impl Events<'_> {
    /// Every event, oldest first.
    pub fn all(&self) -> Vec<Event> {
        self.matching(&EventFilter::default())
    }

    pub fn matching(&self, filter: &EventFilter) -> Vec<Event> {
        self.world.core.journal.events(filter)
    }

    /// Events of `kind`: exact (`token.issued`) or a prefix ending in `.` or `*`.
    pub fn of_kind(&self, kind: &str) -> Vec<Event> {
        self.matching(&EventFilter::kind(kind))
    }

    pub fn count(&self, kind: &str) -> usize {
        self.of_kind(kind).len()
    }

    /// The sequence number of the newest event (0 when none): pass it to
    /// [`EventFilter::since`] to see only what happens next.
    pub fn last_seq(&self) -> u64 {
        self.world.core.journal.next_seq().saturating_sub(1)
    }

    pub fn clear(&self) {
        self.world.core.journal.clear()
    }

    /// Asserts that exactly `expected` events of `kind` happened, and returns them.
    ///
    /// # Panics
    /// Otherwise, listing every event of the namespace.
    #[track_caller]
    pub fn assert_count(&self, kind: &str, expected: usize) -> Vec<Event> {
        let found = self.of_kind(kind);
        if found.len() != expected {
            panic!("expected {expected} '{kind}' event(s), found {}; the journal:\n{}", found.len(), self.listing());
        }
        found
    }

    /// Asserts that at least one event matches `filter`, and returns the first.
    ///
    /// # Panics
    /// Otherwise, listing every event of the namespace.
    #[track_caller]
    pub fn assert_any(&self, filter: &EventFilter) -> Event {
        match self.matching(filter).into_iter().next() {
            Some(e) => e,
            None => panic!("no event matches {filter:?}; the journal:\n{}", self.listing()),
        }
    }

    /// Waits (polling every 10 ms) until an event matches `filter`, for at most `timeout`: for
    /// clients that run in the background (MQTT subscribers, retry loops).
    pub async fn wait_for(&self, filter: &EventFilter, timeout: Duration) -> Result<Event, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(e) = self.matching(filter).into_iter().next() {
                return Ok(e);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "no event matched {filter:?} within {timeout:?}; the journal:\n{}",
                    self.listing()
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// One line per event: `#seq kind provider.service {fields}`, long fields cut.
    pub fn listing(&self) -> String {
        let lines: Vec<String> = self
            .all()
            .iter()
            .map(|e| {
                let mut fields = serde_json::to_value(&e.kind).unwrap_or_default();
                if let Some(map) = fields.as_object_mut() {
                    map.remove("kind");
                }
                let mut text = fields.to_string();
                if text.len() > 200 {
                    let cut = (0..=200).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
                    text.truncate(cut);
                    text.push('…');
                }
                format!("  #{} {} {}.{} {text}", e.seq, e.kind.name(), e.provider, e.service)
            })
            .collect();
        if lines.is_empty() {
            "  (no events)".to_owned()
        } else {
            lines.join("\n")
        }
    }
}

/// A run on a server: a namespace of its own (events, faults, clock, fixtures, tokens), made by
/// [`crate::MockServer::run`] and deleted when dropped.
pub struct Run {
    namespace: Namespace,
    runs: Arc<Runs>,
    id: String,
}

impl Run {
    pub(crate) fn new(namespace: Namespace, runs: Arc<Runs>, id: String) -> Run {
        Run { namespace, runs, id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl std::ops::Deref for Run {
    type Target = Namespace;

    fn deref(&self) -> &Namespace {
        &self.namespace
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.runs.delete(&self.id);
    }
}
