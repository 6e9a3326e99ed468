//! A namespace: everything a client can change, in one place. The server has a default one,
//! and one per run (`runs.rs`); each has its own clock, journal, fault rules, SMS outbox,
//! fixtures and endpoints, and its providers (each holding the namespace) keep their runtime
//! state (tokens, stored data) beside it. Namespaces share only the TLS material and the
//! signing keys, and a signer bound to a run refuses the tokens of any other.
//!
//! Two things happen here for the whole server, so that they happen one way:
//! - [`Namespace::record`] is the one way into the journal, for the front door's exchange
//!   records, the providers' domain events and the MQTT gate alike;
//! - [`Namespace::fire_fault`] is where a fault rule fires, for an HTTP request or an MQTT
//!   packet: the rule is counted, the firing journaled and its clock step taken; the caller
//!   carries out the rest of the action in its own protocol.
//!
//! A Rust test holds a namespace too: `MockServer` and a `Run` deref to one, and the public
//! methods below are the library's test API (with `fixtures()` and `replace_fixtures()`, which
//! the provider registry defines, since only it knows the fixtures' type).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock, Weak};

use crate::clock::Clock;
use crate::endpoints::Endpoints;
use crate::faults::{Faults, FiredFault};
use crate::fixtures::{ConfigError, Document, FixturesSource, Section};
use crate::journal::{current_exchange, EventKind, Events, Journal, Origin};
use crate::outbox::Outbox;
use crate::tls::{self, TlsSetup};
use crate::tokens::{JwtSigner, KeyRing};

/// Runtime state that a namespace's reset clears: what each provider keeps.
pub trait Reset: Send + Sync {
    /// Forgets tokens and stored data, and reloads what comes from the fixtures.
    fn reset(&self);
}

/// Reads a fixtures document from its text (`providers::Fixtures` knows its type).
pub type ParseFixtures = fn(file: &str, text: &str) -> Result<Arc<dyn Document>, ConfigError>;

/// Where a fault rule may fire: a request to a service, or an MQTT packet.
pub struct FaultPoint<'a> {
    pub provider: &'a str,
    pub service: &'a str,
    pub method: &'a str,
    /// What rules' routes match: the path below the service root, or `/` + an MQTT topic.
    pub route: &'a str,
    /// What the journal shows: the path as the client sent it, or the topic.
    pub shown: &'a str,
}

/// One namespace of a server: the default one (`MockServer` derefs to it) or a run. A test
/// reads and arms it in-process, with the same code as the admin API, so it reads like what it
/// checks:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use mock_server::{FaultRule, MockServer};
///
/// let server = MockServer::start().await;
/// server.faults().add(FaultRule::on("kalibrate", "data").route("/api/status").times(1).status(503)).unwrap();
/// // ... run the client under test against server.url("kalibrate.data") ...
/// server.events().assert_count("token.issued", 0);
/// # }
/// ```
pub struct Namespace {
    /// The run this namespace is; `None` for the server's default namespace.
    run: Option<String>,
    pub(crate) clock: Clock,
    journal: Journal,
    faults: Faults,
    /// Text messages "sent" (SMS login codes), read through `GET /__admin/sms`.
    pub(crate) sms: Outbox,
    pub(crate) tls: Arc<TlsSetup>,
    keys: Arc<KeyRing>,
    source: FixturesSource,
    parse: ParseFixtures,
    fixtures: RwLock<Arc<dyn Document>>,
    endpoints: OnceLock<Endpoints>,
    /// The providers' runtime state; weak, because each provider holds the namespace.
    providers: OnceLock<Vec<Weak<dyn Reset>>>,
    /// The server records bodies here whatever the fixtures say.
    bodies_always: bool,
}

impl Namespace {
    /// A namespace serving `fixtures`, which came from `source` (and come again from it, read
    /// with `parse`, at every reset).
    pub(crate) fn new(
        run: Option<String>,
        fixtures: Arc<dyn Document>,
        source: FixturesSource,
        parse: ParseFixtures,
        tls: Arc<TlsSetup>,
        keys: Arc<KeyRing>,
    ) -> Namespace {
        Namespace {
            run,
            clock: Clock::default(),
            journal: Journal::new(fixtures.journal_capacity()),
            faults: Faults::default(),
            sms: Outbox::default(),
            tls,
            keys,
            source,
            parse,
            fixtures: RwLock::new(fixtures),
            endpoints: OnceLock::new(),
            providers: OnceLock::new(),
            bodies_always: false,
        }
    }

