//! The providers. Each lives in its own folder, exposes its services (real hostnames, a router
//! at the real paths, the listeners it is served on) and owns its runtime state. This file is
//! the registry: the only shared place that knows which providers exist.

use std::sync::Arc;

use axum::Router;
use serde::{Deserialize, Serialize};

use crate::config::Issue;
use crate::journal::JournalSettings;
use crate::serve::ListenerKind;
use crate::state::Core;

pub mod iotopen;
pub mod kalibrate;
pub mod knoema;
pub mod openenergy;
pub mod opinum;

/// Everything a fixtures file may contain.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    #[serde(default)]
    pub journal: JournalSettings,
    #[serde(default)]
    pub iotopen: iotopen::Fixtures,
    #[serde(default)]
    pub kalibrate: kalibrate::Fixtures,
    #[serde(default)]
    pub knoema: knoema::Fixtures,
    #[serde(default)]
    pub opinum: opinum::Fixtures,
    #[serde(default)]
    pub openenergy: openenergy::Fixtures,
}

impl Fixtures {
    pub fn validate(&self) -> Vec<Issue> {
        let mut issues = self.journal.validate();
        issues.extend(self.iotopen.validate());
        issues.extend(self.kalibrate.validate());
        issues.extend(self.knoema.validate());
        issues.extend(self.opinum.validate());
        issues.extend(self.openenergy.validate());
        issues
    }

    /// What the fixtures hold, a phrase per provider, for `check-config`.
    pub fn summary(&self) -> Vec<String> {
        vec![
            self.iotopen.summary(),
            self.kalibrate.summary(),
            self.knoema.summary(),
            self.opinum.summary(),
            self.openenergy.summary(),
        ]
    }

    /// Every client secret, password and key in the fixtures: the journal notes when one of
    /// them travels where it should not (a URL, a header), without recording it.
    pub fn secrets(&self) -> Vec<&str> {
        let mut secrets = self.kalibrate.secrets();
        secrets.extend(self.iotopen.secrets());
        secrets.extend(self.knoema.secrets());
        secrets.extend(self.opinum.secrets());
        secrets
    }
}

/// One service of a provider, e.g. Kalibrate's Azure AD login.
pub struct Service {
    /// Short name: the service key is `{provider}.{name}` (`kalibrate.login`).
    pub name: &'static str,
    /// Real hostnames: a request with one of these in its Host header reaches this service.
    pub hosts: &'static [&'static str],
    /// Listeners it is served on; the first one gives its URL in the endpoints file.
    pub listeners: &'static [ListenerKind],
    /// Routes at the real paths, with the provider's own fallback for unknown paths.
    pub router: Router,
}

pub trait Provider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Its services; the routers share the provider as their state.
    fn services(self: Arc<Self>) -> Vec<Service>;
    /// Forgets runtime state (issued tokens, written data): part of `POST /__admin/reset`.
    fn reset(&self);
    /// Lines for the start-up banner: demo credentials and how to use them.
    fn banner(&self, fixtures: &Fixtures) -> Vec<String>;
    /// Services that get a listener of their own by default, where they are served at the
    /// root (DESIGN.md routing rule 4): `(service name, default address)`. For clients that
    /// take only a host name. `--listen SERVICE=ADDR` moves or turns one off; tests bind them on
    /// free ports.
    fn dedicated_listeners(&self) -> Vec<(&'static str, std::net::SocketAddr)> {
        Vec::new()
    }
    /// The provider that answers on the MQTT listeners (shared/DESIGN.md "MQTT"): the gate asks
    /// it about every CONNECT, SUBSCRIBE and PUBLISH.
    fn mqtt_authority(self: Arc<Self>) -> Option<Arc<dyn crate::mqtt::Authority>> {
        None
    }
}

/// The MQTT authority among the providers (at most one serves MQTT).
pub fn mqtt_authority(providers: &[Arc<dyn Provider>]) -> Option<Arc<dyn crate::mqtt::Authority>> {
    providers.iter().find_map(|p| p.clone().mqtt_authority())
}

/// Every real hostname of every provider, for the server certificate.
pub fn hostnames() -> Vec<&'static str> {
    let mut names = kalibrate::HOSTNAMES.to_vec();
    names.extend(iotopen::HOSTNAMES);
    names.extend(knoema::HOSTNAMES);
    names.extend(opinum::HOSTNAMES);
    names.extend(openenergy::HOSTNAMES);
    names
}

/// Builds every provider.
pub fn build(core: &Arc<Core>) -> anyhow::Result<Vec<Arc<dyn Provider>>> {
    Ok(vec![
        Arc::new(iotopen::IotOpen::new(core.clone())),
        Arc::new(kalibrate::Kalibrate::new(core.clone())?),
        Arc::new(knoema::Knoema::new(core.clone())),
        Arc::new(opinum::Opinum::new(core.clone())?),
        Arc::new(openenergy::OpenEnergy::new(core.clone())?),
    ])
}
