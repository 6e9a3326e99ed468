//! The state every handler shares: clock, journal, faults, the loaded fixtures and TLS material.
//! Provider-specific state (token stores, imported data) lives with each provider.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::clock::Clock;
use crate::config::{ConfigError, Fixtures, FixturesSource};
use crate::faults::Faults;
use crate::journal::{EventKind, Journal};
use crate::routing::ServiceRoute;
use crate::tls::TlsSetup;

pub struct Core {
    pub clock: Clock,
    pub journal: Journal,
    pub faults: Faults,
    /// Text messages "sent" (SMS login codes), read through `GET /__admin/sms`.
    pub sms: crate::outbox::Outbox,
    pub tls: TlsSetup,
    /// Where keys are kept between runs; `None` for an in-memory server.
    pub certs_dir: Option<PathBuf>,
    pub source: FixturesSource,
    fixtures: RwLock<Arc<Fixtures>>,
}

impl Core {
    pub fn new(fixtures: Fixtures, source: FixturesSource, tls: TlsSetup, certs_dir: Option<PathBuf>) -> Self {
        Core {
            clock: Clock::default(),
            journal: Journal::new(fixtures.journal.capacity),
            faults: Faults::default(),
            sms: crate::outbox::Outbox::default(),
            tls,
            certs_dir,
            source,
            fixtures: RwLock::new(Arc::new(fixtures)),
        }
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