    /// Records bodies whatever the fixtures say (the server's `--journal-bodies`).
    pub(crate) fn recording_bodies(mut self, always: bool) -> Namespace {
        self.bodies_always = always;
        self
    }

    /// Whether HTTP exchanges here are journaled with their bodies.
    pub(crate) fn records_bodies(&self) -> bool {
        self.bodies_always || self.document().journal_bodies()
    }

    /// A fresh namespace for `run`: the fixtures this one started with, read again from their
    /// source; TLS material and keys shared with this one.
    pub(crate) fn for_run(&self, run: &str) -> Result<Namespace, ConfigError> {
        let fixtures = self.load()?;
        Ok(Namespace::new(
            Some(run.to_owned()),
            fixtures,
            self.source.clone(),
            self.parse,
            self.tls.clone(),
            self.keys.clone(),
        )
        .recording_bodies(self.bodies_always))
    }

    /// The providers built in this namespace, for its reset. Set once, right after building them.
    pub(crate) fn attach_providers(&self, providers: Vec<Weak<dyn Reset>>) {
        let _ = self.providers.set(providers);
    }

    /// Where this namespace's clients find it. Set once, when the listeners are bound.
    pub(crate) fn set_endpoints(&self, endpoints: Endpoints) {
        let _ = self.endpoints.set(endpoints);
    }

    /// The endpoints, once set (`None` while the server is still binding its listeners).
    pub(crate) fn endpoints_if_bound(&self) -> Option<&Endpoints> {
        self.endpoints.get()
    }

    /// The journal, for the admin API; events are written only through [`Namespace::record`].
    pub(crate) fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Records an event for `origin`, on this namespace's clock, tied to the HTTP exchange being
    /// served, if any: the one way into the journal.
    pub(crate) fn record<'a>(&self, origin: impl Into<Origin<'a>>, kind: EventKind) -> u64 {
        self.record_in(origin, current_exchange(), kind)
    }

    /// [`Namespace::record`] for a given exchange: an exchange's own event, which may be
    /// recorded after its serving ended (the client went away).
    pub(crate) fn record_in<'a>(&self, origin: impl Into<Origin<'a>>, exchange: Option<u64>, kind: EventKind) -> u64 {
        self.journal.record(self.clock.now(), origin.into(), exchange, kind)
    }

    /// Counts a request or packet against the fault rules; when one fires, journals it and takes
    /// its clock step, and returns it for the caller to carry out the rest of its action.
    pub(crate) fn fire_fault(&self, at: FaultPoint<'_>) -> Option<FiredFault> {
        let fault = self.faults.take(at.provider, at.service, at.method, at.route)?;
        self.record(
            Origin::new(at.provider, at.service),
            EventKind::FaultApplied {
                rule_id: fault.rule_id.clone(),
                method: at.method.to_owned(),
                path: at.shown.to_owned(),
                action: fault.action.describe(),
            },
        );
        if let Some(seconds) = fault.action.advance_clock_seconds {
            if let Err(e) = self.clock.advance(chrono::Duration::seconds(seconds)) {
                tracing::warn!(rule = %fault.rule_id, "clock step not taken: {e}");
            }
        }
        tracing::debug!(rule = %fault.rule_id, "fault fired on {} {} {}", at.service, at.method, at.shown);
        Some(fault)
    }

    /// The provider's token-signing key `name`, bound to this namespace's run.
    pub(crate) fn signer(&self, name: &str) -> anyhow::Result<JwtSigner> {
        self.keys.signer(name, self.run.as_deref())
    }

    /// The fixtures document served now; cheap (one `Arc` clone).
    pub(crate) fn document(&self) -> Arc<dyn Document> {
        self.fixtures.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A provider's table of the fixtures served now: `ns.fixtures_of::<kalibrate::Fixtures>()`.
    pub(crate) fn fixtures_of<T: std::any::Any>(&self) -> Section<T> {
        Section::of(self.document())
    }

    /// Where the fixtures came from, as messages name it.
    pub(crate) fn fixtures_source(&self) -> String {
        self.source.name()
    }

    fn load(&self) -> Result<Arc<dyn Document>, ConfigError> {
        (self.parse)(&self.source.name(), &self.source.text()?)
    }

    fn reset_providers(&self) {
        for provider in self.providers.get().into_iter().flatten().filter_map(Weak::upgrade) {
            provider.reset();
        }
    }

    /// Serves `fixtures` until the next reset; tokens and stored data restart from them.
    pub(crate) fn serve(&self, fixtures: Arc<dyn Document>) {
        self.journal.set_capacity(fixtures.journal_capacity());
        *self.fixtures.write().unwrap_or_else(|e| e.into_inner()) = fixtures;
        self.reset_providers();
    }
}

