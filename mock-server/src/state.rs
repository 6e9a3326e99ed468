//! The state every handler shares: clock, journal, faults, the loaded fixtures and TLS material.
//! Provider-specific state (token stores, imported data) lives with each provider.
//!
//! One `Core` per namespace: the server's default one, and one per run (`runs.rs`). Runs share
//! the TLS material and signing keys; everything that a client can change is their own.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::clock::Clock;
use crate::config::{ConfigError, Fixtures, FixturesSource};
use crate::faults::Faults;
use crate::journal::{EventKind, Journal};
use crate::routing::ServiceRoute;
use crate::tls::TlsSetup;
use crate::tokens::{JwtSigner, KeyRing};

pub struct Core {
    /// The run this namespace belongs to; `None` for the server's default namespace.
    pub run: Option<String>,
    pub clock: Clock,
    pub journal: Journal,
    pub faults: Faults,
    /// Text messages "sent" (SMS login codes), read through `GET /__admin/sms`.
    pub sms: crate::outbox::Outbox,
    pub tls: Arc<TlsSetup>,
    keys: Arc<KeyRing>,
    /// Where keys are kept between runs; `None` for an in-memory server.
    pub certs_dir: Option<PathBuf>,
    pub source: FixturesSource,
    fixtures: RwLock<Arc<Fixtures>>,
}

impl Core {
    pub fn new(fixtures: Fixtures, source: FixturesSource, tls: TlsSetup, certs_dir: Option<PathBuf>) -> Self {
        let keys = Arc::new(KeyRing::new(certs_dir.clone()));
        Core::namespace(None, fixtures, source, Arc::new(tls), keys, certs_dir)
    }

    fn namespace(
        run: Option<String>,
        fixtures: Fixtures,
        source: FixturesSource,
        tls: Arc<TlsSetup>,
        keys: Arc<KeyRing>,
        certs_dir: Option<PathBuf>,
    ) -> Self {
        Core {
            run,
            clock: Clock::default(),
            journal: Journal::new(fixtures.journal.capacity),
            faults: Faults::default(),
            sms: crate::outbox::Outbox::default(),
            tls,
            keys,
            certs_dir,
            source,
            fixtures: RwLock::new(Arc::new(fixtures)),
        }
    }

    /// A fresh namespace for `run`: the fixtures the server started with, a clock, journal,
    /// faults and outbox of its own; TLS material and keys shared with this one.
    pub fn for_run(&self, run: &str) -> Result<Core, ConfigError> {
        let fixtures = self.source.load()?;
        Ok(Core::namespace(
            Some(run.to_owned()),
            fixtures,
            self.source.clone(),
            self.tls.clone(),
            self.keys.clone(),
            self.certs_dir.clone(),
        ))
    }

    /// The provider's token-signing key `name`, bound to this namespace's run.
    pub fn signer(&self, name: &str) -> anyhow::Result<JwtSigner> {
        self.keys.signer(name, self.run.as_deref())
    }

    /// A snapshot of the fixtures; cheap (one `Arc` clone).
    pub fn fixtures(&self) -> Arc<Fixtures> {
        self.fixtures.read().unwrap().clone()
    }

    /// Reloads fixtures from their source; on error the old ones stay.
    pub fn reload_fixtures(&self) -> Result<(), ConfigError> {
        self.replace_fixtures(self.source.load()?);
        Ok(())
    }

    /// Serves `fixtures` until the next reset, which reloads them from their source.
    pub fn replace_fixtures(&self, fixtures: Fixtures) {
        self.journal.set_capacity(fixtures.journal.capacity);
        *self.fixtures.write().unwrap() = Arc::new(fixtures);
    }

    /// Records a domain event for the service that is handling `route`.
    pub fn record(&self, route: &ServiceRoute, kind: EventKind) {
        self.journal.record(self.clock.now(), route.provider, route.service, kind);
    }
}