/// The test API: what a Rust test asks of a namespace (`MockServer` and `Run` deref here).
impl Namespace {
    /// Where everything is, as this namespace's clients see it (a run's URLs carry its prefix).
    pub fn endpoints(&self) -> &Endpoints {
        self.endpoints.get().expect("a namespace is handed out only once its listeners are bound")
    }

    /// The base URL of a service, e.g. `url("kalibrate.login")`.
    ///
    /// # Panics
    /// If no such service exists; the message lists those that do.
    pub fn url(&self, service: &str) -> String {
        let endpoints = self.endpoints();
        endpoints.services.get(service).cloned().unwrap_or_else(|| {
            let known: Vec<&String> = endpoints.services.keys().collect();
            panic!("no service '{service}'; services are {known:?}")
        })
    }

    /// The admin API's base URL (`http://127.0.0.1:PORT/__admin`, or the run's).
    pub fn admin_url(&self) -> &str {
        &self.endpoints().admin
    }

    /// The proxy URL for unchanged clients (`HTTPS_PROXY`); a run's names the run.
    pub fn proxy_url(&self) -> &str {
        &self.endpoints().proxy
    }

    /// The dev CA certificate (PEM) that signs the server certificates.
    pub fn ca_pem(&self) -> &str {
        &self.tls.ca.cert_pem
    }

    /// Path of the dev CA certificate file, for `REQUESTS_CA_BUNDLE` and the like.
    pub fn ca_path(&self) -> PathBuf {
        PathBuf::from(&self.endpoints().ca)
    }

    /// The journal: what clients did here, as events.
    pub fn events(&self) -> Events<'_> {
        Events::new(&self.journal)
    }

    /// Fault rules; add them with [`crate::FaultRule::on`].
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The virtual clock every expiry and signature window reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The text messages sent (SMS login codes).
    pub fn sms(&self) -> &Outbox {
        &self.sms
    }

    /// `Namespace::replace_fixtures` from TOML, validated like `check-config`.
    pub fn replace_fixtures_toml(&self, toml: &str) -> Result<(), ConfigError> {
        self.replace_fixtures_text("<replace_fixtures_toml>", toml)
    }

    pub(crate) fn replace_fixtures_text(&self, file: &str, toml: &str) -> Result<(), ConfigError> {
        self.serve((self.parse)(file, toml)?);
        Ok(())
    }

    /// Fixtures reloaded from their source; tokens, stored data, events, SMS, faults and clock
    /// cleared (`POST /__admin/reset`). Nothing changes when the fixtures do not load.
    pub fn reset(&self) -> Result<(), ConfigError> {
        self.serve(self.load()?);
        self.journal.clear();
        self.sms.clear();
        self.faults.clear();
        self.clock.reset();
        Ok(())
    }

    /// A client certificate signed by the dev CA, to present on the mTLS listener.
    pub fn issue_client_certificate(&self, common_name: &str) -> tls::ClientCertificate {
        self.tls.ca.issue_client_cert(common_name).expect("client certificate")
    }

    /// Signs a certificate signing request (PEM or DER) into an end-entity client certificate,
    /// valid for `validity_seconds` from now on this namespace's clock (`POST
    /// /__admin/certificates`).
    pub fn sign_csr(&self, csr: &[u8], validity_seconds: i64) -> Result<tls::IssuedCertificate, tls::CsrError> {
        let validity = tls::Validity::starting(self.clock.now(), validity_seconds);
        self.tls.ca.sign_csr(csr, validity)
    }
}
